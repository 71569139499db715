--- kombo-attach: uploads the rows of a manifest with `client:attach_many`,
-- journaled so that no crash duplicates an upload (bin/kombo-attach runs
-- `main.run(arg)` and exits with what it returns).  README "kombo-attach".
-- The run itself is lua/kombo/cli/runner.lua's, shared with kombo apply;
-- this file is what is kombo-attach's own: its usage, its rows (manifest.lua),
-- the dry run's restrictions, the settle by listing (settle.lua).
local kombo = require "kombo"
local manifest = require "kombo.cli.manifest"
local journal = require "kombo.cli.journal"
local settle = require "kombo.cli.settle"
local runner = require "kombo.cli.runner"

local main = {}

local format = string.format

main.EXIT = runner.EXIT

local USAGE = [[
Usage: kombo-attach [options] MANIFEST

Uploads each row of MANIFEST (CSV with a header row, or JSON Lines) to Kombo
as an attachment of a candidate or an application.  Columns / keys:
candidate_id or application_id, file or data_url, type (CV, COVER_LETTER,
OTHER), and optionally name, content_type, integration_id.  A file path is
relative to the manifest's directory unless absolute.  MANIFEST "-" reads
standard input (give --journal).

Options:
  --concurrency N       uploads in flight at once (1..30, default 8)
  --journal FILE        the journal (default MANIFEST.journal); a rerun with it
                        skips rows that were done and settles unfinished ones;
                        one run at a time holds it (FILE.lock)
  --timeout SECONDS     the longest one upload attempt may take (default 300);
                        a rerun waits this long after a crash before settling
  --resend-unknown      send again the rows whose upload may have landed but
                        could not be proved to (see the report); may duplicate
  --dry-run             check every row (and with --preflight the
                        integration's restrictions) and upload nothing
  --preflight           check uploads against the integration's restrictions
  --integration-id ID   for rows without an integration_id (default $KOMBO_INTEGRATION_ID)
  --server-url URL      Kombo's API (default $KOMBO_SERVER_URL, else https://api.kombo.dev/v1)
  --json                the report as JSON on stdout
  --report FILE         a line per row (line, status, id, code, message):
                        CSV, JSON or JSON Lines by FILE's extension
  --report-failed FILE  the failed rows, in the manifest's own form, to fix
                        and run again
  --quiet               no progress; report only what went wrong
  --help, --version

The API key comes from $KOMBO_API_KEY.  Exit status: 0 every row done,
1 some failed, are unknown or were not started, 2 a usage, manifest or
journal error (or a bad row, the journal in use by another run, or an answer
about the key or the integration), 130 after a signal.
]]

-- Fetches restrictions once per integration and target.
-- (A dry run's --preflight; a real run has the library's before each upload.)
local function restrictions_checker(client, on_note)
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
      return { "preflight: the integration's restrictions could not be fetched: " .. runner.message_of(entry.err) },
        runner.FATAL_CODES[entry.err.code] and entry.err or nil
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
    if type(max) == "number" and max == max then
      -- A byte limit is whole bytes: a fractional one (Kombo's schema says
      -- "number") is floored, and the report says so.
      local limit = math.floor(max)
      if limit ~= max and on_note then
        on_note(format("the integration's max_file_size_bytes for %s is %s; read as %s", a.type,
          tostring(max), format("%.0f", limit)))
      end
      if a.file and row.size > limit then
        bad[#bad + 1] = format("preflight: %d bytes is above the integration's limit of %.0f", row.size, limit)
      end
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


main.parse_args = runner.parse_args
main.FATAL_CODES = runner.FATAL_CODES

-- --json's results keep kombo-attach's own words (README "kombo-attach"):
-- uploaded, done_before, found, failed, unknown, not_started.
local function json_result(r)
  if r.status == "uploaded" then return { line = r.line, status = "uploaded", attachment_id = r.id } end
  if r.status == "existing" then
    return { line = r.line, status = r.via == "settled" and "found" or "done_before", attachment_id = r.id,
             evidence = r.evidence }
  end
  if r.status == "failed" then
    return { line = r.line, status = "failed", kind = r.kind, outcome = r.outcome, code = r.code }
  end
  if r.status == "unknown" then return { line = r.line, status = "unknown", reason = r.reason, code = r.code } end
  if r.via == "not_started" then return { line = r.line, status = "not_started" } end
  return nil
end

local ATTACH = {
  command = "kombo-attach", usage = USAGE, unit = "files", journal = journal.ATTACH, schema = manifest.ATTACH,
  paths = { csv = { "file" }, json = { "file" } },
  words = {
    done = "uploaded", nothing = "nothing was uploaded", noun = "upload", plural = "uploads",
    requests = "upload(s)", stage = "upload", sent = "its upload",
    duplicate = "the same document to the same target as line %d: uploaded once",
    found = "%d found uploaded (settled)",
    unknown_advice = "the ATS may still be processing an unknown row: rerun later to settle it again, or check "
      .. "the target in the ATS and rerun with --resend-unknown to send it again",
  },
  check = manifest.check,
  validator = function(client) return function(job) return client:validate_upload(job) end end,
  dry_checker = restrictions_checker,
  settle = settle.rows,
  batch = function(client, jobs, opts) return client:attach_many(jobs, opts) end,
  -- The bytes sent are the ones the row was identified by: the hook
  -- compares the SHA-256 of what went out (no digest: cannot tell, so not sent).
  check_written = function(row, info)
    if row.digest and info.digest ~= row.digest then
      return "the file changed after it was checked (its SHA-256 is not the one its row was identified "
        .. "by); it was not sent whole: rerun to check and send it again"
    end
  end,
  json_result = json_result,
}
main.ATTACH = ATTACH

--- Runs kombo-attach.  `argv` is the script's `arg`; `streams` may be
-- `{ stdout =, stderr = }` (tests).  Returns the exit status.
function main.run(argv, streams)
  return runner.run(ATTACH, argv, streams)
end

return main
