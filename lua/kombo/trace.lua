--- What watches a call's attempts: the opt-in `debug` log (client option
-- `debug = function(line) end`) and the hooks (client and call option
-- `hooks = { before_request =, after_response =, on_retry = }`).
--
-- One stream of events, two consumers.  The events are those of the C
-- core's driver loop (csrc/core/call.c): an attempt is about to be sent
-- (`request`), an attempt ended (`response`), a wait before a retry
-- (`sleep`).  drive() runs that loop in Lua for a single call, and the
-- batch (lua/kombo/bulk.lua) calls the same three functions for its jobs.
-- The debug hook gets lines (Authorization redacted, the body only as its
-- length); the hooks get a table per event (HookInfo, lua/kombo/client.lua).
-- The API key never reaches either.
--
-- No observer, no cost: a client without debug and hooks has none, its
-- calls run the whole loop in C (call:perform()) and nothing here runs.
local errors = require "kombo.errors"
local core = require "kombo.core"

local redact = errors.redact
local pcall, type, ipairs, pairs, next = pcall, type, ipairs, pairs, next

local trace = {}

-- The hooks' names, in the order of an attempt.
trace.HOOKS = { "before_request", "after_response", "on_retry" }

--- The observer of a call: nil when there is nothing to observe.  `debug`
-- is the client's debug function; `client_hooks` and `call_hooks` are Hooks
-- tables (the call's run after the client's); `headers` are the call's own
-- headers (a before_request hook's are added to them); `secret` the API key.
function trace.observer(debug, client_hooks, call_hooks, headers, secret)
  local obs = { debug = debug, secret = secret, headers = headers }
  local any = false
  for _, name in ipairs(trace.HOOKS) do
    local list = {}
    if client_hooks and client_hooks[name] then list[#list + 1] = client_hooks[name] end
    if call_hooks and call_hooks[name] then list[#list + 1] = call_hooks[name] end
    if #list > 0 then
      obs[name] = list
      any = true
    end
  end
  obs.measure = obs.after_response ~= nil -- the transports measure the attempts for it
  if not debug and not any then return nil end
  return obs
end

local function emit(hook, line)
  -- A failing log hook must not break the upload it describes.
  pcall(hook, line)
end

-- The request as the log and the hooks show it is call:view()'s (in C):
-- its URL and headers redacted of the client's secrets, Authorization
-- masked, and the URL's path (no scheme, host or query).  Only
-- before_request's info has the headers.
local function info_of(event, call, attempt)
  local url, path, headers, length, method = call:view(event == "before_request")
  return { event = event, operation = call:operation(), method = method, url = url, path = path,
    attempt = attempt }, headers, length
end

-- Runs a hook list with `info`; returns the failure ({ hook =, cause = })
-- or nil, and what the hooks returned (before_request's headers).
local function run(list, name, info)
  local added
  for _, fn in ipairs(list) do
    local ok, got = pcall(fn, info)
    if not ok then return { hook = name, cause = got } end
    if got ~= nil then
      if type(got) ~= "table" or name ~= "before_request" then
        return { hook = name, cause = ("%s returned %s; only before_request may return a value "
          .. "(a table of headers)"):format(name, type(got)), returned = true }
      end
      added = added or {}
      for k, v in pairs(got) do added[k] = v end
    end
  end
  return nil, added
end

--- An attempt is about to be sent.  Returns nil, or the failure of a hook
-- ({ hook =, cause = }): nothing may then be sent.
function trace.request(obs, call, attempt)
  if obs.debug then
    local url, _, headers, length, method = call:view(true)
    emit(obs.debug, ("kombo: > %s %s (attempt %d)"):format(method, url, attempt))
    for _, h in ipairs(headers) do emit(obs.debug, "kombo: > " .. h) end
    if method ~= "GET" then emit(obs.debug, ("kombo: > Content-Length: %d (body not shown)"):format(length)) end
  end
  local list = obs.before_request
  if not list then return nil end
  local info, headers = info_of("before_request", call, attempt)
  info.headers = headers
  local failure, added = run(list, "before_request", info)
  if failure then return failure end
  if added and next(added) then
    -- The hooks' headers join the call's own, by the same rules (the core's).
    local all = {}
    if obs.headers then for k, v in pairs(obs.headers) do all[k] = v end end
    for k, v in pairs(added) do all[k] = v end
    local ok, why = call:set_headers(all)
    if not ok then
      return { hook = "before_request", cause = "it returned a header that cannot be sent: " .. why,
        returned = true }
    end
  end
  return nil
end

--- An attempt ended (answered or not).  Returns nil or a hook's failure.
function trace.response(obs, call, attempt)
  if obs.debug then
    local r = call:result()
    if r.kind == "ok" then
      emit(obs.debug, ("kombo: < HTTP %d, success after %.3f s"):format(r.status, r.elapsed))
    else
      -- The message can quote the server, and a server may echo the key.
      emit(obs.debug, ("kombo: < %s%s: %s (outcome %s)"):format(r.kind,
        r.status and (" HTTP " .. r.status) or "", redact(r.message, obs.secret), r.outcome))
    end
  end
  local list = obs.after_response
  if not list then return nil end
  local info = info_of("after_response", call, attempt)
  local kind, outcome, status, code = call:attempt_info()
  info.kind, info.outcome, info.status, info.code = kind, outcome, status, redact(code, obs.secret)
  info.connect_time, info.first_byte_time, info.total_time, info.bytes_sent = call:timing()
  return (run(list, "after_response", info))
end

--- A wait of `delay` seconds before attempt + 1.  Returns nil or a hook's failure.
function trace.sleep(obs, call, delay, attempt)
  if obs.debug then emit(obs.debug, ("kombo: retrying in %.3f s"):format(delay)) end
  local list = obs.on_retry
  if not list then return nil end
  local info = info_of("on_retry", call, attempt)
  local kind, outcome, status, code = call:attempt_info()
  info.kind, info.outcome, info.status, info.code = kind, outcome, status, redact(code, obs.secret)
  info.delay = delay
  return (run(list, "on_retry", info))
end

--- What a before_request hook's failure leaves: when it was the first
-- attempt, the call is told that nothing was sent (aborted, not_sent);
-- after that the last attempt's answer stands (the call is not told of an
-- attempt that never was).
function trace.unsent(call, attempt, failure)
  if attempt == 1 then
    local mono, wall = core.now()
    call:complete({ error = "aborted", phase = "connect",
      message = "the before_request hook " .. (failure.returned and "failed" or "raised") }, mono, wall)
  end
end

--- The result of the attempt that just ended, kept when a before_request
-- hook may fail on the next one: by then call:next() has readied the call
-- for that attempt (its answer, body and headers emptied, written_at
-- cleared), and the last attempt's answer must stand whole (the settle
-- of an upload whose outcome is unknown waits for written_at).
function trace.last_result(obs, call, failure)
  -- (a success is never retried: nothing to keep then)
  if obs.before_request and not failure and call:attempt_info() ~= "ok" then return call:result() end
  return nil
end

--- A hook's failure, completed with what errors.hook_failure needs.
function trace.failed(call, failure, attempt)
  local method = select(5, call:request())
  failure.attempt, failure.write = attempt, method ~= "GET"
  return failure
end

--- Drives a call with a Lua loop, telling `obs` each step.  `attempt(call)`
-- makes one attempt and reports it to the call; `sleep(seconds)` waits.
-- Returns call:result() and, when a hook failed, its failure (the call
-- then ended there: no further attempt).
function trace.drive(call, obs, attempt, sleep, now)
  local n = 0
  local last -- the result of the last attempt, for trace.last_result
  if obs.measure then call:measure() end
  for _ = 1, 10000 do -- the core's retry policy ends the loop; the bound is a backstop
    local step, delay = call:next((now()))
    if step == "done" then break end
    local failure
    if step == "sleep" then
      failure = trace.sleep(obs, call, delay, n)
      if not failure and delay > 0 then sleep(delay) end
    else
      n = n + 1
      failure = trace.request(obs, call, n)
      if failure then
        trace.unsent(call, n, failure)
        if last then return last, trace.failed(call, failure, n) end
      else
        attempt(call)
        failure = trace.response(obs, call, n)
        last = trace.last_result(obs, call, failure)
      end
    end
    if failure then return call:result(), trace.failed(call, failure, n) end
  end
  return call:result()
end

return trace
