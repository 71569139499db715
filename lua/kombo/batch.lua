--- Many calls at once: @{Client:run_many} (any operation) and the glue that
-- @{Client:attach_many} shares with it, between a client and
-- lua/kombo/bulk.lua's batch.  `self` is a client: lua/kombo/init.lua puts
-- run_many on kombo.client's `Client`.  The LDoc block is on the `kombo`
-- module's page (config.ld merges this file in).
-- @module kombo
local core = require "kombo.core"
local errors = require "kombo.errors"
local nginx = require "kombo.nginx" -- which transport (the OpenResty one is loaded when taken)
local bulk = require "kombo.bulk"
local client = require "kombo.client"
local one_call = require "kombo.call" -- prepare one operation call
-- kombo.preflight: loaded outside nginx by the batch's first preflight
-- (host.fetch etc.: with a `need` one_call.prepare gave, having loaded it),
-- inside nginx with this module.
local preflight_module = nginx.loader "kombo.preflight"

local state = client.state
local pcall = pcall -- (an upvalue, not a global looked up, on every job's path)
local prepare, OPERATIONS = one_call.prepare, one_call.OPERATIONS

local M = {}

-- The batch's host for client state p (bulk.run's contract): `pick(job)`
-- says which operation a job is (or nil and the problems), `fname`,
-- `jobs_arg` and `noun` word the messages; `pick_table` (optional) is
-- pick for a job known to be a table (the core's job preparer asks only
-- of a plain table: no type check per job).  Raises (at the method's
-- caller) when there is no transport in this nginx phase.
function M.host(self, p, pick, fname, jobs_arg, noun, pick_table)
  local transport, why = nginx.select(p.config.transport)
  if transport == nil then error(why, 3) end
  local host = {
    engine = transport == "cosocket" and bulk.ngx_engine(require("kombo.cosocket").attempt, p.config)
      or bulk.curl_engine(),
    observer = p.observer, secret = p.config.secrets,
    fname = fname, jobs_arg = jobs_arg, noun = noun, client = p,
  }
  -- A job's own options (job.options, CallOptions) are taken out of its
  -- arguments; the rest is the method's argument table.
  local function job_call(op, job)
    local options = job.options
    local copts
    if options ~= nil then
      local args = {}
      for k, v in pairs(job) do if k ~= "options" then args[k] = v end end
      job = args
      copts = client.call_options(p, options, op.name, 2)
    end
    local call, err = prepare(self, p, op, job, op.name, 1, true, copts)
    return call, err, copts and copts.observer or p.observer
  end
  -- A shape mistake in one job (a number where a table belongs), or in
  -- its options, raises in a single call ("bad argument #1 to 'name'
  -- (...)", after the position of the raise); here it is that job's
  -- validation error, its message the parenthesis alone.
  local function misuse(msg)
    -- (a raise of the core's own, such as a client closed from a callback,
    -- carries kombo's file and line: neither the caller's nor any help)
    msg = tostring(msg):gsub("^[^%s:]*kombo[/\\][%w_/\\]*%.lua:%d+: ", "", 1)
    local arg, inner = msg:match("bad argument #([12]) to '[%w_]+' %((.*)%)$")
    if arg == "2" then return errors.validation({ { path = "job.options", message = inner } }, p.config.secrets) end
    return errors.validation({ { path = "job", message = inner or msg } }, p.config.secrets)
  end
  function host.prepare(job)
    local op, problems = pick(job)
    if not op then return nil, errors.validation(problems, p.config.secrets) end
    -- (Without options, prepare is called as job_call would: one Lua call
    -- less per job.)
    local ok, call, err, observer
    if job.options == nil then
      ok, call, err = pcall(prepare, self, p, op, job, op.name, 1, true)
      observer = p.observer
    else
      ok, call, err, observer = pcall(job_call, op, job)
    end
    if not ok then return nil, misuse(call) end
    if not call then return nil, err end
    return call, call:integration_id(), err, observer -- (err: the restrictions to fetch)
  end
  -- The common job in one step of the core (csrc/lua/lua_method.c's job
  -- preparer): a plain table without options, of the operation pick(job)
  -- names, for a client nothing observes over libcurl, needing no
  -- remote_fields normalized nor preflight, made as prepare above would
  -- make it (in the closed call `reuse`, when given) and, with `t`, its
  -- first call:next(t).  A job the core refuses gives nil and what the
  -- core said, worded here as host.prepare words it (host.refused); any
  -- other job gives false: host.prepare then makes it.  (Not made when it
  -- could only decline: an observed client, inside nginx.)
  if p.plain_core and transport == "curl" then
    host.prepare_fast = core.job_preparer(p, pick_table or pick, one_call.NEEDS)
  end
  function host.refused(problems, shape)
    if shape then return misuse(shape) end
    return errors.validation(problems, p.config.secrets)
  end
  local secrets = host.secret -- (fixed when the client was made)
  -- With it the core dresses a success itself, as errors.from_result would
  -- (call:result(index)); the client's state holds it.  The call is closed
  -- here (call:result's `close`: one step with the result).  `raw`: the
  -- call's plain result, read already (call:after(t, index) read it and
  -- closed the call).
  local success_index = one_call.success_index(p)
  host.result_index = success_index
  function host.result(call, failure, raw)
    if raw then return errors.from_result(raw, secrets) end
    if failure then
      local res, err = errors.hook_failure(failure.last or call:result(), failure, secrets)
      call:close()
      return res, err
    end
    local res, dressed = call:result(success_index, true)
    if dressed then return res end
    return errors.from_result(res, secrets)
  end
  -- Preflight inside the batch: the restrictions request for a `need` of
  -- host.prepare, sent by the engine like any job; its answer; the check.
  function host.fetch(need) return preflight_module().restrictions_call(p, need) end
  function host.fetched(need, call)
    local hit = preflight_module().store_restrictions(p, need.key,
      errors.from_result(call:result(), p.config.secrets))
    call:close()
    return hit
  end
  function host.check(call, hit) return preflight_module().check_restrictions(p, call, hit) end
  return host
end

--- Runs many calls of one operation at once, within Kombo's concurrency
-- limit: @{Client:attach_many} for any operation (`create_application`,
-- `add_candidate_tag`, a list's `get_...`).  Each job is exactly the
-- argument table of the method `name` (`client:create_application(job)`)
-- and follows its rules: validation (a bad job is reported with its index
-- and does not stop the others), preflight where the operation has one,
-- retries, and the outcome rule (nothing with outcome `unknown` is sent
-- again; a POST carries no idempotency key).  The admission is
-- attach_many's: slow start per integration, Kombo's `Concurrency-Limit`
-- and `PLATFORM.CONCURRENCY_LIMIT_EXCEEDED` lower it, a rate-limit 429
-- pauses every new attempt; the options, `on_result`, `on_progress`,
-- `stop`, the lazily read iterator, the @{BatchError} and both engines
-- (one libcurl multi handle; light threads inside nginx) are the same.
-- @function Client:run_many
-- @within Client
-- @tparam string name the operation, as its method is named (`"create_application"`)
-- @tparam {table,...}|func jobs an array of argument tables, or a function returning
-- the next one and `nil` at the end (read only as slots free up)
-- @tparam[opt] BulkOptions opts the options
-- @treturn BulkSummary the summary (`results[i]`: the `res` or `err` of job i,
-- when no `on_result` is given)
-- @raise an unknown operation, a bad option, a closed client; or a @{BatchError}
-- (as for @{Client:attach_many})
-- @usage
-- local summary = client:run_many("create_application", rows, {
--   concurrency = 10,
--   on_result = function(i, res, err)
--     if err and err.already_exists then print(i, "exists")
--     elseif err then print(i, err) else print(i, res.data.id) end
--   end,
-- })
function M.run_many(self, name, jobs, opts)
  local p = state(self, "run_many")
  local op = type(name) == "string" and OPERATIONS[name] or nil
  if not op then
    local what = type(name) ~= "string" and "operation name expected, got " .. type(name)
      or ("unknown operation '%s'%s"):format(name, bulk.did_you_mean(name, OPERATIONS))
    error(("bad argument #1 to 'run_many' (%s)"):format(what), 2)
  end
  local function pick(job)
    if type(job) ~= "table" then
      return nil, { { path = "job", message = ("must be a table of %s arguments, got %s"):format(name, type(job)) } }
    end
    return op
  end
  local host = M.host(self, p, pick, "run_many", 2, "request", function() return op end)
  return bulk.run(host, jobs, opts)
end

return M
