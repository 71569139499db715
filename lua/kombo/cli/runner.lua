--- The run that kombo-attach and kombo apply share: one request per row of
-- a manifest, sent by the library's batch (attach_many, run_many) and
-- journaled so that no crash sends a create twice and none is silently
-- skipped.  What differs between the two commands is a `kind` table
-- (lua/kombo/cli/main.lua's ATTACH, lua/kombo/cli/apply.lua's APPLY): the
-- manifest's columns, a row's job and identity, the journal's first line,
-- the settle, the batch and the words.  README "kombo-attach" and
-- "kombo apply".
--
-- A kind has:
--   command, usage, unit (progress), words (messages), journal (journal.ATTACH / APPLY),
--   schema (manifest.open's), paths ({ csv = {columns}, json = {paths} }: file paths, for
--   the failed-rows file)
--   check(row, ctx, known) -> reasons          a row's job, id, size (and digest)
--   validator(client, opts, dry) -> fn(job)    the library's own validation (ctx.validate)
--   header(reader, client) -> message | nil    a CSV header the library would refuse (optional)
--   dry_checker(client, on_note) -> fn(row)    a dry run's --preflight (optional)
--   settle(client, rows, claimed, opts)        verdicts: found / unknown / stopped
--   batch(client, next_job, opts)              attach_many or run_many
--   existing(err) -> bool                      an answer saying it is there already (optional)
--   check_written(row, info) -> message | nil  before a request's last bytes go (optional)
--   json_result(entry) -> table                a --json result row (optional: as it is)
local kombo = require "kombo"
local core = require "kombo.core"
local manifest = require "kombo.cli.manifest"
local journal = require "kombo.cli.journal"
local progress = require "kombo.cli.progress"
local report_file = require "kombo.cli.report"
local common = require "kombo.cli.common" -- the option parser, the printer, env

local runner = {}

local format, concat = string.format, table.concat

runner.EXIT = { ok = 0, failed = 1, usage = 2, signal = 130 }
local EXIT = runner.EXIT

local OPTIONS = { -- name -> takes a value
  concurrency = true, journal = true, ["integration-id"] = true, ["server-url"] = true, timeout = true,
  ["resend-unknown"] = false, ["dry-run"] = false, preflight = false, json = false, quiet = false, help = false,
  version = false, report = true, ["report-failed"] = true,
}

--- Parses the command line.  Values are never echoed in errors: a key
-- typed in the wrong place must not end up on the screen.
-- @return opts, or nil, message
function runner.parse_args(argv)
  local opts, positional = common.parse(argv, OPTIONS)
  if not opts then return nil, positional end
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
  if opts.timeout then
    local n = tonumber(opts.timeout)
    if not n or n ~= n or n <= 0 or n > 86400 then
      return nil, "option '--timeout' must be a number of seconds above 0 (at most 86400)"
    end
    opts.timeout = n
  end
  for _, k in ipairs { "journal", "integration-id", "server-url", "report", "report-failed" } do
    if opts[k] == "" then return nil, format("option '--%s' must not be empty", k) end
  end
  if opts.report and not report_file.format_of(opts.report) then
    return nil, "option '--report' must name a .csv, .json or .jsonl file"
  end
  for _, k in ipairs { "report", "report-failed" } do
    if opts[k] and (opts[k] == opts.manifest or opts[k] == opts.journal) then
      return nil, format("option '--%s' must not name the manifest or the journal", k)
    end
  end
  if opts.report and opts.report == opts["report-failed"] then
    return nil, "options '--report' and '--report-failed' must name two files"
  end
  return opts
end

local printer = common.printer

-- Errors about the key or the integration: every other row would fail the
-- same way, so the run stops after the first such answer (exit 2).
runner.FATAL_CODES = {
  ["PLATFORM.AUTHENTICATION_INVALID"] = "check KOMBO_API_KEY",
  ["PLATFORM.INTEGRATION_NOT_FOUND"] = "check the integration id",
  ["PLATFORM.IP_NOT_WHITELISTED"] = "allow this machine's IP address in Kombo",
  ["INTEGRATION.AUTHENTICATION_INVALID"] = "the integration's credentials in the ATS need renewing",
  ["INTEGRATION.INACTIVE"] = "the integration is inactive",
}
local FATAL_CODES = runner.FATAL_CODES

function runner.message_of(err)
  return tostring(err.message or err):gsub("[\r\n]+", " ")
end
local message_of = runner.message_of

local env = common.env

