#!/usr/bin/env lua
--- Uploads a CV to a candidate, the way a backend job would.
--
--   KOMBO_API_KEY=... KOMBO_INTEGRATION_ID=... lua examples/attach_cv.lua CANDIDATE_ID [FILE]
--
-- KOMBO_SERVER_URL points it at another server (`make demo` sets it to the
-- local stand-in).  Exit status: 0 uploaded, 1 failed, 2 usage.
local kombo = require "kombo"

local candidate_id, path = arg[1], arg[2] or "examples/Resume.pdf"
if not candidate_id then
  io.stderr:write("usage: lua examples/attach_cv.lua CANDIDATE_ID [FILE]\n")
  os.exit(2)
end

-- api_key, integration_id and server_url come from KOMBO_API_KEY,
-- KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL; the rest is tuned for a job.
local client = kombo.new{
  timeout = 60,
  connect_timeout = 5,
  retries = { max_attempts = 4, initial_interval = 0.5, max_interval = 10, max_elapsed = 60 },
  preflight = true, -- refuse what the integration cannot take before uploading it
}

-- A wrong key fails here, before any file is read.
local key, kerr = client:check_api_key()
if not key then
  io.stderr:write(tostring(kerr), "\n")
  os.exit(1)
end

-- A terminal progress bar; kombo calls it at most ~100 times per upload.
local function progress(sent, total)
  local width = 30
  local done = total > 0 and math.floor(sent / total * width) or width
  io.stderr:write(("\r[%s%s] %3d%%  %d/%d bytes"):format(("#"):rep(done), ("."):rep(width - done),
    total > 0 and math.floor(sent * 100 / total) or 100, sent, total))
  if sent == total then io.stderr:write("\n") end
end

local args = {
  candidate_id = candidate_id,
  on_progress = progress,
  body = {
    attachment = {
      -- Streamed from disk and base64-encoded by the C core as it is sent;
      -- name defaults to the file's base name, content_type is inferred
      -- from its first bytes (here: application/pdf).
      file = path,
      type = "CV",
    },
    -- Greenhouse wants to know on whose behalf; other ATSs ignore this.
    remote_fields = { greenhouse = { on_behalf_of = os.getenv("GREENHOUSE_USER_ID") or kombo.null } },
  },
}
local res, err = client:attach_to_candidate(args)
if not res and err.outcome == "unknown" then
  -- It may have landed: look before sending it again (no duplicate in the ATS).
  local landed = client:attachment_exists(args)
  if landed then
    print("the upload had landed after all: not sent again")
    client:close()
    os.exit(0)
  elseif landed == false then
    res, err = client:attach_to_candidate(args)
  end
end

if res then
  local list = client:get_candidate_attachments{ candidate_id = candidate_id }
  if list then print(("candidate %s now has %d attachment(s)"):format(candidate_id, #list.data.results)) end
end
client:close()

if res then
  print(("uploaded %s to candidate %s: HTTP %d, %d attempt(s), %.0f ms")
    :format(path, candidate_id, res.http.status, res.http.attempts, res.http.elapsed * 1000))
  print("attachment id: " .. tostring(res.data.id))
  for _, w in ipairs(res.warnings) do print("warning: " .. w.message) end
  os.exit(0)
end

io.stderr:write(tostring(err), "\n")
if err.kind == "validation" then
  for _, p in ipairs(err.problems) do io.stderr:write("  ", p.path, ": ", p.message, "\n") end
elseif err.outcome == "unknown" then
  io.stderr:write("the upload may have reached the ATS: check before sending it again\n")
end
if err.log_url then io.stderr:write("Kombo log: ", err.log_url, "\n") end
os.exit(1)
