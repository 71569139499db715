-- One large upload with kombo-lua, run under /usr/bin/time by bench/run
-- (wall time and peak RSS of the whole process).
--
--   lua5.4 bench/large.lua SERVER_URL FILE
--
-- Uses `attachment.file = FILE` (streamed from disk by the C core) when the
-- library announces it with kombo.features.file; otherwise reads the file and
-- sends `data = kombo.base64(bytes)`.  Prints "mode=file" or "mode=data".
local kombo = require "kombo"

local server_url, path = arg[1], arg[2]
assert(server_url and path, "usage: large.lua SERVER_URL FILE")

local streamed = type(kombo.features) == "table" and kombo.features.file == true

local attachment = { name = "Resume.pdf", content_type = "application/pdf", type = "CV" }
if streamed then
  attachment.file = path
else
  local f = assert(io.open(path, "rb"))
  attachment.data = kombo.base64(f:read("a"))
  f:close()
end

local client = kombo.new{
  api_key = "bench-key",
  integration_id = "workday:bench",
  server_url = server_url,
  timeout = 120,
  retries = false,
}
local res, err = client:attach_to_candidate{ candidate_id = "cand_bench_1", body = { attachment = attachment } }
if not res then
  io.stderr:write("kombo-lua upload failed: ", tostring(err), "\n")
  os.exit(1)
end
assert(res.data.id == "att_1", "unexpected answer")
client:close()
io.write(streamed and "mode=file\n" or "mode=data\n")
