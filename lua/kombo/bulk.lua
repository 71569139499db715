--- attach_many and run_many: many calls at once, within Kombo's concurrency limit.
--
-- One loop in one coroutine decides what to send and when; an engine moves
-- the bytes of several attempts together:
--   * outside nginx, one libcurl multi handle (core.multi(), csrc/lua/lua_multi.c);
--   * inside nginx, one light thread (ngx.thread) per attempt over cosockets.
-- Each job is an ordinary call of the C core: its retry policy, its outcome
-- rule (nothing that may have landed is sent again) and its result are
-- exactly those of a single attach_to_candidate.  What the loop adds is the
-- admission: how many attempts may be in flight per integration, lowered
-- when Kombo says "too many" (429 PLATFORM.CONCURRENCY_LIMIT_EXCEEDED) and
-- grown back by one after a run of successes, and a pause of every new
-- attempt after a rate-limit 429.
local core = require "kombo.core"
-- kombo.trace, the observer's events (debug, hooks): a job is observed only
-- by what trace.observer made (lua/kombo/client.lua loads it for a client or
-- call with debug or hooks), and a batch takes it from there when it meets
-- its first observed job or its restrictions requests are logged.  Inside
-- nginx loaded with this module.
local trace = require("kombo.nginx").in_nginx() and require "kombo.trace" or nil

local bulk = {}

