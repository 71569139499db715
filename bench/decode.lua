-- The cost of reading an answer into `res`: the core's scan plus building
-- the Lua table from it (kombo.testing.decode_json does both, as a call
-- does), against lua-cjson's decode of the same body (what the Lua layer
-- did before, on top of the core's scan).  Prints microseconds per body.
--   lua5.4 bench/decode.lua [N]
local testing = require "kombo.testing"
local cjson = require "cjson"
local core = require "kombo.core"
local N = math.min(tonumber(arg[1]) or 200000, 2000000)

local BODY = '{"status":"success","data":{"id":"att_000001","remote_id":null,"candidate_id":"cand-1",'
  .. '"name":"Resume.pdf","content_type":"application/pdf","type":"CV","size_bytes":906},"warnings":[]}'

local function time(fn)
  for _ = 1, 1000 do fn(BODY) end -- warm up
  local t0 = core.now()
  for _ = 1, N do fn(BODY) end
  return (core.now() - t0) / N * 1e6
end

local ours = time(testing.decode_json)
local theirs = time(cjson.decode)
print(("%.3f %.3f"):format(ours, theirs))
