#!/usr/bin/env lua
--- Uploads every file named on the command line to one candidate, 16 at a
-- time, the way a backlog job would (the `kombo-attach` CLI does the same
-- from a manifest, with a journal).
--
--   KOMBO_API_KEY=... KOMBO_INTEGRATION_ID=... lua examples/bulk_upload.lua CANDIDATE_ID FILE...
--
-- Exit status: 0 all uploaded, 1 some failed, 2 usage.
local kombo = require "kombo"

local candidate_id = arg[1]
if not candidate_id or not arg[2] then
  io.stderr:write("usage: lua examples/bulk_upload.lua CANDIDATE_ID FILE...\n")
  os.exit(2)
end

local client = kombo.new{ timeout = 120 }

local i = 1
local function next_job() -- read lazily: attach_many asks only when a slot is free
  i = i + 1
  local path = arg[i]
  if not path then return nil end
  return { candidate_id = candidate_id, body = { attachment = { file = path, type = "OTHER" } } }
end

local summary = client:attach_many(next_job, {
  concurrency = 16,
  on_result = function(index, res, err)
    if res then
      -- data.id is the stand-in's: Kombo's answer names no field of data (README "What data holds")
      print(("%-24s -> %s"):format(arg[index + 1], tostring(res.data.id or "uploaded")))
    else
      -- err.outcome "unknown": it may have landed; attachment_exists settles it
      print(("%-24s FAILED %s"):format(arg[index + 1], tostring(err)))
    end
  end,
  on_progress = function(s)
    io.stderr:write(("\r%d/%d done, %d in flight, %d allowed, %d retries"):format(
      s.done, #arg - 1, s.in_flight, s.concurrency, s.retries))
  end,
})
io.stderr:write("\n")
print(("%d uploaded, %d failed, %d retries, %.2f s"):format(
  summary.succeeded, summary.failed, summary.retries, summary.elapsed))
os.exit(summary.failed == 0 and 0 or 1)
