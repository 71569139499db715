-- Small-attachment throughput of kombo-lua: sequential calls on one client
-- (one libcurl handle, kept-alive connection).
--
--   lua5.4 bench/small.lua SERVER_URL CV_FILE N WARMUP [VARIANT]
--
-- VARIANT (bench/hooks): "none" (the default), "empty" (hooks that do
-- nothing) or "debug" (a debug function that drops its lines).
--
-- Prints "<calls per second> <seconds> <N>" for the N timed calls that follow
-- WARMUP untimed ones.  Wall time from kombo.core.now() (monotonic).  Every
-- call must succeed with the server's body, or the script fails.
local core = require "kombo.core"
local small = dofile((arg[0]:match("^(.*)/") or ".") .. "/small_call.lua")

local server_url, cv_file, n, warmup = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
assert(server_url and cv_file and n and warmup, "usage: small.lua SERVER_URL CV_FILE N WARMUP")

local client = small.client(server_url, { timeout = 30, variant = arg[5] })
local args = small.upload_args(cv_file)

local function call()
  local res, err = client:attach_to_candidate(args)
  if not res then error("kombo-lua call failed: " .. tostring(err)) end
  return res
end

for _ = 1, warmup do call() end
local res = call()
assert(res.data.id == "att_1", "unexpected answer")

local t0 = core.now()
for _ = 1, n do call() end
local t1 = core.now()

client:close()
io.write(("%.1f %.6f %d\n"):format(n / (t1 - t0), t1 - t0, n))
