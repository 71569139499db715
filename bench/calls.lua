-- N small kombo-lua calls and nothing else, for the instruction count
-- (bench/run runs it under callgrind with two values of N; the difference
-- divided by the difference in N is the cost of one call, startup cancelled).
--
--   lua5.4 bench/calls.lua SERVER_URL CV_FILE N [get] [VARIANT]
--
-- The calls are small uploads, or with "get" small GETs: one page of jobs
-- (get_jobs with a filter and page_size, one job in the answer).
-- VARIANT (bench/hooks): "none" (the default), "empty" (hooks that do
-- nothing) or "debug" (a debug function that drops its lines).
local small = dofile((arg[0]:match("^(.*)/") or ".") .. "/small_call.lua")

local server_url, cv_file, n = arg[1], arg[2], tonumber(arg[3])
assert(server_url and cv_file and n, "usage: calls.lua SERVER_URL CV_FILE N [get] [VARIANT]")

local get, variant = false, "none"
for i = 4, #arg do
  if arg[i] == "get" then get = true else variant = arg[i] end
end
local client = small.client(server_url, { timeout = 60, variant = variant })
local method, args = "attach_to_candidate", small.upload_args(cv_file)
if get then
  method, args = "get_jobs", { statuses = { "OPEN" }, page_size = 50 }
end
-- one untimed call first: connection set-up belongs to startup
assert(client[method](client, args))
for _ = 1, n do
  local res, err = client[method](client, args)
  if not res then error(tostring(err)) end
end
client:close()
