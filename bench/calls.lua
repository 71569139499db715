-- N small kombo-lua calls and nothing else, for the instruction count
-- (bench/run runs it under callgrind with two values of N; the difference
-- divided by the difference in N is the cost of one call, startup cancelled).
--
--   lua5.4 bench/calls.lua SERVER_URL CV_FILE N [VARIANT]
--
-- VARIANT (bench/hooks): "none" (the default), "empty" (hooks that do
-- nothing) or "debug" (a debug function that drops its lines).
local kombo = require "kombo"

local server_url, cv_file, n = arg[1], arg[2], tonumber(arg[3])
assert(server_url and cv_file and n, "usage: calls.lua SERVER_URL CV_FILE N")
local f = assert(io.open(cv_file, "rb"))
local cv = f:read("a")
f:close()

local variant = arg[4] or "none"
local function nothing() end
local client = kombo.new{ api_key = "bench-key", integration_id = "workday:bench",
                          server_url = server_url, timeout = 60,
                          hooks = variant == "empty"
                            and { before_request = nothing, after_response = nothing, on_retry = nothing } or nil,
                          debug = variant == "debug" and nothing or nil }
local args = { candidate_id = "cand_bench_1", body = { attachment = {
  name = "Resume.pdf", content_type = "application/pdf", data = kombo.base64(cv), type = "CV" } } }
-- one untimed call first: connection set-up belongs to startup
assert(client:attach_to_candidate(args))
for _ = 1, n do
  local res, err = client:attach_to_candidate(args)
  if not res then error(tostring(err)) end
end
client:close()
