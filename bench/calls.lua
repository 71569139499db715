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
local kombo = require "kombo"

local server_url, cv_file, n = arg[1], arg[2], tonumber(arg[3])
assert(server_url and cv_file and n, "usage: calls.lua SERVER_URL CV_FILE N [get] [VARIANT]")
local f = assert(io.open(cv_file, "rb"))
local cv = f:read("a")
f:close()

local get, variant = false, "none"
for i = 4, #arg do
  if arg[i] == "get" then get = true else variant = arg[i] end
end
local function nothing() end
local client = kombo.new{ api_key = "bench-key", integration_id = "workday:bench",
                          server_url = server_url, timeout = 60,
                          hooks = variant == "empty"
                            and { before_request = nothing, after_response = nothing, on_retry = nothing } or nil,
                          debug = variant == "debug" and nothing or nil }
local method, args = "attach_to_candidate", { candidate_id = "cand_bench_1", body = { attachment = {
  name = "Resume.pdf", content_type = "application/pdf", data = kombo.base64(cv), type = "CV" } } }
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