-- The client.  A dry run without --preflight sends nothing, so it needs no
-- key: its client (which only validates) gets a placeholder that never
-- leaves the process.
local function new_client(opts, preflight, sends_nothing)
  local key = env("KOMBO_API_KEY")
  if not key and sends_nothing then key = "dry-run-never-sent" end
  return common.client({
    api_key = key, server_url = opts["server-url"], preflight = preflight or nil,
    timeout = opts.timeout,
  }, opts)
end

-- Reads the journal under its lock: lock, text, exists; or nil, message.
-- A journal that is not a regular file (a FIFO would block the run) is
-- refused before it is opened.
local function take_journal(jpath, command)
  local lock, lerr = core.lock(jpath .. ".lock")
  if not lock then
    return nil, format("the journal %s is in use: %s (another %s run of this journal?)", jpath,
      tostring(lerr), command)
  end
  -- core.file_info: the library's rule for a file it reads (a regular file,
  -- opened without waiting on a FIFO).
  local size, why, kind = core.file_info(jpath)
  local exists = size ~= nil
  if not size and kind ~= "missing" then
    lock:unlock()
    return nil, format("the journal %s %s", jpath, tostring(why))
  end
  local text = ""
  if exists then
    local f, err = io.open(jpath, "rb")
    if not f then lock:unlock() return nil, "cannot read the journal: " .. tostring(err) end
    text = f:read("*a") or ""
    f:close()
  end
  return lock, text, exists
end

-- A manifest read twice (a check pass, then the requests) must be a file:
-- standard input ("-") or a named pipe is copied to a temporary file first
-- (removed at the end, or by `cleanup` when the copy fails or a signal
-- stops it).  A device, a socket or a directory is refused.
-- Returns the path to read and the temporary one to remove (or nil); or
-- nil, message.
local function spooled(path, on_tmp)
  if path ~= "-" then
    local size, why, kind = core.file_info(path)
    if size or kind == "missing" then return path end -- (manifest.open says what is wrong)
    if kind ~= "fifo" then return nil, path .. " " .. tostring(why) end
  end
  local src, err = io.stdin, nil
  if path ~= "-" then src, err = io.open(path, "rb") end
  if not src then return nil, "cannot open the manifest: " .. tostring(err) end
  local tmp = os.tmpname()
  on_tmp(tmp)
  local dst, derr = io.open(tmp, "wb")
  if not dst then return nil, "cannot spool the manifest: " .. tostring(derr) end
  local ok, werr = true, nil
  while ok do
    if core.signals_caught() > 0 then ok, werr = false, "stopped by a signal" break end
    local chunk = src:read(65536)
    if not chunk then break end
    ok, werr = dst:write(chunk)
  end
  local cok, cerr = dst:close()
  if src ~= io.stdin then src:close() end
  if not ok or not cok then
    return nil, "cannot spool the manifest to " .. tmp .. ": " .. tostring(werr or cerr)
  end
  return tmp, nil, tmp
end

