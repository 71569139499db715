--- The opt-in debug log (client option `debug = function(line) end`).
--
-- One line per event of a call: the request (Authorization redacted, the
-- body only as its length), each answer, each wait before a retry.  The
-- API key never reaches the hook.
local redact = require("kombo.errors").redact

local trace = {}

local function emit(hook, line)
  -- A failing log hook must not break the upload it describes.
  pcall(hook, line)
end

function trace.request(hook, call, attempt)
  local url, headers, length, _, method = call:request()
  emit(hook, ("kombo: > %s %s (attempt %d)"):format(method, url, attempt))
  for _, h in ipairs(headers) do
    if h:sub(1, 14):lower() == "authorization:" then h = "Authorization: Bearer <redacted>" end
    emit(hook, "kombo: > " .. h)
  end
  if method ~= "GET" then emit(hook, ("kombo: > Content-Length: %d (body not shown)"):format(length)) end
end

function trace.response(hook, call, secret)
  local r = call:result()
  if r.kind == "ok" then
    emit(hook, ("kombo: < HTTP %d, success after %.3f s"):format(r.status, r.elapsed))
  else
    -- The message can quote the server, and a server may echo the key.
    emit(hook, ("kombo: < %s%s: %s (outcome %s)"):format(r.kind,
      r.status and (" HTTP " .. r.status) or "", redact(r.message, secret), r.outcome))
  end
end

function trace.sleep(hook, delay)
  emit(hook, ("kombo: retrying in %.3f s"):format(delay))
end

--- Drives a call with a Lua loop, tracing each step.  `attempt(call)` makes
-- one attempt and reports it to the call; `sleep(seconds)` waits; `secret`
-- is redacted from anything the hook sees.
function trace.drive(call, hook, attempt, sleep, now, secret)
  local n = 0
  for _ = 1, 10000 do -- the core's retry policy ends the loop; the bound is a backstop
    local step, delay = call:next((now()))
    if step == "done" then break end
    if step == "sleep" then
      if hook then trace.sleep(hook, delay) end
      if delay > 0 then sleep(delay) end
    else
      n = n + 1
      if hook then trace.request(hook, call, n) end
      attempt(call)
      if hook then trace.response(hook, call, secret) end
    end
  end
  return call:result()
end

return trace
