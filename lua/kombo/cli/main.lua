--- kombo-attach: uploads the rows of a manifest with `client:attach_many`,
-- journaled so that no crash duplicates an upload (bin/kombo-attach runs
-- `main.run(arg)` and exits with what it returns).  README "kombo-attach".
local kombo = require "kombo"
local core = require "kombo.core"
local errors = require "kombo.errors"
local manifest = require "kombo.cli.manifest"
local journal = require "kombo.cli.journal"
local progress = require "kombo.cli.progress"

local main = {}

local format, concat = string.format, table.concat

main.EXIT = { ok = 0, failed = 1, usage = 2, signal = 130 }

local USAGE = [[
Usage: kombo-attach [options] MANIFEST

Uploads each row of MANIFEST (CSV with a header row, or JSON Lines) to Kombo
as an attachment of a candidate or an application.  Columns / keys:
candidate_id or application_id, file or data_url, type (CV, COVER_LETTER,
OTHER), and optionally name, content_type, integration_id.  A file path is
relative to the manifest's directory unless absolute.

Options:
  --concurrency N       uploads in flight at once (1..30, default 8)
  --journal FILE        the journal (default MANIFEST.journal); a rerun with it
                        skips rows that were done and settles unfinished ones
  --dry-run             check every row (and with --preflight the
                        integration's restrictions) and upload nothing
  --preflight           check uploads against the integration's restrictions
  --integration-id ID   for rows without an integration_id (default $KOMBO_INTEGRATION_ID)
  --server-url URL      Kombo's API (default $KOMBO_SERVER_URL, else https://api.kombo.dev/v1)
  --json                the report as JSON on stdout
  --quiet               no progress; report only what went wrong
  --help, --version

The API key comes from $KOMBO_API_KEY.  Exit status: 0 every row done,
1 some failed, 2 a usage or manifest error (or a bad row), 130 after a signal.
]]

local OPTIONS = { -- name -> takes a value
  concurrency = true, journal = true, ["integration-id"] = true, ["server-url"] = true,
  ["dry-run"] = false, preflight = false, json = false, quiet = false, help = false, version = false,
}

--- Parses the command line.  Values are never echoed in errors: a key
-- typed in the wrong place must not end up on the screen.
-- @return opts, or nil, message
function main.parse_args(argv)
  local opts, positional, i = {}, {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positional[#positional + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local takes = OPTIONS[name]
      if takes == nil then
        return nil, format("unknown option '--%s'", name:gsub("[^%w%-]", "?"))
      end
      if takes then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, format("option '--%s' needs a value", name) end
        end
        opts[name] = value
      else
        if value ~= nil then return nil, format("option '--%s' takes no value", name) end
        opts[name] = true
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option (options start with --; see --help)"
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  if opts.help or opts.version then return opts end
  if #positional ~= 1 then
    return nil, format("expected one MANIFEST, got %d arguments", #positional)
  end
  opts.manifest = positional[1]
  if opts.concurrency then
    local n = tonumber(opts.concurrency)
    if not n or n ~= math.floor(n) or n < 1 or n > 30 then
      return nil, "option '--concurrency' must be a whole number from 1 to 30"
    end
    opts.concurrency = math.floor(n)
  end
  for _, k in ipairs { "journal", "integration-id", "server-url" } do
    if opts[k] == "" then return nil, format("option '--%s' must not be empty", k) end
  end
  return opts
end

-- Everything printed goes through here: no API key in any output, should
-- one ever reach a message (the library redacts its errors already).  A
-- JSON text (`json` true) is redacted inside its strings only, so that it
-- stays valid JSON whatever the key.
local function printer(key)
  return function(stream, s, json)
    stream:write(((json and errors.redact_json or errors.redact)(s, key)))
  end
end

local function message_of(err)
  return tostring(err.message or err):gsub("[\r\n]+", " ")
end

---------------------------------------------------------------- the run

local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

-- Fetches restrictions once per integration and target.
local function restrictions_checker(client)
  local cache = {}
  return function(row)
    local job = row.job
    local integ = job.integration_id
    local ck = integ .. "\0" .. row.target
    local entry = cache[ck]
    if not entry then
      local res, err = client:attachment_restrictions(row.target, { integration_id = integ })
      entry = { value = res and res.data.attachment_restrictions, err = err }
      cache[ck] = entry
    end
    if entry.err then
      return { "preflight: the integration's restrictions could not be fetched: " .. message_of(entry.err) }
    end
    local r = entry.value
    if r == nil or r == kombo.null or type(r.types) ~= "table" then return {} end
    local a = job.body.attachment
    local rule = r.types[a.type]
    if type(rule) ~= "table" then return {} end
    local bad = {}
    if rule.is_supported == false then
      bad[#bad + 1] = format("preflight: type %s is not supported by the integration", a.type)
    end
    local max = rule.max_file_size_bytes
    if a.file and type(max) == "number" and row.size > max then
      bad[#bad + 1] = format("preflight: %d bytes is above the integration's limit of %d", row.size, max)
    end
    local accepted = rule.accepted_mime_types
    if type(accepted) == "table" and a.content_type then
      local base, ok = a.content_type:lower():match("^[^;%s]+"), false
      for _, m in ipairs(accepted) do
        if type(m) == "string" and m:lower() == base then ok = true end
      end
      if not ok then
        bad[#bad + 1] = format("preflight: content_type %s is not accepted by the integration", a.content_type)
      end
    end
    return bad
  end
end

local function new_client(opts, preflight)
  local ok, client = pcall(kombo.new, {
    api_key = env("KOMBO_API_KEY"), server_url = opts["server-url"], preflight = preflight or nil,
  })
  if not ok then return nil, tostring(client):gsub("^bad argument #1 to 'new' %((.*)%)$", "%1") end
  return client
end

--- Runs kombo-attach.  `argv` is the script's `arg`; `io` may be replaced
-- by `{ stdout =, stderr = }` (tests).  Returns the exit status.
function main.run(argv, streams)
  streams = streams or {}
  local stdout, stderr = streams.stdout or io.stdout, streams.stderr or io.stderr
  local key = env("KOMBO_API_KEY")
  local put = printer(key)
  local function usage_error(msg)
    put(stderr, "kombo-attach: " .. msg .. "\nTry 'kombo-attach --help'.\n")
    return main.EXIT.usage
  end

  local opts, perr = main.parse_args(argv)
  if not opts then return usage_error(perr) end
  if opts.help then put(stdout, USAGE) return main.EXIT.ok end
  if opts.version then put(stdout, "kombo-attach (kombo-lua) " .. kombo.VERSION .. "\n") return main.EXIT.ok end

  local json = opts.json
  local report = { manifest = opts.manifest, dry_run = opts["dry-run"] == true }
  local function emit_json(exit)
    report.exit = exit
    for _, k in ipairs { "failures", "warnings", "bad" } do -- [] rather than {}
      if report[k] and #report[k] == 0 then report[k] = kombo.empty_array end
    end
    put(stdout, assert(kombo.encode_json(report)) .. "\n", true)
    return exit
  end
  local function fatal(msg) -- a manifest, journal or setup error: exit 2
    if json then
      report.error = msg
      emit_json(main.EXIT.usage)
    end
    put(stderr, "kombo-attach: " .. msg .. "\n")
    return main.EXIT.usage
  end

  -- 1. The manifest, every row checked.
  local rows, fmt = manifest.read(opts.manifest)
  if not rows then return fatal(opts.manifest .. ": " .. fmt) end
  report.format = fmt
  local ctx = { dir = manifest.dirname(opts.manifest), integration_id = opts["integration-id"]
                or env("KOMBO_INTEGRATION_ID") }
  local bad = {}
  for _, row in ipairs(rows) do
    local reasons = manifest.check(row, ctx)
    if #reasons > 0 then bad[#bad + 1] = { line = row.line, reasons = reasons } end
  end
  manifest.assign_keys(rows)

  local client
  if opts["dry-run"] and opts.preflight and #bad < #rows then
    local cerr
    client, cerr = new_client(opts)
    if not client then return fatal(cerr) end
    local check = restrictions_checker(client)
    for _, row in ipairs(rows) do
      if row.job then
        local reasons = check(row)
        if #reasons > 0 then bad[#bad + 1] = { line = row.line, reasons = reasons } end
      end
    end
    table.sort(bad, function(x, y) return x.line < y.line end)
  end

  local function list_bad(stream)
    for _, b in ipairs(bad) do
      put(stream, format("  line %d: %s\n", b.line, concat(b.reasons, "; ")))
    end
  end

  report.rows = #rows
  if opts["dry-run"] then
    report.bad = bad
    report.good = #rows - #bad
    local exit = #bad > 0 and main.EXIT.usage or main.EXIT.ok
    if json then return emit_json(exit) end
    if #bad > 0 then
      put(stdout, format("%s: %d of %d rows are bad (nothing was uploaded):\n", opts.manifest, #bad, #rows))
      list_bad(stdout)
    elseif not opts.quiet then
      put(stdout, format("%s: all %d rows are good%s (dry run: nothing was uploaded)\n", opts.manifest, #rows,
        opts.preflight and ", restrictions included" or ""))
    end
    return exit
  end
  if #bad > 0 then -- nothing is sent from a manifest with bad rows
    if json then
      report.bad = bad
      report.error = "bad rows in the manifest"
      return emit_json(main.EXIT.usage)
    end
    put(stderr, format("kombo-attach: %s: %d of %d rows are bad, nothing was uploaded:\n", opts.manifest,
      #bad, #rows))
    list_bad(stderr)
    return main.EXIT.usage
  end

  -- 2. The client and the journal.
  local cerr
  client, cerr = new_client(opts, opts.preflight)
  if not client then return fatal(cerr) end
  local jpath = opts.journal or (opts.manifest .. ".journal")
  report.journal = jpath
  local state, jinfo = journal.load(jpath)
  if not state then return fatal(jinfo) end
  local j, jerr = journal.open(jpath, jinfo)
  if not j then return fatal(jerr) end
  report.journal_torn_line = jinfo.torn or nil

  core.watch_signals()
  local function stop()
    local n = core.signals_caught()
    if n >= 2 then return "abort" elseif n == 1 then return "drain" end
    return nil
  end

  local counts = { rows = #rows, uploaded = 0, failed = 0, skipped = 0, found = 0, not_started = 0 }
  report.counts = counts
  local failures, warnings = {}, {}
  report.failures, report.warnings = failures, warnings
  local function add_failure(row, err, stage)
    failures[#failures + 1] = {
      line = row.line, stage = stage, kind = err.kind, outcome = err.outcome, status = err.status,
      code = err.code, message = message_of(err), log_url = err.log_url,
    }
    counts.failed = counts.failed + 1
  end

  -- 3. What the journal says: done rows are skipped; rows that were sent
  -- (or may have been) without a known end are settled first.
  local todo, settle = {}, {}
  for _, row in ipairs(rows) do
    local e = state[row.key]
    if e and (e.event == "done" or e.event == "found") then
      counts.skipped = counts.skipped + 1
    elseif e and (e.event == "started" or (e.event == "failed" and e.outcome == "unknown")) then
      settle[#settle + 1] = row
    else
      todo[#todo + 1] = row
    end
  end
  local settled_todo = {}
  for i, row in ipairs(settle) do
    if stop() then
      counts.not_started = counts.not_started + #settle - i + 1
      break
    end
    local found, err = client:attachment_exists(row.job)
    if found == true then
      j:found(row)
      counts.found = counts.found + 1
    elseif found == false then
      settled_todo[#settled_todo + 1] = row
    else
      add_failure(row, err, "settle")
    end
  end
  -- Settled rows go first: they were the earliest in the last run.
  for _, row in ipairs(todo) do settled_todo[#settled_todo + 1] = row end
  todo = settled_todo

  -- 4. The uploads.
  local bytes_total = 0
  for _, row in ipairs(todo) do bytes_total = bytes_total + row.size end
  local bar = (not opts.quiet) and progress.new {
    total = #todo, out = stderr, tty = core.isatty(2), now = core.now,
  } or nil
  local taken, by_index = 0, {}
  local summary, last_stats
  if #todo > 0 and not stop() then
    local function next_job()
      if taken >= #todo or stop() then return nil end
      taken = taken + 1
      local row = todo[taken]
      j:started(row) -- before attach_many sees it: it is sent only after this returns
      by_index[taken] = row
      return row.job
    end
    local function on_result(index, res, err)
      local row = by_index[index]
      by_index[index] = nil
      if res then
        j:done(row, res.data and res.data.id)
        counts.uploaded = counts.uploaded + 1
        if type(res.warnings) == "table" then
          for _, w in ipairs(res.warnings) do
            warnings[#warnings + 1] = { line = row.line, message = tostring(type(w) == "table" and w.message or w) }
          end
        end
      else
        j:failed(row, err)
        add_failure(row, err, "upload")
      end
    end
    local ok, s = pcall(client.attach_many, client, next_job, {
      concurrency = opts.concurrency, on_result = on_result, stop = stop,
      on_progress = bar and function(stats) last_stats = stats; bar:update(stats) end or nil,
    })
    if not ok then
      if bar then bar:clear() end
      j:close()
      return fatal("the run stopped: " .. tostring(s))
    end
    summary = s
    if bar and last_stats then bar:update(last_stats, true) end
    report.retries, report.elapsed, report.stopped = s.retries, s.elapsed, s.stopped
  end
  counts.not_started = counts.not_started + (#todo - taken)
  j:close()
  report.bytes = bytes_total

  -- 5. The report.
  local signalled = core.signals_caught() > 0
  local exit = signalled and main.EXIT.signal or (counts.failed > 0 and main.EXIT.failed or main.EXIT.ok)
  report.signalled = signalled or nil
  table.sort(failures, function(x, y) return x.line < y.line end)
  if json then return emit_json(exit) end
  local out = stdout
  if not opts.quiet or exit ~= main.EXIT.ok then
    local parts = { format("%d uploaded", counts.uploaded) }
    if counts.failed > 0 then parts[#parts + 1] = format("%d failed", counts.failed) end
    if counts.skipped > 0 then parts[#parts + 1] = format("%d done before (journal)", counts.skipped) end
    if counts.found > 0 then parts[#parts + 1] = format("%d found already uploaded", counts.found) end
    if counts.not_started > 0 then parts[#parts + 1] = format("%d not started", counts.not_started) end
    put(out, format("%s: %d rows: %s%s\n", opts.manifest, #rows, concat(parts, ", "),
      summary and format(" in %.2f s", summary.elapsed or 0) or ""))
    for _, f in ipairs(failures) do
      put(out, format("  failed: line %d: %s%s%s: %s%s\n", f.line, f.kind or "?",
        f.code and (" " .. f.code) or "", f.status and format(" (HTTP %d)", f.status) or "", f.message,
        f.log_url and (" (log: " .. f.log_url .. ")") or ""))
    end
    for _, w in ipairs(warnings) do put(out, format("  warning: line %d: %s\n", w.line, w.message)) end
    if signalled then
      put(out, format("stopped by a signal (%s); rerun the same command to go on\n",
        summary and summary.stopped or "before the uploads"))
    end
    if jinfo.torn then put(out, "note: the journal's last line was torn (cut off by a crash) and was ignored\n") end
  end
  return exit
end

return main