--- Runs a command of `kind` (above).  `argv` is the script's `arg`;
-- `streams` may replace `{ stdout =, stderr = }` (tests).  Returns the exit
-- status.
--
-- Memory does not grow with the manifest's rows beyond a compact index: a
-- first pass reads the manifest a row at a time, checks each row and keeps
-- only the identities (for duplicates and the journal) and the digests of
-- the rows to send; the requests read it again.  (--report keeps a line per
-- row's outcome; --report-failed reads the manifest a third time.)
function runner.run(kind, argv, streams)
  streams = streams or {}
  local stdout, stderr = streams.stdout or io.stdout, streams.stderr or io.stderr
  local key = env("KOMBO_API_KEY")
  local put = printer(key)
  local words, command = kind.words, kind.command
  local function usage_error(msg)
    put(stderr, command .. ": " .. msg .. "\nTry '" .. command .. " --help'.\n")
    return EXIT.usage
  end

  local opts, perr = runner.parse_args(argv)
  if not opts then return usage_error(perr) end
  if opts.help then put(stdout, kind.usage) return EXIT.ok end
  if opts.version then put(stdout, command .. " (kombo-lua) " .. kombo.VERSION .. "\n") return EXIT.ok end
  local dry = opts["dry-run"] == true
  if opts.manifest == "-" and not dry and not opts.journal then
    return usage_error("a manifest on standard input needs --journal FILE")
  end

  local json = opts.json
  local report = { manifest = opts.manifest, dry_run = dry }
  local notes = {}
  local cleanup = {} -- run at every exit: the lock, the journal, a spooled manifest
  local function done(exit)
    for i = #cleanup, 1, -1 do cleanup[i]() end
    cleanup = {}
    return exit
  end
  local results -- (below)
  local function emit_json(exit)
    report.exit = exit
    report.notes = notes
    if report.results then -- the rows' outcomes, as the command's --json gives them
      local out = {}
      for _, r in ipairs(results) do
        local shown = kind.json_result and kind.json_result(r) or r
        if shown then out[#out + 1] = shown end
      end
      table.sort(out, function(x, y) return x.line < y.line end)
      report.results = out
    end
    if report.unknown then -- (the printed sentence: reason and code are the data)
      local data = {}
      for i, u in ipairs(report.unknown) do data[i] = { line = u.line, reason = u.reason, code = u.code } end
      report.unknown = data
    end
    for _, k in ipairs { "failures", "warnings", "bad", "unknown", "notes", "duplicates", "results" } do
      if report[k] and #report[k] == 0 then report[k] = kombo.empty_array end -- [] rather than {}
    end
    put(stdout, assert(kombo.encode_json(report)) .. "\n", true)
    return exit
  end
  local function fatal(msg) -- a manifest, journal or setup error: exit 2
    if json then
      report.error = msg
      emit_json(EXIT.usage)
    end
    put(stderr, command .. ": " .. msg .. "\n")
    return done(EXIT.usage)
  end

  -- Signals are counted from here (a Ctrl-C stops a long first pass or a
  -- settle cleanly, and the cleanup runs).
  core.watch_signals()
  local mpath, serr = spooled(opts.manifest, function(tmp)
    cleanup[#cleanup + 1] = function() os.remove(tmp) end
  end)
  if not mpath then return fatal(serr) end
  -- The manifest is opened before anything is created beside it: a
  -- mistyped argument leaves no journal or lock file behind.
  local reader, rerr = manifest.open(mpath, kind.schema)
  if not reader then return fatal(opts.manifest .. ": " .. rerr) end
  cleanup[#cleanup + 1] = function() reader:close() end
  if opts["report-failed"] and report_file.format_mismatch(opts["report-failed"], reader.format) then
    return fatal("--report-failed " .. report_file.format_mismatch(opts["report-failed"], reader.format))
  end
  -- A report that cannot be written is found now, before anything is sent.
  for _, k in ipairs { "report", "report-failed" } do
    local werr = opts[k] and report_file.writable(opts[k])
    if werr then return fatal(format("--%s %s cannot be written: %s", k, opts[k], werr)) end
  end
  -- Its digest: the second pass must read the same manifest.
  local mdigest = core.sha256_file(mpath)
  local ctx = { dir = opts.manifest == "-" and "." or manifest.dirname(opts.manifest),
                integration_id = opts["integration-id"] or env("KOMBO_INTEGRATION_ID") }

  -- The client, and in a real run the journal, read under its lock.
  local client, cerr = new_client(opts, (not dry) and opts.preflight, dry and not opts.preflight)
  if not client then return fatal(cerr) end
  ctx.validate = kind.validator(client, opts, dry)
  if kind.header then
    local herr = kind.header(reader, client)
    if herr then return fatal(opts.manifest .. ": " .. herr) end
  end
  local jpath, lock, jtext, jexists, state, jinfo
  if not dry then
    jpath = opts.journal or (opts.manifest .. ".journal")
    report.journal = jpath
    lock, jtext, jexists = take_journal(jpath, command)
    if not lock then return fatal(jtext) end
    cleanup[#cleanup + 1] = function() lock:unlock() end
    state, jinfo = journal.parse(jtext, jpath, kind.journal)
    if not state then return fatal(jinfo) end
    jtext = jexists and jtext or nil
    if jinfo.format == 1 then
      notes[#notes + 1] = "the journal was written by an earlier kombo-attach (format 1); new events are format 2"
    end
  end

  local DONE = words.done -- "uploaded" (kombo-attach), "created" (kombo apply)
  local counts = { rows = 0, [DONE] = 0, failed = 0, skipped = 0, found = 0, unknown = 0,
                   duplicates = 0, not_started = 0 }
  if kind.existing then counts.existing = 0 end
  local failures, warnings, unknown, duplicates, bad = {}, {}, {}, {}, {}
  -- Per row, for --json and --report: { line, status, via, id, code, message, ... }, status in the
  -- report's words (DONE, existing, failed, unknown, skipped).
  results = (json or opts.report or opts["report-failed"]) and {} or nil
  local function result(r) if results then results[#results + 1] = r end end
  local function add_failure(row, err, stage)
    failures[#failures + 1] = {
      line = row.line, stage = stage or words.stage, kind = err.kind, outcome = err.outcome, status = err.status,
      code = err.code, message = message_of(err), log_url = err.log_url,
    }
    counts.failed = counts.failed + 1
    result { line = row.line, status = "failed", kind = err.kind, outcome = err.outcome, code = err.code,
             message = message_of(err) }
  end
  -- `text`: the whole sentence (the report's message); `reason`: the --json's.
  local function add_unknown(row, reason, err, text)
    counts.unknown = counts.unknown + 1
    unknown[#unknown + 1] = { line = row.line, reason = reason, code = err and err.code, text = text or reason }
    result { line = row.line, status = "unknown", reason = reason, code = err and (err.code or err.kind),
             message = text or reason }
  end

  -- 1. The first pass: every row checked, one at a time.
  report.format = reader.format
  local check_restrictions
  if dry and opts.preflight and kind.dry_checker then
    local noted = {}
    check_restrictions = kind.dry_checker(client, function(n)
      if not noted[n] then noted[n] = true; notes[#notes + 1] = n end
    end)
  end
  local first_line = {}           -- identity -> the line of its first row (duplicates)
  local plan, to_send, bytes_total = {}, 0, 0 -- row index -> digest (or true): the rows to send
  local to_settle = {}            -- rows written whole without an answer (few: kept whole)
  local claimed = {}              -- created ids the journal gives to rows
  local lines = opts.report and {} or nil -- row index -> line (the report has a line per row)
  local legacy_seen, legacy_matched = jinfo and jinfo.format == 1 and {} or nil, {}
  if state then
    for _, e in pairs(state) do
      if (e.event == "done" or e.event == "found") and e.attachment then claimed[e.attachment] = true end
    end
  end
  local function done_before(row, e)
    counts.skipped = counts.skipped + 1
    result { line = row.line, status = "existing", via = "journal", id = e.attachment,
             message = "done before: the journal has it (" .. e.event .. ")" }
  end
  local index = 0
  -- A format 1 journal keyed identical rows apart (h.1, h.2); they are one
  -- row now.  A duplicate's old events count for the row it repeats: done
  -- or found there makes the row done; sent without an answer makes it one
  -- to settle.
  local first_of = {} -- identity -> { index =, what = } of its first row
  local function adopt_duplicate(row)
    local k = manifest.legacy_key(row, legacy_seen)
    local e = k and jinfo.v1[k]
    if not e then return end
    legacy_matched[k] = true
    local first = first_of[row.id]
    if not first or first.what == "skip" then return end
    if e.event == "done" or e.event == "found" then
      state[row.id] = e
      if first.what == "send" then
        plan[first.index], to_send, bytes_total = nil, to_send - 1, bytes_total - row.size
      else
        for i = #to_settle, 1, -1 do if to_settle[i].id == row.id then table.remove(to_settle, i) end end
      end
      first.what = "skip"
      done_before({ line = first.line }, e)
    elseif first.what == "send" and journal.disposition(e.event == "started" and { event = "started",
      written = { time = nil } } or e) == "settle" then
      plan[first.index], to_send, bytes_total = nil, to_send - 1, bytes_total - row.size
      row.written = e.written or { time = nil }
      row.line = first.line
      to_settle[#to_settle + 1] = row
      first.what = "settle"
    end
  end
  while true do
    if core.signals_caught() > 0 then
      put(stderr, format("%s: stopped by a signal while checking the manifest; %s\n", command, words.nothing))
      return done(EXIT.signal)
    end
    local row, err = reader:next()
    if not row then
      reader:close()
      if err then return fatal(opts.manifest .. ": " .. err) end
      break
    end
    index = index + 1
    if lines then lines[index] = row.line end
    local reasons = kind.check(row, ctx)
    if #reasons == 0 and first_line[row.id] then
      duplicates[#duplicates + 1] = { line = row.line, same_as = first_line[row.id] }
      if legacy_seen then adopt_duplicate(row) end
    elseif #reasons == 0 then
      first_line[row.id] = row.line
      if check_restrictions then
        local fatal_err
        reasons, fatal_err = check_restrictions(row)
        if fatal_err then
          reader:close()
          return fatal(format("line %d: %s: %s (%s)", row.line, tostring(fatal_err.code), message_of(fatal_err),
            FATAL_CODES[fatal_err.code]))
        end
      end
    end
    if #reasons > 0 then
      bad[#bad + 1] = { line = row.line, reasons = reasons }
    elseif state and first_line[row.id] == row.line then
      if legacy_seen then
        local k = manifest.legacy_key(row, legacy_seen)
        local e = k and jinfo.v1[k]
        if e then
          legacy_matched[k] = true
          if e.event == "started" then e.written = { time = nil } end -- it may have gone out whole
          if not state[row.id] then state[row.id] = e end
        end
      end
      local e = state[row.id]
      local what = journal.disposition(e)
      first_of[row.id] = { index = index, what = what, line = row.line }
      if what == "skip" then
        done_before(row, e)
      elseif what == "settle" then
        row.written = e.written
        to_settle[#to_settle + 1] = row
      else
        plan[index] = row.digest or true
        to_send = to_send + 1
        bytes_total = bytes_total + row.size
      end
    end
  end
  if index == 0 then return fatal(opts.manifest .. ": the manifest has no rows") end
  counts.rows, counts.duplicates = index, #duplicates
  report.rows, report.duplicates = index, duplicates
  table.sort(bad, function(x, y) return x.line < y.line end)

  local function list_bad(stream)
    for _, b in ipairs(bad) do
      put(stream, format("  line %d: %s\n", b.line, concat(b.reasons, "; ")))
    end
  end
  local function list_duplicates(stream)
    for _, d in ipairs(duplicates) do
      put(stream, format("  line %d: " .. words.duplicate .. "\n", d.line, d.same_as))
    end
  end

  -- The report files: --report (a line per row) and --report-failed (the
  -- failed rows in the manifest's own form).  `otherwise` is what a row
  -- without an outcome is (not started, not sent: a dry run, bad rows).
  local function write_reports(otherwise)
    local by_line = {}
    for _, r in ipairs(results or {}) do by_line[r.line] = r end
    for _, d in ipairs(duplicates) do
      by_line[d.line] = { line = d.line, status = "skipped", via = "duplicate",
                          message = format(words.duplicate, d.same_as) }
    end
    for _, b in ipairs(bad) do
      by_line[b.line] = { line = b.line, status = "failed", code = "validation", message = concat(b.reasons, "; ") }
    end
    local failed_lines = {}
    for line, r in pairs(by_line) do
      if r.status == "failed" then failed_lines[line] = true end
    end
    local ok, werr = true, nil
    if opts.report then
      ok, werr = report_file.write(opts.report, lines, function(line)
        return report_file.row(by_line[line] or { line = line, status = "skipped", message = otherwise })
      end, key)
    end
    if ok and opts["report-failed"] then
      -- (read a third time: the rows' text is kept nowhere)
      local again
      if core.sha256_file(mpath) ~= mdigest then
        ok, werr = false, "the manifest changed during the run"
      else
        again, werr = manifest.open(mpath, kind.schema)
        ok = again ~= nil
      end
      if ok then
        ok, werr = report_file.write_rows(opts["report-failed"], again, failed_lines,
          { dir = ctx.dir, paths = kind.paths }, key)
        again:close()
      end
    end
    if not ok then
      put(stderr, format("%s: the report could not be written: %s\n", command, tostring(werr)))
      notes[#notes + 1] = "the report could not be written: " .. tostring(werr)
    end
  end

  if dry then
    report.bad = bad
    report.good = index - #bad
    local exit = #bad > 0 and EXIT.usage or EXIT.ok
    write_reports("dry run: the row is good; nothing was sent")
    if json then return done(emit_json(exit)) end
    if #bad > 0 then
      put(stdout, format("%s: %d of %d rows are bad (%s):\n", opts.manifest, #bad, index, words.nothing))
      list_bad(stdout)
    elseif not opts.quiet then
      put(stdout, format("%s: all %d rows are good%s (dry run: %s)\n", opts.manifest, index,
        opts.preflight and ", restrictions included" or "", words.nothing))
    end
    if not opts.quiet then list_duplicates(stdout) end
    for _, n in ipairs(notes) do put(stdout, "note: " .. n .. "\n") end
    return done(exit)
  end
  if #bad > 0 then -- nothing is sent from a manifest with bad rows
    write_reports("not sent: the manifest has bad rows")
    if json then
      report.bad = bad
      report.error = "bad rows in the manifest"
      return done(emit_json(EXIT.usage))
    end
    put(stderr, format("%s: %s: %d of %d rows are bad, %s:\n", command, opts.manifest, #bad, index, words.nothing))
    list_bad(stderr)
    return done(EXIT.usage)
  end
  if legacy_seen then
    local unmatched = 0
    for k in pairs(jinfo.v1) do if not legacy_matched[k] then unmatched = unmatched + 1 end end
    if unmatched > 0 then
      return fatal(format("%s was written by an earlier kombo-attach (journal format 1), and %d of its rows "
        .. "do not match this manifest as given (that format depends on the manifest's path as typed and on "
        .. "the file paths); run it again exactly as the first time, with this kombo-attach, or move the "
        .. "journal away to start afresh", jpath, unmatched))
    end
  end

  -- 2. The journal, for appending.
  local j, jerr = journal.open(jpath, jtext, jinfo.format == 1, kind.journal)
  if not j then return fatal(jerr) end
  cleanup[#cleanup + 1] = function() j:close() end
  report.journal_torn_line = jinfo.torn or nil

  local journal_error, fatal_answer, in_flight, told = nil, nil, 0, 0
  local function stop()
    if journal_error then return "abort" end
    local n = core.signals_caught()
    if n > told and not opts.quiet then -- say what a Ctrl-C does, once each
      told = n
      if n == 1 then
        put(stderr, format("\n%s: stopping: %d %s in flight will finish; press Ctrl-C again to "
          .. "abort them (they may then be left unknown)\n", command, in_flight, words.requests))
      elseif n == 2 then
        put(stderr, format("\n%s: aborting the %s in flight\n", command, words.plural))
      end
    end
    if n >= 2 then return "abort" elseif n == 1 or fatal_answer then return "drain" end
    return nil
  end

  report.counts = counts
  report.failures, report.warnings, report.unknown, report.results = failures, warnings, unknown, results

  -- 3. Rows whose request went out whole and got no answer are settled:
  -- only evidence that they landed counts; without it a row is unknown and
  -- is sent again only with --resend-unknown.
  local resend = {}
  if #to_settle > 0 then
    -- Not while an earlier attempt could still be in flight: its own
    -- timeout since it began must have passed.
    local _, wall = core.now()
    local deadline = 0
    for _, row in ipairs(to_settle) do
      if row.written and row.written.deadline then deadline = math.max(deadline, row.written.deadline) end
    end
    if deadline > wall and not stop() then
      local wait = deadline - wall
      if not opts.quiet then
        put(stderr, format("waiting %.0f s before settling %d row(s): their last %s could still be in "
          .. "flight until their timeout ends\n", wait, #to_settle, words.plural))
      end
      local t0 = core.now()
      while core.now() - t0 < wait and not stop() do core.sleep(math.min(0.2, wait)) end
    end
    if not stop() then
      local verdicts = kind.settle(client, to_settle, claimed, { fetch_timeout = opts.timeout, stop = stop })
      for i, row in ipairs(to_settle) do
        local v = verdicts[i]
        if v.state == "stopped" then
          counts.not_started = counts.not_started + 1
          result { line = row.line, status = "skipped", via = "not_started", message = v.reason }
        elseif v.state == "found" then
          j:found(row, v.attachment)
          counts.found = counts.found + 1
          result { line = row.line, status = "existing", via = "settled", id = v.attachment, evidence = v.evidence,
                   message = v.reason }
        elseif opts["resend-unknown"] then
          row.resent = v.reason
          resend[#resend + 1] = row
          bytes_total = bytes_total + row.size
        else
          add_unknown(row, v.reason, v.error, format("%s went out whole and got no answer; %s", words.sent, v.reason))
        end
      end
    else
      counts.not_started = counts.not_started + #to_settle
      for _, row in ipairs(to_settle) do
        result { line = row.line, status = "skipped", via = "not_started",
                 message = "stopped by a signal before it was settled" }
      end
    end
  end

  -- 4. The requests: the rows sent again after a settle first (they were the
  -- earliest), then the manifest read a second time.  The journal records
  -- each attempt as it starts to go out ("sending") and, flushed, just
  -- before its last bytes are handed over ("written"): a row without the
  -- second never went out whole.
  local total = #resend + to_send
  local bar = (not opts.quiet) and progress.new {
    total = total, out = stderr, tty = core.isatty(2), now = core.now, prefix = command, unit = kind.unit,
  } or nil
  local taken, by_index = 0, {}
  local summary, last_stats
  local attempt_timeout = opts.timeout or core.defaults.timeout
  local function on_attempt(i, event, info)
    local row = by_index[i]
    local _, wall = core.now()
    local stopped_it = false
    local ok, err = pcall(function()
      if event == "sending" then
        row.attempt_started = wall
        j:sending(row, info.attempt, wall)
      elseif event == "written" then
        local changed = kind.check_written and kind.check_written(row, info)
        if changed then stopped_it = true; error(changed, 0) end
        j:written(row, info.attempt, wall, (row.attempt_started or wall) + attempt_timeout)
      end
    end)
    if not ok then
      if not stopped_it then journal_error = err end
      error(err, 0)
    end
    return true
  end
  -- A row to send again (--resend-unknown) that the run stopped before it
  -- went: still what its settle left it, unknown, not merely not started.
  local function record_unsent_resend(row)
    add_unknown(row, row.resent, nil, format("%s went out whole and got no answer; %s; the run stopped before "
      .. "sending it again", words.sent, row.resent))
  end
  local function record(i, res, err)
    local row = by_index[i]
    if not row then return end
    by_index[i] = nil
    if res then
      local id = res.data and res.data.id
      local ok, werr = pcall(j.done, j, row, id)
      if not ok then journal_error = journal_error or werr end
      counts[DONE] = counts[DONE] + 1
      result { line = row.line, status = DONE, id = id }
      if type(res.warnings) == "table" then
        for _, w in ipairs(res.warnings) do
          warnings[#warnings + 1] = { line = row.line, message = tostring(type(w) == "table" and w.message or w) }
        end
      end
    elseif err.not_started and row.resent then
      record_unsent_resend(row) -- (taken, never sent again)
    elseif err.not_started then
      -- taken but never sent (the run stopped first): left for the next run
      counts.not_started = counts.not_started + 1
      result { line = row.line, status = "skipped", via = "not_started", message = "not started: rerun to send it" }
    elseif kind.existing and kind.existing(err) then
      -- Kombo says it is there already: done, not a failure.
      local ok, werr = pcall(j.existing, j, row, nil)
      if not ok then journal_error = journal_error or werr end
      counts.existing = counts.existing + 1
      result { line = row.line, status = "existing", via = "answer", code = err.code, message = message_of(err) }
    else
      local ok = pcall(j.failed, j, row, err)
      if not ok then journal_error = journal_error or "cannot write the journal" end
      if FATAL_CODES[err.code] then
        if fatal_answer and fatal_answer.code == err.code then -- (the same error again: counted, not listed)
          counts.failed, fatal_answer.more = counts.failed + 1, fatal_answer.more + 1
          result { line = row.line, status = "failed", kind = err.kind, outcome = err.outcome, code = err.code,
                   message = message_of(err) }
          return
        end
        fatal_answer = fatal_answer or { code = err.code, line = row.line, err = err, more = 0 }
      end
      if err.outcome == "unknown" then
        -- It may have landed: settled by a rerun, never resent blindly.
        add_unknown(row, format("%s went out whole and no answer said what became of it (%s); a rerun with "
          .. "this journal settles it", words.sent, message_of(err)), err)
      elseif row.resent then
        -- This attempt was refused, but the earlier one was never disproven.
        add_unknown(row, format("an earlier request may have landed (%s); sent again, it failed: %s", row.resent,
          message_of(err)), err)
      else
        add_failure(row, err)
      end
    end
  end
  if total > 0 and not stop() and to_send > 0 and core.sha256_file(mpath) ~= mdigest then
    -- The second pass would read another manifest: its rows are not the
    -- ones checked (and identified).  Nothing from it is sent.
    return fatal(opts.manifest .. ": the manifest changed during the run; nothing more was sent "
      .. "(rerun to check it again)")
  end
  if total > 0 and not stop() then
    local second, resent, row_index = nil, 0, 0
    local ctx_again = { dir = ctx.dir, integration_id = ctx.integration_id }
    -- The next row to send, checked again (a file is still a regular file
    -- of its size; kombo-attach compares its bytes as they are sent), or nil.
    local function next_row()
      if resent < #resend then
        resent = resent + 1
        return resend[resent]
      end
      if not second then second = assert(manifest.open(mpath, kind.schema)) end
      while true do
        local row, err = second:next()
        if not row then
          second:close()
          if err then error(opts.manifest .. ": " .. err, 0) end
          return nil
        end
        row_index = row_index + 1
        local digest = plan[row_index]
        if digest then
          -- (no second validation: the batch validates the job itself)
          local reasons = kind.check(row, ctx_again, digest ~= true and digest or nil)
          if #reasons == 0 and first_line[row.id] ~= row.line then
            reasons = { "the manifest changed during the run" }
          end
          if #reasons == 0 then return row end
          add_failure(row, { kind = "validation", outcome = "not_sent", message = concat(reasons, "; ") }, "check")
          taken = taken + 1 -- (counted as handled: it will not be sent)
        end
      end
    end
    local function next_job()
      if stop() then return nil end
      local row = next_row()
      if not row then return nil end
      row.taken = true
      taken = taken + 1
      by_index[taken] = row
      return row.job
    end
    local ok, s = pcall(kind.batch, client, next_job, {
      concurrency = opts.concurrency, on_result = record, stop = stop, on_attempt = on_attempt,
      on_progress = function(stats)
        in_flight = stats.in_flight or 0
        -- (the batch counts every error; an existing row or an unknown one is not a failure)
        stats.failed = counts.failed
        if bar then last_stats = stats; bar:update(stats) end
      end,
    })
    if second then second:close() end
    if not ok then
      -- The batch reports, in the error, every job whose outcome it could
      -- not give to on_result: journal them before anything else.
      if type(s) == "table" and type(s.results) == "table" then
        for i, r in pairs(s.results) do
          if type(r) == "table" and r.kind ~= nil and r.data == nil then record(i, nil, r) else record(i, r, nil) end
        end
      end
      if bar then bar:clear() end
      return fatal("the run stopped: " .. tostring(type(s) == "table" and (s.message or s.cause) or s))
    end
    summary = s
    if bar and last_stats then bar:update(last_stats, true) end
    report.retries, report.elapsed, report.stopped = s.retries, s.elapsed, s.stopped
  end
  local left_unknown = 0
  for _, row in ipairs(resend) do
    if not row.taken then
      left_unknown = left_unknown + 1
      record_unsent_resend(row)
    end
  end
  counts.not_started = counts.not_started + (total - taken) - left_unknown
  report.bytes = bytes_total
  if journal_error then return fatal("the journal could not be written: " .. tostring(journal_error)) end
  write_reports("not started: rerun to send it")
  done()

  -- 5. The report.
  local signalled = core.signals_caught() > 0
  local exit = signalled and EXIT.signal
    or ((counts.failed > 0 or counts.unknown > 0 or counts.not_started > 0) and EXIT.failed or EXIT.ok)
  if fatal_answer and not signalled then
    exit = EXIT.usage
    report.error = format("stopped after the first answer: %s (%s)", fatal_answer.code, FATAL_CODES[fatal_answer.code])
  end
  report.signalled = signalled or nil
  table.sort(failures, function(x, y) return x.line < y.line end)
  table.sort(unknown, function(x, y) return x.line < y.line end)
  if json then return emit_json(exit) end
  local out = stdout
  if not opts.quiet or exit ~= EXIT.ok then
    local parts = { format("%d %s", counts[DONE], DONE) }
    if counts.existing and counts.existing > 0 then parts[#parts + 1] = format(words.existing, counts.existing) end
    if counts.failed > 0 then parts[#parts + 1] = format("%d failed", counts.failed) end
    if counts.skipped > 0 then parts[#parts + 1] = format("%d done before (journal)", counts.skipped) end
    if counts.found > 0 then parts[#parts + 1] = format(words.found, counts.found) end
    if counts.unknown > 0 then parts[#parts + 1] = format("%d unknown", counts.unknown) end
    if counts.duplicates > 0 then parts[#parts + 1] = format("%d duplicate rows", counts.duplicates) end
    if counts.not_started > 0 then parts[#parts + 1] = format("%d not started", counts.not_started) end
    put(out, format("%s: %d rows: %s%s\n", opts.manifest, index, concat(parts, ", "),
      summary and format(" in %.2f s", summary.elapsed or 0) or ""))
    for _, f in ipairs(failures) do
      put(out, format("  failed: line %d: %s%s%s: %s%s\n", f.line, f.kind or "?",
        f.code and (" " .. f.code) or "", f.status and format(" (HTTP %d)", f.status) or "", f.message,
        f.log_url and (" (log: " .. f.log_url .. ")") or ""))
    end
    for _, u in ipairs(unknown) do
      put(out, format("  unknown: line %d: %s\n", u.line, u.text))
    end
    if #unknown > 0 then put(out, "  (" .. words.unknown_advice .. ")\n") end
    list_duplicates(out)
    for _, w in ipairs(warnings) do put(out, format("  warning: line %d: %s\n", w.line, w.message)) end
    for _, n in ipairs(notes) do put(out, "note: " .. n .. "\n") end
    if fatal_answer then
      if fatal_answer.more > 0 then
        put(out, format("  (%d more rows failed with %s)\n", fatal_answer.more, fatal_answer.code))
      end
      put(out, format("stopped after the first answer: %s is about the key or the integration, so every row "
        .. "would fail the same way: %s; no new %s was started\n", fatal_answer.code,
        FATAL_CODES[fatal_answer.code], words.noun))
    end
    if signalled then
      put(out, format("stopped by a signal (%s); rerun the same command to go on\n",
        summary and summary.stopped or ("before the " .. words.plural)))
    end
    if jinfo.torn then put(out, "note: the journal's last line was torn (cut off by a crash) and was ignored\n") end
  end
  return exit
end

return runner
