-- The primitives of attach_many driven by the least Lua possible: each
-- upload prepared by the core (client:prepare, as kombo.call does without
-- its Lua checks), sent through core.multi with 16 in flight, ended with
-- call:after, its result read (errors.from_result) and the call closed.
-- No admission, no retries, no protected calls, no table per job.  What
-- bench/bulk.lua costs beyond this is the scheduler's and the glue's
-- (bench/bulk_cg: BULK_CG_SCRIPT=bench/bulk_min.lua).
--
--   lua5.4 bench/bulk_min.lua SERVER_URL CV_FILE N CONCURRENCY
local kombo = require "kombo"
local core = require "kombo.core"
local client_mod = require "kombo.client"
local errors = require "kombo.errors"
local OP = require("kombo.call").OPERATIONS.attach_to_candidate

local server_url, cv_file, n, concurrency = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local f = assert(io.open(cv_file, "rb"))
local cv = f:read("a")
f:close()
local client = kombo.new{ api_key = "bench-key", integration_id = "workday:bench", server_url = server_url,
  timeout = 30, transport = "curl" }
local p = client_mod.state(client, "bulk_min")
local secrets = p.config.secrets
local body = { attachment = { name = "Resume.pdf", content_type = "application/pdf", data = kombo.base64(cv),
  type = "CV" } }

local m = core.multi()
local i, ok, failed, flying = 0, 0, 0, 0
local function start()
  i = i + 1
  local call = assert(p.core:prepare(OP.index or OP.name, { candidate_id = "cand_bulk_" .. i, body = body }))
  call:next(core.now())
  assert(m:add(call))
  flying = flying + 1
end
local t0 = core.now()
while i < concurrency and i < n do start() end
while flying > 0 do
  local list = m:run(0.1)
  for k = 1, #list do
    local call = list[k]
    flying = flying - 1
    call:after((core.now()))
    local res = errors.from_result(call:result(), secrets)
    call:close()
    if res then ok = ok + 1 else failed = failed + 1 end
    if i < n then start() end
  end
end
local t1 = core.now()
client:close()
io.write(("%d %d %.6f 0\n"):format(ok, failed, t1 - t0))
