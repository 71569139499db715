--- The upload helpers: a client's methods beyond the operations' own.
-- @{Client:attachment_restrictions} (the rules for a target),
-- @{Client:attachment_exists} (did an upload land?), @{Client:validate_upload}
-- (a dry run) and @{Client:attach_many} (the glue between a client and
-- lua/kombo/bulk.lua's batch).  `self` is a client: lua/kombo/init.lua puts
-- each function of this table on kombo.client's `Client`.  Their LDoc
-- blocks are on the `kombo` module's page (config.ld merges this file in).
-- @module kombo
local core = require "kombo.core"
local errors = require "kombo.errors"
local nginx = require "kombo.nginx"       -- which transport a call takes
local bulk = require "kombo.bulk"         -- attach_many
local batch = require "kombo.batch"       -- its host, shared with run_many
-- attachment_exists's "did an upload land?" (lua/kombo/landed.lua) and
-- validate_upload's remote_fields aliases (lua/kombo/remote_fields.lua):
-- loaded outside nginx by the first call of either, inside nginx now.
local landed_module = nginx.loader "kombo.landed"
local remote_fields_module = nginx.loader "kombo.remote_fields"
local client = require "kombo.client"
local one_call = require "kombo.call" -- prepare, send one operation call

-- A bad call option (attachment_exists's `options`) names the caller's line.
client.skip_frames_of(debug.getinfo(1, "S").source)

local state = client.state
local type = type -- (an upvalue, not a global looked up, on every attach_many job's path)
local call_operation, OPERATIONS = one_call.call_operation, one_call.OPERATIONS

local methods = {}

-- -------------------------------------------------------------- read back

local RESTRICTION_TARGETS = { candidate = true, application = true }

--- The integration's rules for uploads to a target:
-- `GET /ats/actions/ats_add_candidate_attachment` (or `_application_`): the
-- supported types, maximum size and accepted MIME types.  What `preflight`
-- checks an upload against.
-- @function Client:attachment_restrictions
-- @within Client
-- @tparam string target `"candidate"` or `"application"`
-- @tparam[opt] RestrictionsArgs opts `{ integration_id = }`
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise a target other than `"candidate"` or `"application"`
-- @usage
-- local res = assert(client:attachment_restrictions("candidate"))
-- local cv = res.data.attachment_restrictions.types.CV
-- -- { is_supported = true, max_file_size_bytes = 10485760, accepted_mime_types = { "application/pdf" } }
function methods:attachment_restrictions(target, opts)
  if not RESTRICTION_TARGETS[target] then
    error(("bad argument #1 to 'attachment_restrictions' (\"candidate\" or \"application\" expected, got %s)")
      :format(type(target) == "string" and ("%q"):format(target) or type(target)), 2)
  end
  local res, err = call_operation(self, OPERATIONS[target .. "_attachment_restrictions"], opts,
    "attachment_restrictions")
  return res, err
end

local function base_name(path)
  return type(path) == "string" and (path:match("([^/]+)$") or path) or nil
end

--- Whether an upload landed: lists the target's attachments (the
-- candidate's, or the application's when `args.application_id` is given)
-- and looks for *this* upload among those with its file name
-- (`attachment.name`, or the base name of `attachment.file`) and type, by
-- evidence only (`kombo.landed`):
--
-- * the content: a listed `data_url` that downloads to the SHA-256 of
--   `attachment.file`, `.bytes` or `.data` (streamed, no Kombo header sent
--   to that host; not inside nginx, where it would block the worker);
-- * else the time: a `remote_created_at` no earlier than `opts.since` (pass
--   `err.written_at`, when the request went out whole) less 120 s of skew.
--
-- An older file of the same name is not this upload. `false` means the
-- listing shows no evidence, not that the upload did not land: the ATS may
-- still be processing it, so send again only when you accept a duplicate.
-- With `opts.since`, it refuses to look while the earlier attempt could
-- still be in flight (until its timeout has passed since then: `opts.timeout`
-- when the upload had its own, else the client's).  `opts.options` are the
-- listing's own call options (@{CallOptions}: a short `timeout`, `retries`,
-- `hooks`), so that a settle needs no second client.
-- @function Client:attachment_exists
-- @within Client
-- @tparam AttachToCandidateArgs|AttachToApplicationArgs args exactly as for the upload
-- @tparam[opt] table opts `{ since = err.written_at, timeout = the upload's own timeout,
-- options = CallOptions of the listing }`
-- @treturn[1] boolean `true` when the listing proves it landed, `false` when it does not
-- @treturn[1] table|string the listed attachment (when `true`), or why it proves nothing (when `false`)
-- @return[2] nil
-- @treturn[2] Error `err`: the listing failed, or `validation`: both ids, no name or type, or
-- `since` too recent (`err.retry_after` says how long to wait)
-- @raise `args` or `args.body.attachment` not a table
-- @usage
-- local res, err = client:attach_to_candidate(args)
-- if not res and err.outcome == "unknown" then
--   local landed, why = client:attachment_exists(args, { since = err.written_at })
--   if landed == false then print("not proved: " .. why) end
-- end
function methods:attachment_exists(args, opts)
  if type(args) ~= "table" then
    error(("bad argument #1 to 'attachment_exists' (the argument must be a table, got %s)"):format(type(args)), 2)
  end
  local attachment = type(args.body) == "table" and args.body.attachment
  if type(attachment) ~= "table" then
    error("bad argument #1 to 'attachment_exists' ('body.attachment' must be a table, got "
      .. type(attachment) .. ")", 2)
  end
  if opts ~= nil and (type(opts) ~= "table" or (opts.since ~= nil and type(opts.since) ~= "number")
    or (opts.timeout ~= nil and not (type(opts.timeout) == "number" and opts.timeout > 0))
    or (opts.options ~= nil and type(opts.options) ~= "table")) then
    error("bad argument #2 to 'attachment_exists' ({ since = number, timeout = number > 0, "
      .. "options = table } or nil expected)", 2)
  end
  for k in pairs(opts or {}) do
    if k ~= "since" and k ~= "timeout" and k ~= "options" then
      error(("bad argument #2 to 'attachment_exists' (unknown option '%s'%s)"):format(tostring(k),
        bulk.did_you_mean(k, { since = true, timeout = true, options = true })), 2)
    end
  end
  local since = opts and opts.since
  local name = attachment.name or base_name(attachment.file)
  local p = state(self, "attachment_exists")
  local secret = p.config.secrets
  if args.application_id ~= nil and args.candidate_id ~= nil then
    return nil, errors.validation({ { path = "application_id", message = "and candidate_id were both given: "
      .. "an upload went to one of them" } }, secret)
  end
  if type(name) ~= "string" or type(attachment.type) ~= "string" then
    return nil, errors.validation({ { path = type(name) ~= "string" and "body.attachment.name"
      or "body.attachment.type", message = "is required to find the upload" } }, secret)
  end
  if since then
    local _, wall = core.now()
    local wait = since + (opts.timeout or p.config.timeout) - wall
    if wait > 0 then
      local err = errors.validation({ { path = "since", message = ("the upload could still be in flight for "
        .. "%.0f s (its timeout); look after that, or the listing may not show it yet"):format(wait) } }, secret)
      err.retry_after = wait
      return nil, err
    end
  end
  local digest
  if type(attachment.bytes) == "string" then
    digest = core.sha256(attachment.bytes)
  elseif type(attachment.data) == "string" then
    digest = core.sha256_base64(attachment.data)
  elseif type(attachment.file) == "string" then
    digest = core.sha256_file(attachment.file) -- (nil when it cannot be read: the time decides)
  end
  if nginx.in_nginx() and nginx.select(p.config.transport) == "cosocket" then
    digest = nil -- no blocking download inside a worker: the time decides
  end
  local list_op, id_key
  if args.application_id ~= nil then
    list_op, id_key = OPERATIONS.get_application_attachments, "application_id"
  else
    list_op, id_key = OPERATIONS.get_candidate_attachments, "candidate_id"
  end
  local res, err = call_operation(self, list_op,
    { [id_key] = args[id_key], integration_id = args.integration_id }, "attachment_exists", opts and opts.options)
  if not res then return nil, err end
  local landed = landed_module()
  local verdict = landed.match(res.data.results, { name = name, type = attachment.type, digest = digest,
    since = since }, nil, landed.downloader({ timeout = p.config.timeout, ca_file = p.config.ca_file }))
  if verdict.state == "found" then return true, verdict.attachment end
  return false, verdict.reason
end

-- -------------------------------------------------------------- bulk

local ATTACH_TO_CANDIDATE, ATTACH_TO_APPLICATION = OPERATIONS.attach_to_candidate, OPERATIONS.attach_to_application

-- A job of attach_many that is a table: the arguments of
-- attach_to_candidate or attach_to_application, told apart by their id
-- (each read once).  The core's job preparer asks this one: it asks only
-- of a table.
local function table_job_operation(job)
  if job.candidate_id ~= nil then
    if job.application_id == nil then return ATTACH_TO_CANDIDATE end
    return nil, { { path = "application_id",
      message = "and candidate_id were both given: one job uploads to one of them" } }
  end
  if job.application_id ~= nil then return ATTACH_TO_APPLICATION end
  return nil, { { path = "candidate_id", message = "(or application_id) is required" } }
end

-- A job of attach_many, or any value given as one.
local function job_operation(job)
  if type(job) ~= "table" then
    return nil, { { path = "job", message = "must be a table of upload arguments, got " .. type(job) } }
  end
  return table_job_operation(job)
end

--- Checks an upload's arguments exactly as the upload would, without
-- sending anything: the same rules (ids, name, type, content type, the file
-- a regular one that can be opened, remote_fields), told apart by their id
-- like @{Client:attach_many}'s jobs.  A dry run is this.  Not the
-- integration's restrictions (preflight asks Kombo for those).
-- @function Client:validate_upload
-- @within Client
-- @tparam AttachToCandidateArgs|AttachToApplicationArgs args the upload's arguments
-- @treturn[1] boolean `true`
-- @return[2] nil
-- @treturn[2] Error `err` of kind `validation`, with every problem in `err.problems`
-- @usage
-- local ok, err = client:validate_upload(args)
-- if not ok then for _, p in ipairs(err.problems) do print(p.path, p.message) end end
function methods:validate_upload(args)
  local p = state(self, "validate_upload")
  local op, problems = job_operation(args)
  if not op then return nil, errors.validation(problems, p.config.secrets) end
  local normalized
  normalized, problems = remote_fields_module().normalize(op, args)
  local ok, call, core_problems, shape = pcall(p.core.prepare, p.core, op.name, normalized, problems)
  if not ok or shape then
    local msg = tostring(ok and shape or call):gsub("^bad argument #1 to '[%w_]+' %((.*)%)$", "%1")
    return nil, errors.validation({ { path = "args", message = msg } }, p.config.secrets)
  end
  if not call then return nil, errors.validation(core_problems, p.config.secrets) end
  call:close()
  return true
end

--- Uploads many documents at once, within Kombo's concurrency limit.
-- Each job is exactly the argument table of @{Client:attach_to_candidate}
-- (with `candidate_id`) or @{Client:attach_to_application} (with
-- `application_id`), and follows the same rules: validation (a bad job is
-- reported with its index and does not stop the others), preflight, retries,
-- and the outcome rule (nothing with outcome `unknown` is sent again).
-- At most `concurrency` uploads are in flight, and per integration never more
-- than its `Concurrency-Limit` or 30: a 429 `PLATFORM.CONCURRENCY_LIMIT_EXCEEDED`
-- (or `Concurrency-Remaining: 0`) lowers the integration's count to what the
-- server takes, that job backs off about 1 s and goes first when a slot frees,
-- and the count grows back by one after a run of successes; a rate-limit 429
-- pauses every new attempt for its `Retry-After`.  Outside nginx one libcurl
-- multi handle moves all the bytes in the calling thread; inside nginx, light
-- threads over cosockets.  With `preflight`, each integration's restrictions
-- are fetched the same way, beside the uploads (one request per integration
-- and target at a time; a failed fetch is remembered for 5 s).
--
-- No outcome is lost: when `on_result`, `on_progress`, `stop` or the jobs
-- iterator raises, the batch drains (it takes no new job, sends nothing
-- new, retries nothing; the attempts in flight finish) and raises a
-- @{BatchError} whose `results` hold the outcome of every job taken that
-- `on_result` did not get, including the one whose `on_result` raised.
-- @function Client:attach_many
-- @within Client
-- @tparam {AttachToCandidateArgs|AttachToApplicationArgs,...}|func jobs an array of
-- jobs, or a function returning the next job and `nil` at the end (read only as
-- slots free up, so a million-row iterator is fine)
-- @tparam[opt] BulkOptions opts the options
-- @treturn BulkSummary the summary
-- @raise a bad option, a closed client; or, when `on_result`, `on_progress`, `stop` or
-- the jobs iterator raised, a @{BatchError} (after the uploads in flight finished:
-- its `results` hold every outcome `on_result` did not get)
-- @usage
-- local summary = client:attach_many(jobs, {
--   concurrency = 16,
--   on_result = function(i, res, err) if err then print(i, err) end end,
-- })
-- print(summary.succeeded, summary.failed)
function methods:attach_many(jobs, opts)
  local p = state(self, "attach_many")
  return bulk.run(batch.host(self, p, job_operation, "attach_many", 1, "upload", table_job_operation), jobs, opts)
end

return methods
