-- N small kombo-lua calls and nothing else, for the instruction count
-- (bench/run runs it under callgrind with two values of N; the difference
-- divided by the difference in N is the cost of one call, startup cancelled).
-- The calls are small uploads, or with "get" small GETs: one page of jobs
-- (get_jobs with a filter and page_size, one job in the answer).
--
--   lua5.4 bench/calls.lua SERVER_URL CV_FILE N [upload|get]
local kombo = require "kombo"

local server_url, cv_file, n = arg[1], arg[2], tonumber(arg[3])
assert(server_url and cv_file and n, "usage: calls.lua SERVER_URL CV_FILE N")
local f = assert(io.open(cv_file, "rb"))
local cv = f:read("a")
f:close()

local client = kombo.new{ api_key = "bench-key", integration_id = "workday:bench",
                          server_url = server_url, timeout = 60 }
local method, args = "attach_to_candidate", { candidate_id = "cand_bench_1", body = { attachment = {
  name = "Resume.pdf", content_type = "application/pdf", data = kombo.base64(cv), type = "CV" } } }
if arg[4] == "get" then
  method, args = "get_jobs", { statuses = { "OPEN" }, page_size = 50 }
end
-- one untimed call first: connection set-up belongs to startup
assert(client[method](client, args))
for _ = 1, n do
  local res, err = client[method](client, args)
  if not res then error(tostring(err)) end
end
client:close()