local now = core.now
local max, min = math.max, math.min
local pcall = pcall -- (an upvalue, not a global looked up, on every job's path)

-- Kombo's documented ceiling of in-flight actions per integration.
bulk.MAX_PER_INTEGRATION = 30
local POLL = 0.1 -- the longest the loop waits before it looks at stop() again
local CONCURRENCY_CODE = "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"

---------------------------------------------------------------- engines

-- Each engine moves an attempt with add(call, job) -> true | nil, err and
-- gives back the jobs whose attempt ended with run(timeout) -> { job, ... }
-- (a multi handle's m:add and m:run); the loop calls them on engine.multi
-- when there is one, else on the engine.  start(job) (add, raising),
-- abort(job) and close() are for the rest.

-- libcurl: one multi handle; m:run() gives back the jobs whose attempt ended
-- (m:add's second argument: no table from calls to jobs).
local CurlEngine = {}
CurlEngine.__index = CurlEngine

function bulk.curl_engine()
  return setmetatable({ multi = core.multi() }, CurlEngine)
end

function CurlEngine:start(job)
  local ok, err = self.multi:add(job.call, job)
  if not ok then error("kombo batch: " .. err, 0) end
end

function CurlEngine:abort(job)
  self.multi:abort(job.call)
end

function CurlEngine:close() self.multi:close() end

-- nginx: a light thread per attempt; each one that ends queues its job and
-- wakes the loop (a semaphore when lua-resty-core has one, else polling).
local NgxEngine = {}
NgxEngine.__index = NgxEngine

local function ngx_attempt(engine, job)
  local ok, err = pcall(engine.attempt, job.call, engine.config, job.obs and job.obs.measure)
  if not ok then -- a bug or misuse below: never "not sent", since bytes may have gone
    job.call:complete({ error = "aborted", phase = "waiting", message = "the attempt failed: " .. tostring(err) },
      now(), engine.ngx.now())
  end
  local q = engine.ended
  q[#q + 1] = job
  engine.threads[job] = nil
  if engine.sema then engine.sema:post(1) end
end

-- lua-resty-core's semaphore (the engine waits on it for an attempt to
-- end), or false without it: inside nginx loaded with this module, in
-- init_by_lua before the workers fork, not by a worker's first batch.
local ngx_semaphore
local function semaphore_module()
  if ngx_semaphore == nil then
    local ok, m = pcall(require, "ngx.semaphore")
    ngx_semaphore = ok and m or false
  end
  return ngx_semaphore
end
if require("kombo.nginx").in_nginx() then semaphore_module() end

function bulk.ngx_engine(attempt, config)
  local semaphore = semaphore_module()
  return setmetatable({
    ngx = rawget(_G, "ngx"), attempt = attempt, config = config, threads = {}, ended = {},
    sema = semaphore and semaphore.new(0) or nil,
  }, NgxEngine)
end

function NgxEngine:start(job)
  local t, err = self.ngx.thread.spawn(ngx_attempt, self, job)
  if not t then error("kombo batch: cannot start a light thread: " .. tostring(err), 0) end
  if self.ended[#self.ended] ~= job then self.threads[job] = t end -- (it may have ended at once)
end

function NgxEngine:add(_, job)
  self:start(job)
  return true
end

function NgxEngine:run(timeout)
  if #self.ended == 0 then
    -- Always yield, for at least 1 ms: the light threads run only while
    -- this one waits (and ngx.sleep(0) without OpenResty's delayed-events
    -- patch does not let their I/O run).
    timeout = max(timeout, 0.001)
    if self.sema then self.sema:wait(timeout) else self.ngx.sleep(min(timeout, 0.005)) end
  end
  local q = self.ended
  self.ended = {}
  return q
end

-- A killed light thread leaves its attempt unreported: it is reported here
-- as aborted after the request was sent (the thread may have written it
-- all), so that it is never taken for "not sent".
function NgxEngine:abort(job)
  local t = self.threads[job]
  if t then self.ngx.thread.kill(t) end
  self.threads[job] = nil
  job.call:complete({ error = "aborted", phase = "waiting", message = "cut off: the batch was aborted" },
    now(), self.ngx.now())
end

function NgxEngine:close()
  for job in pairs(self.threads) do self:abort(job) end
end

---------------------------------------------------------------- admission

-- Per integration: how many attempts may be in flight now (`allowed`),
-- never above what the server announced (`announced`, Concurrency-Limit),
-- the batch's concurrency or 30.
-- A new integration starts at a few in flight and adds one per success
-- (TCP's slow start: doubling per round trip) until its ceiling or its
-- first "too many": a first burst of the whole concurrency would meet a low
-- limit with that many 429s at once.
local SLOW_START = 4

local function limiter(lims, integration, ceiling)
  local l = lims[integration]
  if not l then
    l = { allowed = min(SLOW_START, ceiling), ceiling = ceiling, in_flight = 0, streak = 0, slow_start = true }
    lims[integration] = l
  end
  return l
end

-- What the answer of a job's last attempt says about the limits of its
-- integration (`lim`): call:limits()'s values.
local function learn(lim, batch, t, status, code, climit, cremaining, retry_after, rate_reset)
  if climit then lim.ceiling = max(1, min(lim.ceiling, climit)); lim.allowed = min(lim.allowed, lim.ceiling) end
  if status and status < 300 then -- (the common answer first)
    if cremaining == 0 then
      lim.allowed = max(1, min(lim.allowed, lim.in_flight + 1))
      lim.streak, lim.slow_start = 0, false
    elseif lim.slow_start then
      if lim.allowed < lim.ceiling then lim.allowed = lim.allowed + 1 end
    else
      lim.streak = lim.streak + 1
      if lim.streak >= lim.allowed and lim.allowed < lim.ceiling then
        lim.allowed, lim.streak = lim.allowed + 1, 0
      end
    end
  elseif status == 429 then
    if code == CONCURRENCY_CODE then
      -- Too many in flight: the server holds at least its limit, so what we
      -- still have out is what it takes from us now (others may use the
      -- integration too); this job backs off (the core's ~1 s first wait).
      lim.allowed = max(1, min(lim.allowed, lim.in_flight))
      lim.streak, lim.slow_start = 0, false
      batch.concurrency_429 = batch.concurrency_429 + 1
    else
      -- The rate limit: no new attempt of any job before it resets.
      local wait = retry_after or rate_reset or 1
      batch.paused_until = max(batch.paused_until, t + min(wait, 60))
    end
  end
end

---------------------------------------------------------------- the loop

-- " (did you mean 'x'?)" for an unknown option `key` among the keys of
-- `known`, or "" (the core's key suggestion, kombo_suggest_key).
function bulk.did_you_mean(key, known)
  if type(key) ~= "string" then return "" end
  local names = {}
  for k in pairs(known) do names[#names + 1] = k end
  table.sort(names)
  local near = core.suggest_key(key, names)
  return near and (" (did you mean '%s'?)"):format(near) or ""
end

-- `fname` and `arg`: the caller's name and the position of its options
-- argument, for the messages (attach_many(jobs, opts), run_many(name, jobs, opts)).
local function check_opts(opts, fname, arg)
  local function bad(msg) error(("bad argument #%d to '%s' (%s)"):format(arg, fname, msg), 5) end
  if opts == nil then return {} end
  if type(opts) ~= "table" then bad("options table expected, got " .. type(opts)) end
  local known = { concurrency = "number", on_result = "function", on_progress = "function",
    progress_interval = "number", stop = "function", on_attempt = "function" }
  for k, v in pairs(opts) do
    if not known[k] then bad(("unknown option '%s'%s"):format(tostring(k), bulk.did_you_mean(k, known))) end
    if type(v) ~= known[k] then bad(("option '%s' must be a %s, got %s"):format(k, known[k], type(v))) end
  end
  local c = opts.concurrency
  if c ~= nil and not (c >= 1 and c <= bulk.MAX_PER_INTEGRATION and c == math.floor(c)) then
    bad("option 'concurrency' must be a whole number from 1 to 30")
  end
  if opts.progress_interval ~= nil and not (opts.progress_interval >= 0) then -- luacheck: ignore 581 (NaN)
    bad("option 'progress_interval' must be >= 0")
  end
  return opts
end

local function job_source(jobs, fname, arg)
  if type(jobs) == "function" then return jobs end
  if type(jobs) ~= "table" then
    error(("bad argument #%d to '%s' (an array of jobs or an iterator function expected, got %s)")
      :format(arg, fname, type(jobs)), 4)
  end
  local i = 0
  return function()
    i = i + 1
    return jobs[i]
  end
end

-- What attach_many raises when on_result, on_progress, stop() or the jobs
-- iterator raised: the batch took nothing new, finished what was in flight
-- (no new attempt, no retry), and `results` holds the outcome of every job
-- taken that on_result did not get (the one whose on_result raised too).
local BatchError = {}
BatchError.__index = BatchError
function BatchError:__tostring() return self.message end

function bulk.is_batch_error(v) return getmetatable(v) == BatchError end

-- How long the batch remembers that an integration's restrictions could
-- not be fetched: the jobs taken meanwhile fail with that error at once.
bulk.PREFLIGHT_RETRY_AFTER = 5

-- Runs the batch.  `host` is what the client supplies:
--   host.prepare(job) -> call, integration_id[, need] | nil, err   (validation, cached preflight;
--                        need: restrictions to fetch first, { key = } and what host.fetch needs)
--   host.fetch(need) -> call | nil, err        (the restrictions request, not sent)
--   host.fetched(need, call) -> hit            (its answer, cached; closes the call)
--   host.check(call, hit) -> err | nil         (the preflight check of an upload)
--   host.prepare_fast(job, reuse, t) -> call, integration_id[, step, delay] | nil, problems[, shape]
--                        | false   (optional, never raises: the common job in one
--                        step, made in the closed call `reuse` when given;
--                        with t, its first call:next(t) too; nil: refused,
--                        host.refused(problems, shape) words it; false:
--                        host.prepare makes it)
--   host.result(call[, failure[, raw]]) -> res | nil, err    (errors.from_result; a hook's failure:
--                                                             errors.hook_failure); closes the call
--                                                             (raw: its plain result, the call closed)
--   host.result_index                  (optional) the __index of a success the core dresses:
--                                      call:after(t, index) then gives a done call's result
--   host.engine                                              (above)
--   host.observer, host.secret        what watches the attempts (trace.observer: debug, hooks; a job's
--                                     own from host.prepare's fourth value), the key
--   host.fname, host.jobs_arg, host.noun   the caller's name, its jobs
--                               argument's position and what a job sends,
--                               for messages (default attach_many, 1, upload)
--   host.client                 (optional) the client's state: `closed` once
--                               it was closed (from a callback), when no
--                               attempt may start any more
function bulk.run(host, jobs, opts)
  local fname, jobs_arg, noun = host.fname or "attach_many", host.jobs_arg or 1, host.noun or "upload"
  opts = check_opts(opts, fname, jobs_arg + 1)
  local next_job = job_source(jobs, fname, jobs_arg)
  local concurrency = opts.concurrency or 8
  local on_result, on_progress, stop = opts.on_result, opts.on_progress, opts.stop
  local on_attempt = opts.on_attempt
  local interval = opts.progress_interval or 0.25
  local engine = host.engine
  local client_state = host.client or {}
  -- What moves the attempts, its add and run called directly: the libcurl
  -- engine's multi (no method of the engine's between the loop and the
  -- multi per attempt), or the nginx engine.
  local mover = engine.multi or engine
  local mover_add, mover_run = mover.add, mover.run
  local host_prepare, host_result = host.prepare, host.result -- (called per job)
  local result_index = host.result_index
  -- (false: "not mine", host.prepare makes the job)
  local prepare_fast = host.prepare_fast or function() return false end
  -- prepare_fast's `t`, for the job's first step (none when on_attempt's
  -- on_written is to be set first)
  local first_step = (not on_attempt) or nil
  local ceiling = min(concurrency, bulk.MAX_PER_INTEGRATION)
  local max_active = 4 * concurrency -- jobs taken and not done, at most
  local started = now()
  -- The restrictions requests are shown in the debug log, not to hooks.
  local fetch_obs = host.observer and host.observer.debug
    and { debug = host.observer.debug, secret = host.secret } or nil
  if fetch_obs and trace == nil then trace = require "kombo.trace" end

  local batch = { paused_until = 0, concurrency_429 = 0 }
  local lims = {}
  local results = (not on_result) and {} or nil
  local nsucceeded, nfailed, nretries = 0, 0, 0 -- (the summary's counts, written there at the end)
  local ready = {}    -- jobs whose call said "send", oldest first (retries go first)
  local sleeping = {} -- jobs backing off before a retry (restrictions requests too)
  -- Every job table the batch made (take() makes one only when none is
  -- spare: at most about max_active of them, each taken again and again).
  -- A job has an attempt in flight when job.flying is true; those are
  -- found by a look through these when wanted (an abort, progress), not
  -- kept in a collection of their own changed twice per attempt (a table
  -- keyed by job would even be rebuilt every few inserts, its keys
  -- changing with every attempt: issue 24).  (A restrictions request's
  -- job is in `fetches`.)
  local made = {}
  local fetches = {}  -- need.key -> { job =, need =, waiters = { jobs } }: a restrictions request under way
  local fetch_failed = {} -- need.key -> { hit =, expires = }
  local in_flight, active, taken = 0, 0, 0
  local bytes_done = 0 -- body bytes of attempts that ended (counted for on_progress)
  local exhausted, stopped = false, nil
  local next_progress = started + interval
  local callback_error -- { where =, cause =, index = }: a callback raised; the batch drains
  local undelivered = on_result and {} or results -- outcomes on_result did not get

  local function raised(where, e, index, returned)
    if not callback_error then callback_error = { where = where, cause = e, index = index, returned = returned } end
  end

  -- Drain ("drain", or a callback raised): nothing new is sent.
  local function halting() return stopped ~= nil or callback_error ~= nil end

  local function report(index, res, err)
    if err then nfailed = nfailed + 1 else nsucceeded = nsucceeded + 1 end
    if results then
      results[index] = res or err
    elseif callback_error then
      undelivered[index] = res or err
    else
      local ok, e = pcall(on_result, index, res, err)
      if not ok then
        undelivered[index] = res or err -- (the caller cannot know whether it was kept)
        raised("on_result", e, index)
      end
    end
  end

  local function stats(t)
    local bytes = bytes_done
    for _, job in ipairs(made) do if job.flying then bytes = bytes + (job.call:sent()) end end
    for _, f in pairs(fetches) do if f.job.flying then bytes = bytes + (f.job.call:sent()) end end
    local allowed = 0
    for _, l in pairs(lims) do allowed = allowed + l.allowed end
    return {
      done = nsucceeded + nfailed, succeeded = nsucceeded, failed = nfailed,
      in_flight = in_flight, waiting = #sleeping, bytes_sent = bytes, retries = nretries,
      concurrency = next(lims) and min(allowed, concurrency) or concurrency, elapsed = t - started,
    }
  end

  local function progress(t, force)
    if on_progress and not callback_error and (force or t >= next_progress) then
      next_progress = t + interval
      local ok, e = pcall(on_progress, stats(t))
      if not ok then raised("on_progress", e) end
    end
  end

  -- A job's attempt is over (ended or cut off): no longer in flight.
  -- (Inlined for the common job in the loop of m:run's list, below: a
  -- change here goes there too.)
  local function landed(job)
    job.flying = false
    if job.fetch then return end
    in_flight = in_flight - 1
    job.lim.in_flight = job.lim.in_flight - 1
    if on_progress then bytes_done = bytes_done + (job.call:sent()) end
  end

  -- The tables of finished jobs, taken again by new ones (take()): a batch
  -- makes about one job table per slot, not one per job (nothing holds a
  -- job once finish() has reported it), and each keeps its closed call,
  -- in which host.prepare_fast makes the next job's.  (spare[0]: false,
  -- "none", a key present: reading a missing key is the VM's slow path.)
  local spare, nspare = { [0] = false }, 0

  local fetched -- below

  -- call:after, looked up when the first job's table is made (take()):
  -- every call of the core has the same methods, and a method found
  -- through a userdata's metatable is the VM's slow path, per job.
  local call_after

  -- `res`, `dressed`: the result call:after gave with the step "done" (the
  -- call closed then), a success dressed by the core or the plain result.
  -- (Inlined for a dressed success of the common job in the loop of m:run's
  -- list, below: a change here goes there too.)
  local function finish(job, res, dressed)
    if job.fetch then return fetched(job) end
    active = active - 1
    local err
    if not dressed then
      -- (host.result closes the call: take() may make the next job's in it)
      res, err = host_result(job.call, job.failure or nil, res)
    end
    local index = job.index
    -- A job the batch ended before sending: `not_started` tells it from one
    -- that was tried (a caller may simply run it again later).
    if err and job.attempt == 0 and err.kind == "aborted" then err.not_started = true end
    nspare = nspare + 1
    spare[nspare] = job
    return report(index, res, err) -- (a tail call: no frame of finish()'s to return through)
  end

  -- A job that gets no further attempt: its last answer stands; one never
  -- sent ends as not sent.
  local function settle(job, t, why)
    if job.attempt == 0 then
      job.call:complete({ error = "aborted", phase = "connect",
        message = "the batch was " .. why .. " before this " .. noun .. " was sent" }, t, os.time())
    end
    finish(job)
  end

  -- Before an attempt goes, when the job has hooks or the batch an
  -- on_attempt: false when it may not (the job is finished then).
  local function may_send(job, t)
    if job.obs then
      -- Hooks first: one that fails sends nothing (and nothing is journaled).
      local failure = trace.request(job.obs, job.call, job.attempt + 1)
      if failure then
        trace.unsent(job.call, job.attempt + 1, failure)
        job.failure = trace.failed(job.call, failure, job.attempt + 1)
        job.failure.last = job.last or nil -- (an attempt before: its answer stands whole)
        finish(job)
        return false
      end
    end
    if on_attempt then
      -- The caller's record that the request starts to go out (a journal):
      -- if it cannot be made, the request is not sent.
      local ok, e = pcall(on_attempt, job.index, "sending", { attempt = job.attempt + 1 })
      if not ok then
        raised("on_attempt", e, job.index)
        job.call:complete({ error = "aborted", phase = "connect",
          message = "not sent: on_attempt raised: " .. tostring(e) }, t, os.time())
        finish(job)
        return false
      end
    end
    return true
  end

  -- (Inlined for the first attempt of a job nothing watches in take(),
  -- above: a change here goes there too.)
  local function send(job, t)
    if client_state.closed then
      -- Closed from a callback: the attempt cannot start (the core would
      -- raise); the job ends as settle() ends one, its last answer standing.
      if job.attempt == 0 then
        job.call:complete({ error = "aborted", phase = "connect",
          message = "the client was closed before this " .. noun .. " was sent" }, t, os.time())
      end
      return finish(job)
    end
    if (job.obs or on_attempt) and not may_send(job, t) then return end
    local lim = job.lim
    lim.in_flight = lim.in_flight + 1
    in_flight = in_flight + 1
    local attempt = job.attempt + 1
    job.attempt = attempt
    if attempt > 1 then nretries = nretries + 1 end
    job.flying = true
    local ok, e = mover_add(mover, job.call, job)
    if not ok then error("kombo batch: " .. e, 0) end
  end

  -- A restrictions request (preflight) goes at once, outside the admission.
  local function send_fetch(job)
    job.attempt = job.attempt + 1
    if fetch_obs then trace.request(fetch_obs, job.call, job.attempt) end
    job.flying = true
    engine:start(job)
  end

  local function can_send(job, t)
    return in_flight < concurrency and job.lim.in_flight < job.lim.allowed and t >= batch.paused_until
  end

  -- on_attempt's "written": called by the core just before the bytes that
  -- complete the request are handed to the transport (and so before it
  -- can land): if it raises, the attempt is aborted as not sent.  It must
  -- not yield.
  local function written_hook(job, call)
    call:on_written(function()
      return on_attempt(job.index, "written", { attempt = job.attempt, digest = call:digest() })
    end)
  end

  -- The call said what is next (call:next's step and delay): send now
  -- (queued), wait, or it is done.  While the batch drains, nothing is
  -- sent again.
  local function follow(job, t, step, delay)
    if step == "done" then
      finish(job)
    elseif halting() and not job.fetch then
      settle(job, t, "drained")
    elseif step == "sleep" then
      local failure = job.obs and trace.sleep(job.obs, job.call, delay, job.attempt)
      if failure then
        job.failure = trace.failed(job.call, failure, job.attempt)
        return finish(job)
      end
      job.wake = t + delay
      sleeping[#sleeping + 1] = job
    elseif step == "send" then
      if job.fetch then send_fetch(job) else ready[#ready + 1] = job end
    else
      finish(job)
    end
  end

  local function advance(job, t)
    local step, delay = job.call:next(t)
    return follow(job, t, step, delay)
  end

  -- Preflight: a job whose integration's restrictions are known is checked,
  -- then queued (returned when ready to send) or reported as refused.
  local function checked(job, hit, t)
    local err = host.check(job.call, hit)
    if err then
      active = active - 1
      job.call:close()
      nspare = nspare + 1 -- (its table taken again, as finish() does: `made` stays bounded)
      spare[nspare] = job
      report(job.index, nil, err)
      return nil
    end
    advance(job, t)
    return ready[#ready] == job and job or nil
  end

  -- A job waits for its integration's restrictions: one request per
  -- integration and target at a time, sent by the engine beside the uploads;
  -- a failure is remembered for a few seconds.
  local function preflight(job, need, t)
    local failed = fetch_failed[need.key]
    if failed and failed.expires > t then return checked(job, failed.hit, t) end
    local f = fetches[need.key]
    if not f then
      local call, err = host.fetch(need)
      if not call then return checked(job, { err = err }, t) end
      f = { need = need, waiters = {} }
      f.job = { call = call, attempt = 0, fetch = f, obs = fetch_obs or false, flying = false, lim = false,
        wake = false, failure = false, last = false }
      fetches[need.key] = f
      advance(f.job, t)
    end
    f.waiters[#f.waiters + 1] = job
    return nil
  end

  function fetched(fjob)
    local f = fjob.fetch
    fetches[f.need.key] = nil
    local hit = host.fetched(f.need, fjob.call)
    local t = now()
    if hit.err then fetch_failed[f.need.key] = { hit = hit, expires = t + bulk.PREFLIGHT_RETRY_AFTER } end
    for _, job in ipairs(f.waiters) do checked(job, hit, t) end
  end

  -- New jobs while there is room (in_flight below the concurrency, and not
  -- more than a few times the concurrency taken and not done, so that
  -- memory stays bounded), until the jobs run out or a callback raises.
  -- Each is prepared, then sent at once when it may go, else queued (or
  -- waiting for its integration's restrictions, or done: refused).  (The
  -- loop here, not around a call per job: one Lua call per job fewer.)
  local function take(t)
    while in_flight < concurrency and active < max_active and not exhausted and not callback_error do
      local got, job = pcall(next_job)
      if not got then
        raised("jobs", job)
        exhausted = true
      elseif job == nil then
        exhausted = true
      else
        taken = taken + 1
        local j = spare[nspare] -- (false: none)
        local call, integration_or_err, step, delay = prepare_fast(job, j and j.call, first_step and t)
        local need, observer
        if call == nil then
          -- (the core refused the job, and said why)
          report(taken, nil, host.refused(integration_or_err, step))
        elseif not call then
          call, integration_or_err, need, observer = host_prepare(job)
          if not call then report(taken, nil, integration_or_err) end
        end
        if call then
          active = active + 1
          local lim = lims[integration_or_err] or limiter(lims, integration_or_err, ceiling)
          if j then
            nspare = nspare - 1 -- (its slot is written over by the next one spared)
            j.index, j.call, j.attempt, j.lim = taken, call, 0, lim
            -- (A finished job's flying is false, its wake read only while it
            -- sleeps: only what hooks left, failure and last, goes.)
            if observer or j.obs then j.obs, j.failure, j.last = observer or false, false, false end
          else
            -- Every field a job has, false for none: a job's table never
            -- gains a key, and reading one never misses (the VM's slow path).
            j = { index = taken, call = call, attempt = 0, obs = observer or false, flying = false, lim = lim,
              wake = false, failure = false, last = false, fetch = false }
            made[#made + 1] = j
            call_after = call_after or call.after
          end
          if observer then
            if trace == nil then trace = require "kombo.trace" end -- (its events: may_send, follow, ended)
            if observer.measure then call:measure() end
          end
          if on_attempt then written_hook(j, call) end
          if need then
            local ready_job = preflight(j, need, t)
            if ready_job and can_send(ready_job, t) then ready[#ready] = nil; send(ready_job, t) end
          else
            if not step then step, delay = call:next(t) end
            -- (no halting() here: take() runs only while nothing halts; and
            -- can_send(j, t) is its integration's limit alone: take() runs
            -- only while in_flight < concurrency and nothing is paused)
            if step ~= "send" or lim.in_flight >= lim.allowed then
              follow(j, t, step, delay)
            elseif observer or on_attempt or client_state.closed then
              send(j, t)
            else
              -- send(j, t), inline: the first attempt of a job nothing
              -- watches (one Lua call per job fewer)
              lim.in_flight = lim.in_flight + 1
              in_flight = in_flight + 1
              j.attempt, j.flying = 1, true
              local ok, e = mover_add(mover, call, j)
              if not ok then error("kombo batch: " .. e, 0) end
            end
          end
        end
      end
    end
  end

  -- The end of an attempt of a job that is watched (hooks, debug) or a
  -- restrictions request, or one cut off meanwhile; the common job's is
  -- in the loop below.
  local function ended(job, t)
    if not job.flying then return end -- (cut off meanwhile)
    landed(job)
    local failure = job.obs and trace.response(job.obs, job.call, job.attempt)
    if job.obs then job.last = trace.last_result(job.obs, job.call, failure) end
    if not job.fetch then learn(job.lim, batch, t, job.call:limits()) end
    if failure then
      job.failure = trace.failed(job.call, failure, job.attempt)
      return finish(job)
    end
    advance(job, t)
  end

  -- Drain: what is queued and was never sent ends as not sent, what waits
  -- for a retry ends with its last answer, and the restrictions requests
  -- are dropped with the jobs waiting for them; only the attempts in flight
  -- go on.
  local function drain(t, why)
    for key, f in pairs(fetches) do
      fetches[key] = nil
      if f.job.flying then engine:abort(f.job); landed(f.job) end
      f.job.call:close()
      for _, job in ipairs(f.waiters) do
        job.call:next(t) -- ("send": its first attempt)
        settle(job, t, why)
      end
    end
    for _, list in ipairs({ ready, sleeping }) do
      for i = #list, 1, -1 do
        local job = table.remove(list, i)
        if not job.fetch then settle(job, t, why) end
      end
    end
  end

  local ok, err = pcall(function()
    for _ = 1, 1e9 do -- ends when every job is done; the bound is a backstop
      local t = now()
      if stop and stopped ~= "abort" and not (callback_error and callback_error.where == "stop") then
        -- (after "drain" too: an "abort" may follow, a second Ctrl-C)
        local called, s = pcall(stop)
        if not called then raised("stop", s)
        elseif s == "drain" or s == "abort" then stopped = s
        elseif s ~= nil and s ~= false then
          -- (a typo such as "halt", or true, must not be ignored: the batch drains and raises)
          raised("stop", ("stop() returned %s; it must return nil, false, \"drain\" or \"abort\"")
            :format(type(s) == "string" and ("%q"):format(s) or tostring(s)), nil, true)
        end
      end
      -- (halting(), inline: once per turn of the loop; stopped: nil or a
      -- string, callback_error: nil or a table)
      if stopped or callback_error then
        if stopped == "abort" then
          -- the attempts in flight are cut off and reported in the order of
          -- their jobs (not of the tables that happen to hold them)
          local cut = {}
          for _, job in ipairs(made) do if job.flying then cut[#cut + 1] = job end end
          table.sort(cut, function(a, b) return a.index < b.index end)
          for _, job in ipairs(cut) do
            engine:abort(job)
            landed(job)
            finish(job)
          end
          drain(t, "aborted")
          break
        end
        if #ready > 0 or #sleeping > 0 or next(fetches) then drain(t, "drained") end
        -- (nothing then sleeps, waits to be sent or is taken)
      else
        -- (`sleeping` and `ready` are sequences of jobs, mostly empty: q[1]
        -- says #q > 0 without the length operator's search, every turn)
        -- Wake the jobs whose wait is over; they go before new ones.
        if sleeping[1] then
          for i = #sleeping, 1, -1 do
            local job = sleeping[i]
            if job.wake <= t then
              table.remove(sleeping, i)
              local step = job.call:next(t) -- "send" after a "sleep"
              if step ~= "send" then finish(job)
              elseif job.fetch then send_fetch(job)
              else table.insert(ready, 1, job) end
            end
          end
        end
        -- Send what may go, oldest first; a job held back by its integration's
        -- limit does not hold back another integration's.
        if ready[1] then
          local i = 1
          while i <= #ready and in_flight < concurrency do
            local job = ready[i]
            if can_send(job, t) then table.remove(ready, i); send(job, t) else i = i + 1 end
          end
        end
        -- New jobs, while there is room (what is still queued now waits for
        -- its own integration's limit).  (take() does not change `stopped`
        -- or the pause)
        if t >= batch.paused_until then take(t) end
      end
      if active == 0 and (exhausted or stopped ~= nil or callback_error ~= nil) then break end
      -- Wait for an attempt to end, a retry's time, or the next look at
      -- stop() (POLL when nothing sleeps, waits to be sent or reports
      -- progress: the common turn).
      local wait = POLL
      if sleeping[1] or ready[1] or on_progress then
        local until_t = t + POLL
        for s = 1, #sleeping do until_t = min(until_t, sleeping[s].wake) end
        if #ready > 0 and batch.paused_until > t then until_t = min(until_t, batch.paused_until) end
        if on_progress and not callback_error then until_t = min(until_t, next_progress) end
        -- (At least 1 ms: everything that could go has gone, and a zero wait
        -- would spin until an attempt ends.)
        wait = until_t - t
        if not (wait >= 0.001) then wait = 0.001 end -- luacheck: ignore 581 (math.max's answer for NaN too)
      end
      -- ((now()): core.now() also returns the wall time, which must not
      -- land in progress()'s `force`)
      -- (m:run's list is the multi's own, refilled by the next m:run; its
      -- second value is the time it returned at: every job in the list
      -- ended before then, so that is their "now", the closest to their
      -- answers (the nginx engine gives none); its third, how many it holds)
      local list, returned_at, nlist = mover_run(mover, wait)
      local te = returned_at or now()
      for k = 1, nlist or #list do
        local job = list[k]
        if job.flying and not (job.obs or job.fetch) then
          -- The common end of an attempt, inline (landed(job), then what the
          -- answer says of the limits and what the call does next, in one
          -- step of the core; with the step "done", the result too: the
          -- call is closed then)
          local lim, call = job.lim, job.call
          job.flying = false
          in_flight = in_flight - 1
          lim.in_flight = lim.in_flight - 1
          if on_progress then bytes_done = bytes_done + (call:sent()) end
          local step, delay, status, code, climit, cremaining, retry_after, rate_reset, res, dressed =
            call_after(call, te, result_index)
          learn(lim, batch, te, status, code, climit, cremaining, retry_after, rate_reset)
          if step ~= "done" then
            follow(job, te, step, delay)
          elseif dressed then
            -- finish(job, res, true), inline: a success the core dressed
            active = active - 1
            nspare = nspare + 1
            spare[nspare] = job
            report(job.index, res)
          else
            finish(job, res)
          end
        else
          ended(job, te)
        end
      end
      if on_progress then progress((now())) end
    end
  end)
  engine:close()
  if not ok then error(err, 0) end
  if not callback_error then progress(now(), true) end
  local summary = { succeeded = nsucceeded, failed = nfailed, retries = nretries, elapsed = now() - started,
    stopped = stopped, results = results }
  if callback_error then
    local c = callback_error
    error(setmetatable({
      kind = "callback", where = c.where, cause = c.cause, index = c.index,
      message = ("%s: %s%s; the batch took no new job and finished those in flight "
        .. "(err.results: the outcomes on_result did not get)"):format(fname,
        c.returned and "" or (c.where == "jobs" and "the jobs iterator" or c.where) .. " raised: ",
        tostring(c.cause)),
      results = undelivered or {}, summary = summary,
    }, BatchError), 0)
  end
  return summary
end

return bulk
