--- kombo apply: creates one application per row of a manifest, with its
-- documents (`POST /ats/jobs/{job_id}/applications`, run by
-- `client:run_many("create_application", ...)`), journaled so that no crash
-- creates one twice (lua/kombo/cli/kombo.lua runs `apply.run`).  The run is
-- lua/kombo/cli/runner.lua's, shared with kombo-attach; this file is what
-- is kombo apply's own: its usage, its rows (a job and an identity), the
-- dry run's preflight and the settle by the candidate's email.  README
-- "kombo apply".
local core = require "kombo.core"
local gen = require "kombo.gen.operations"
local one_call = require "kombo.call"
local client_state = require("kombo.client").state
local landed = require "kombo.landed" -- parse_time, CLOCK_SKEW
local journal = require "kombo.cli.journal"
local report = require "kombo.cli.report"
local runner = require "kombo.cli.runner"

local apply = {}

local format, concat = string.format, table.concat

local USAGE = [[
Usage: kombo apply [options] MANIFEST

Creates one application per row of MANIFEST (CSV with a header row, or JSON
Lines), with its documents: POST /ats/jobs/{job_id}/applications.  Columns /
keys: job_id and email_address (required), the candidate's other fields
(first_name, last_name, phone_number, ...; location.city for a nested one),
cv, cover_letter and other (file paths), and optionally integration_id and
stage_id.  A JSON Lines row may also carry any field of the request body
(candidate, attachments, screening_question_answers, source, ...).  A file
path is relative to the manifest's directory unless absolute.  MANIFEST "-"
reads standard input (give --journal).

Options:
  --concurrency N       applications in flight at once (1..30, default 8)
  --journal FILE        the journal (default MANIFEST.journal); a rerun with it
                        skips rows that were done and settles unfinished ones;
                        one run at a time holds it (FILE.lock)
  --timeout SECONDS     the longest one attempt may take (default 300); a
                        rerun waits this long after a crash before settling
  --resend-unknown      send again the rows whose application may have been
                        created but could not be found (see the report); may
                        create it twice where the ATS does not refuse it
  --dry-run             check every row (and with --preflight the
                        integration's restrictions) and send nothing
  --preflight           check the documents against the integration's
                        restrictions for a new application
  --integration-id ID   for rows without an integration_id (default $KOMBO_INTEGRATION_ID)
  --server-url URL      Kombo's API (default $KOMBO_SERVER_URL, else https://api.kombo.dev/v1)
  --json                the report as JSON on stdout
  --report FILE         a line per row (line, status, id, code, message):
                        CSV, JSON or JSON Lines by FILE's extension
  --report-failed FILE  the failed rows, in the manifest's own form, to fix
                        and run again
  --quiet               no progress; report only what went wrong
  --help, --version

A row Kombo answers ATS.APPLICATION_ALREADY_EXISTS is existing, not failed.
The API key comes from $KOMBO_API_KEY.  Exit status: 0 every row created or
existing, 1 some failed, are unknown or were not started, 2 a usage,
manifest or journal error (or a bad row, the journal in use by another run,
or an answer about the key or the integration), 130 after a signal.
]]
apply.USAGE = USAGE

---------------------------------------------------------------- rows

local OP = one_call.OPERATIONS.create_application
-- The body's members, from the operation table: a column or key of that
-- name sets it; the call's own arguments; the documents by type.  Every
-- other column is a field of the candidate.
local BODY = {}
for _, k in ipairs(gen.operations.create_application.body) do BODY[k] = true end
local CALL = { job_id = true, integration_id = true }
local DOCUMENTS = { { "cv", "CV" }, { "cover_letter", "COVER_LETTER" }, { "other", "OTHER" } }
local DOCUMENT = {}
for _, d in ipairs(DOCUMENTS) do DOCUMENT[d[1]] = d[2] end

apply.SCHEMA = {
  header = function(seen)
    if not (seen.job_id and seen.email_address) then return "the header needs the columns job_id and email_address" end
  end,
}

--- A row's identity, as 32 hex digits: the application, which is one per
-- candidate and job.  The integration, the job and the candidate's email
-- (as Kombo's candidate filter compares it: case-insensitively) decide it;
-- the documents do not (a second application for a changed CV would be a
-- duplicate), nor the manifest's path or the row's place.
function apply.identity(integration, job_id, email)
  return core.sha256(concat({ "kombo apply row 1", integration, job_id, email }, "\0")):sub(1, 32)
end

local function normalized_email(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""):lower())
end

-- Sets t.a.b = v for a name "a.b"; false when a part is in the way.
local function set_path(t, name, v)
  local parts = {}
  for part in name:gmatch("[^.]+") do parts[#parts + 1] = part end
  for i = 1, #parts - 1 do
    local next_t = t[parts[i]]
    if next_t == nil then next_t = {}; t[parts[i]] = next_t end
    if type(next_t) ~= "table" then return false end
    t = next_t
  end
  if t[parts[#parts]] ~= nil then return false end
  t[parts[#parts]] = v
  return true
end

local function resolved(dir, p)
  if type(p) ~= "string" or p == "" or p:sub(1, 1) == "/" then return p end
  return dir .. "/" .. p
end

-- The row's file objects (its attachments, a FILE question's answer), whose paths are
-- read from the manifest's directory.
local function each_file(body, fn)
  for _, list in ipairs { { body.attachments, false }, { body.screening_question_answers, true } } do
    if type(list[1]) == "table" then
      for _, item in ipairs(list[1]) do
        local fobj = type(item) == "table" and (list[2] and item.answer or item) or nil
        if type(fobj) == "table" and type(fobj.file) == "string" then fn(fobj) end
      end
    end
  end
end

-- A problem's path as the row's columns name it: "body.candidate.email_address"
-- -> "email_address", "body.attachments[1].file" -> "cv" (when the cv
-- column made it), "body.stage_id" -> "stage_id".
local function column_of(path, made)
  local i, rest = path:match("^body%.attachments%[(%d+)%](.*)$")
  if i and made[tonumber(i)] then
    return made[tonumber(i)] .. (rest ~= ".file" and rest or "")
  end
  return (path:gsub("^body%.candidate%.", ""):gsub("^body%.", ""))
end

--- Checks one row and builds its job.  `ctx = { dir =, integration_id =,
-- validate = }`.  Sets row.job, row.id, row.size (the documents' bytes),
-- row.email, row.job_id, row.integration; returns the reasons the row is
-- bad (empty when it is good).
function apply.check(row, ctx)
  if row.shape then return { row.shape } end
  local bad = {}
  local candidate, body, given = {}, {}, {}
  for k, v in pairs(row.fields) do
    if CALL[k] or DOCUMENT[k] then
      if type(v) ~= "string" then bad[#bad + 1] = format("%s must be a string, got %s", k, type(v)) end
    elseif BODY[k] then
      body[k] = v
    elseif not set_path(candidate, k, v) then
      bad[#bad + 1] = format("%s is given twice (or under a field given whole)", k)
    else
      given[#given + 1] = k
    end
  end
  if #bad > 0 then return bad end
  local f = row.fields
  if type(body.candidate) == "table" and getmetatable(body.candidate) == nil then
    -- a JSON Lines row's candidate, with the fields given beside it
    for _, k in ipairs(given) do
      if not set_path(body.candidate, k, f[k]) then
        bad[#bad + 1] = format("%s is given twice (in candidate and beside it)", k)
      end
    end
  elseif body.candidate == nil then
    body.candidate = candidate
  end
  local made, documents = {}, {}
  for _, d in ipairs(DOCUMENTS) do
    if f[d[1]] then
      documents[#documents + 1] = { file = f[d[1]], type = d[2] }
      made[#documents] = d[1]
    end
  end
  if #documents > 0 then -- first (the first CV is the resume), then a JSON Lines row's attachments
    if type(body.attachments) == "table" then
      for _, a in ipairs(body.attachments) do documents[#documents + 1] = a end
      body.attachments = documents
    elseif body.attachments == nil then
      body.attachments = documents
    end -- (else not a list: the validation says so)
  end
  local size = 0
  each_file(body, function(fobj)
    fobj.file = resolved(ctx.dir, fobj.file)
    size = size + (core.file_info(fobj.file) or 0)
  end)
  local job_id, integration = f.job_id, f.integration_id or ctx.integration_id
  local email = type(body.candidate) == "table" and body.candidate.email_address
  if type(job_id) ~= "string" or job_id == "" then bad[#bad + 1] = "has no job_id" end
  if not integration or integration == "" then
    bad[#bad + 1] = "has no integration_id (give the column, --integration-id or KOMBO_INTEGRATION_ID)"
  end
  if type(email) ~= "string" or not email:find("%S") then
    bad[#bad + 1] = "has no email_address (Kombo requires it, and a rerun finds the application by it)"
  end
  if #bad > 0 then return bad end
  row.job = { job_id = job_id, integration_id = integration, body = body }
  -- Everything else is the library's own validation (the candidate's
  -- fields, the files, the answers): the dry run and the batch run the same one.
  if ctx.validate then
    local ok, err = ctx.validate(row.job)
    if not ok then
      for _, p in ipairs(err.problems or { { path = "row", message = tostring(err.message or err) } }) do
        bad[#bad + 1] = column_of(tostring(p.path), made) .. " " .. tostring(p.message)
      end
      row.job = nil
      return bad
    end
  end
  row.size, row.email, row.job_id, row.integration = size, normalized_email(email), job_id, integration
  row.made = made
  row.id = apply.identity(integration, job_id, row.email)
  return bad
end

-- The library's own preparation of a create, sent nowhere: its validation,
-- and with `preflight` the restrictions (fetched and cached by the client).
local function prepared(client, job, preflight)
  local p = client_state(client, "kombo apply")
  local args = {}
  for k, v in pairs(job) do args[k] = v end
  args.preflight = preflight
  local ok, call, err = pcall(one_call.prepare, client, p, OP, args, "create_application", 2)
  if not ok then
    local msg = tostring(call):gsub("^bad argument #1 to '[%w_]+' %((.*)%)$", "%1")
    return nil, { problems = { { path = "row", message = msg } } }
  end
  if not call then return nil, err end
  call:close()
  return true
end

-- A dry run's --preflight: the restrictions of ats_create_application, once
-- per integration (a failed fetch too, so that a bad key is not asked
-- about for every row).
local function dry_checker(client)
  local failed = {}
  return function(row)
    local integ = row.job.integration_id
    local ferr = failed[integ]
    if not ferr then
      local ok, err = prepared(client, row.job, true)
      if ok then return {} end
      if err.kind == "validation" then
        local reasons = {}
        for _, p in ipairs(err.problems or {}) do
          reasons[#reasons + 1] = "preflight: " .. column_of(p.path, row.made) .. " " .. p.message
        end
        return reasons
      end
      failed[integ], ferr = err, err
    end
    return { "preflight: the integration's restrictions could not be fetched: " .. runner.message_of(ferr) },
      runner.FATAL_CODES[ferr.code] and ferr or nil
  end
end

-- The columns of a CSV header that name no field Kombo knows, or a field
-- a CSV cell cannot give (an object, a list): the library's validation
-- says so of a row made of them.
local function header(reader, client)
  if reader.format ~= "csv" then return nil end
  local candidate, body, probed = {}, {}, {}
  for _, name in ipairs(reader.names) do
    if not (CALL[name] or DOCUMENT[name]) then
      if BODY[name] then body[name] = "x" else set_path(candidate, name, "x") end
      probed[BODY[name] and ("body." .. name) or ("body.candidate." .. name)] = name
    end
  end
  if body.candidate == nil then body.candidate = candidate end
  local _, err = prepared(client, { job_id = "header", integration_id = "header", body = body }, false)
  local wrong = {}
  for _, p in ipairs(err and err.problems or {}) do
    local name = probed[p.path]
    if name and p.message:find("not a known field", 1, true) then
      wrong[#wrong + 1] = format("unknown column %q (not a field of the candidate or of the application)", name)
    elseif name and p.message:find("^must be an? [oa][br][jr]") then
      wrong[#wrong + 1] = format("column %q is a field that a CSV cell cannot give (%s): use JSON Lines%s", name,
        p.message, BODY[name] and "" or (" or its parts (" .. name .. ".x)"))
    end
  end
  if #wrong > 0 then return "line 1: " .. concat(wrong, "; ") end
  return nil
end

---------------------------------------------------------------- settle

--- Settles rows whose create went out whole with no answer: the
-- candidates with the row's email (`get_candidates`, one listing per
-- integration and email) and their applications.  An application to the
-- row's job proves it is there (the row is existing: created by that
-- request, or there before it); none proves nothing, since Kombo's lists
-- are its synced copy of the ATS and can lag a write: the row stays unknown.
-- @return a verdict per row: `{ state = "found", attachment = application id, evidence =, reason = }`,
-- `{ state = "unknown", reason =, error = }` or `{ state = "stopped", reason = }`
function apply.settle(client, rows, _, opts)
  opts = opts or {}
  local listed = {} -- integration \0 email -> { apps = {...} } or { err = }
  local out = {}
  for i, row in ipairs(rows) do
    local verdict
    if opts.stop and opts.stop() then
      verdict = { state = "stopped", reason = "stopped by a signal before it was settled" }
    else
      local key = row.integration .. "\0" .. row.email
      local c = listed[key]
      if not c then
        c = { apps = {} }
        local n = 0
        for cand, err in client:each("get_candidates", { email = row.email, integration_id = row.integration }) do
          if not cand then c.err = err break end
          for _, a in ipairs(type(cand.applications) == "table" and cand.applications or {}) do
            if type(a) == "table" and type(a.job) == "table" then c.apps[#c.apps + 1] = a end
          end
          n = n + 1
          if n >= 1000 then break end -- (one email is a handful of candidates: bounded all the same)
        end
        listed[key] = c
      end
      if c.err then
        verdict = { state = "unknown", error = c.err,
                    reason = "the candidates could not be listed: " .. runner.message_of(c.err) }
      else
        local found
        for _, a in ipairs(c.apps) do
          if a.job.id == row.job_id then found = a break end
        end
        if found then
          local created = landed.parse_time(found.remote_created_at)
          local since = row.written and row.written.time
          local after = created and since and created >= since - landed.CLOCK_SKEW
          verdict = { state = "found", attachment = type(found.id) == "string" and found.id or nil,
            evidence = after and "created_after" or "listed",
            reason = after and "listed, created after the request was written"
              or "listed (the candidate's application to this job; not known to be newer than the request)" }
        else
          verdict = { state = "unknown", reason = format("no application of %s to job %s is listed (Kombo lists what "
            .. "it has synced from the ATS, so a new application may show only after the next sync)", row.email,
            row.job_id) }
        end
      end
    end
    out[i] = verdict
  end
  return out
end

---------------------------------------------------------------- the command

apply.KIND = {
  command = "kombo apply", usage = USAGE, unit = "applications", journal = journal.APPLY, schema = apply.SCHEMA,
  paths = { csv = { "cv", "cover_letter", "other" }, json = { "cv", "cover_letter", "other",
    "attachments.[].file", "screening_question_answers.[].answer.file" } },
  words = {
    done = "created", nothing = "nothing was sent", noun = "application", plural = "applications",
    requests = "application(s)", stage = "create", sent = "its application",
    duplicate = "the same application (integration, job and email_address) as line %d: sent once",
    found = "%d found (settled)", existing = "%d existing (ATS.APPLICATION_ALREADY_EXISTS)",
    unknown_advice = "Kombo's lists are its synced copy of the ATS and can lag a create: rerun later to settle an "
      .. "unknown row again, or look the candidate up in the ATS and rerun with --resend-unknown to send it again "
      .. "(which may create it twice where the ATS does not refuse a repeated application)",
  },
  check = apply.check,
  validator = function(client) return function(job) return prepared(client, job, false) end end,
  header = header,
  dry_checker = dry_checker,
  settle = apply.settle,
  batch = function(client, jobs, opts) return client:run_many("create_application", jobs, opts) end,
  existing = function(err) return err.already_exists == true end,
  json_result = function(r)
    local shown = report.row(r)
    shown.via, shown.evidence = r.via, r.evidence
    return shown
  end,
}

--- Runs `kombo apply ARGV...`; returns the exit status.  `streams` may be
-- `{ stdout =, stderr = }` (tests).
function apply.run(argv, streams)
  return runner.run(apply.KIND, argv, streams)
end

return apply
