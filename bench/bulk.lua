-- Bulk uploads through kombo-lua: client:attach_many with CONCURRENCY in
-- flight, the libcurl transport, the default retry policy.
--
--   lua5.4 bench/bulk.lua SERVER_URL CV_FILE N CONCURRENCY
--
-- Job i (1..N) uploads the same 1 KiB CV (base64 done once, as the other
-- clients do) to candidate "cand_bulk_<i>".  The jobs come from an iterator
-- and the results go to on_result, so nothing grows with N (the way the
-- contract recommends for a big batch).  Prints "<succeeded> <failed>
-- <seconds> <retries>" (seconds: kombo.core.now(), monotonic, around the
-- attach_many call); the first failures go to stderr, with a count per kind.
-- Exits 3 when this build has no attach_many, 1 when the summary disagrees
-- with what on_result saw.
local kombo = require "kombo"
local core = require "kombo.core"

local server_url, cv_file, n, concurrency = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
assert(server_url and cv_file and n and concurrency, "usage: bulk.lua SERVER_URL CV_FILE N CONCURRENCY")

local f = assert(io.open(cv_file, "rb"))
local cv = f:read("a")
f:close()

local client = kombo.new{
  api_key = "bench-key",
  integration_id = "workday:bench",
  server_url = server_url,
  timeout = 30,
  transport = "curl",
}

if type(client.attach_many) ~= "function" then
  io.stderr:write("bulk.lua: this kombo-lua has no client:attach_many (not merged yet)\n")
  os.exit(3)
end

local body = {
  attachment = {
    name = "Resume.pdf",
    content_type = "application/pdf",
    data = kombo.base64(cv),
    type = "CV",
  },
}

local i = 0
local function next_job()
  if i >= n then return nil end
  i = i + 1
  return { candidate_id = "cand_bulk_" .. i, body = body }
end

local ok, failed, kinds, shown = 0, 0, {}, 0
local function on_result(index, res, err)
  if res and res.data and res.data.id then
    ok = ok + 1
    return
  end
  failed = failed + 1
  local kind = err and err.kind or "no-id"
  kinds[kind] = (kinds[kind] or 0) + 1
  if shown < 5 then
    shown = shown + 1
    io.stderr:write(("bulk.lua: upload %d failed: %s\n"):format(index, tostring(err or "answer without data.id")))
  end
end

local t0 = core.now()
local summary = client:attach_many(next_job, { concurrency = concurrency, on_result = on_result })
local t1 = core.now()
client:close()

for kind, count in pairs(kinds) do io.stderr:write(("bulk.lua: %d failed with kind %s\n"):format(count, kind)) end
io.write(("%d %d %.6f %d\n"):format(ok, failed, t1 - t0, summary.retries or 0))
if summary.succeeded ~= ok or summary.failed ~= failed then
  io.stderr:write(("bulk.lua: the summary says %s succeeded, %s failed; on_result saw %d and %d\n")
    :format(tostring(summary.succeeded), tostring(summary.failed), ok, failed))
  os.exit(1)
end
