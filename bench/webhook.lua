-- What a webhook delivery costs the worker: kombo.verify_webhook on bodies
-- from 1 KiB to 10 MB, for a good delivery (HMAC, compare, JSON decode),
-- a forged one (a well-formed signature that does not match: HMAC and
-- compare, no decode) and a malformed one (refused on the header alone).
-- Prints microseconds per call and per KiB; the median of BENCH_REPS runs.
--   make lib && LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/webhook.lua
local kombo = require "kombo"
local core = require "kombo.core"

local REPS = math.min(tonumber(os.getenv("BENCH_REPS")) or 5, 50)
local SECRET = "kombo_whsec_bench_0123456789abcdef"

-- The signature by the openssl command line (not by the code measured).
local function sign(body)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(body)
  f:close()
  local p = assert(io.popen(("openssl dgst -sha256 -hmac '%s' -binary '%s' | basenc --base64url | tr -d '=\\n'")
    :format(SECRET, path)))
  local sig = p:read("*a")
  p:close()
  os.remove(path)
  return sig
end

-- A data-changed event of about `size` bytes (a long string member pads it).
local function body_of(size)
  local head = '{"id":"evt-bench","type":"data-changed","data":{"integration_id":"x","integration_tool":"y",'
    .. '"integration_category":"ATS","changed_models":[{"name":"ats_applications"}],"pad":"'
  local tail = '"}}'
  return head .. ("a"):rep(math.max(0, size - #head - #tail)) .. tail
end

local function median(list)
  table.sort(list)
  return list[math.floor((#list + 1) / 2)]
end

-- Microseconds per call: the median of REPS runs of n calls.
local function time(n, fn)
  fn()
  local runs = {}
  for r = 1, REPS do
    local t0 = core.now()
    for _ = 1, n do fn() end
    runs[r] = (core.now() - t0) / n * 1e6
  end
  return median(runs)
end

print(("kombo.verify_webhook, %s, median of %d runs (microseconds)"):format(_VERSION, REPS))
print(("%-10s %12s %10s %12s %10s %12s"):format("body", "good", "per KiB", "forged", "per KiB", "malformed"))
for _, size in ipairs({ 1024, 16 * 1024, 256 * 1024, 1024 * 1024, 10 * 1000 * 1000 }) do
  local body = body_of(size)
  local sig = sign(body)
  local forged = (sig:sub(1, 1) == "A" and "B" or "A") .. sig:sub(2)
  local n = math.max(3, math.floor(2e7 / size))
  assert(kombo.verify_webhook(body, sig, SECRET))
  assert(not kombo.verify_webhook(body, forged, SECRET))
  local good = time(n, function() return kombo.verify_webhook(body, sig, SECRET) end)
  local bad = time(n, function() return kombo.verify_webhook(body, forged, SECRET) end)
  local malformed = time(n, function() return kombo.verify_webhook(body, sig .. "=", SECRET) end)
  local kib = size / 1024
  print(("%-10s %12.1f %10.3f %12.1f %10.3f %12.2f"):format(size >= 1e6 and ("%.0f MB"):format(size / 1e6)
    or ("%d KiB"):format(kib), good, good / kib, bad, bad / kib, malformed))
end
