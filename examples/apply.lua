#!/usr/bin/env lua
--- Puts a CV into the ATS the way Kombo recommends: finds a job, creates
-- the application with the CV and a cover letter inline (the first CV is
-- the candidate's resume), then lists the candidate's attachments.
--
--   KOMBO_API_KEY=... KOMBO_INTEGRATION_ID=... lua examples/apply.lua [CV [COVER_LETTER]]
--
-- KOMBO_JOB_ID picks the job (default: the first open one).  KOMBO_SERVER_URL
-- points it at another server (`make demo` sets it to the local stand-in).
-- Run it twice: the second run is answered ATS.APPLICATION_ALREADY_EXISTS.
-- Exit status: 0 applied (or applied before), 1 failed, 2 usage.
local kombo = require "kombo"

local cv, letter = arg[1] or "examples/Resume.pdf", arg[2] or "examples/Cover_letter.pdf"
if cv == "-h" or cv == "--help" then
  io.stderr:write("usage: lua examples/apply.lua [CV [COVER_LETTER]]\n")
  os.exit(2)
end

-- api_key, integration_id and server_url come from the environment.
local client = kombo.new{
  timeout = 120,
  preflight = true, -- refuse what the integration cannot take (sizes, types, counts) before sending it
}

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  for _, p in ipairs(err.problems or {}) do io.stderr:write("  ", p.path, ": ", p.message, "\n") end
  if err.log_url then io.stderr:write("Kombo log: ", err.log_url, "\n") end
  client:close()
  os.exit(1)
end

-- 1. The job: by id, or the first open one.
local job_id = os.getenv("KOMBO_JOB_ID")
local jobs, err = client:get_jobs{ ids = job_id and { job_id } or nil, statuses = { "OPEN" }, page_size = 1 }
if not jobs then fail(err) end
local job = jobs.data.results[1]
if not job then fail("no open job" .. (job_id and (" with id " .. job_id) or "")) end
print(("job: %s (%s)"):format(job.name, job.id))

-- Answers to the job's screening questions: a text, and a file (a FILE
-- answer is a file object like an attachment: streamed the same way).
local answers = {}
for _, q in ipairs(job.screening_questions or {}) do
  if q.format and q.format.type == "TEXT" then
    answers[#answers + 1] = { question_id = q.id, answer = "I build APIs and the systems behind them." }
  elseif q.format and q.format.type == "FILE" then
    answers[#answers + 1] = { question_id = q.id, answer = { bytes = "A sample of my work.\n", name = "sample.txt" } }
  end
end

-- 2. The application, with its documents: each file streamed from disk and
-- base64-encoded in C as it is sent, all in one request.
local res
res, err = client:create_application{
  job_id = job.id,
  body = {
    candidate = { first_name = "Jane", last_name = "Doe", email_address = "jane.doe@example.com" },
    attachments = {
      { file = cv, type = "CV" },
      { file = letter, type = "COVER_LETTER" },
    },
    screening_question_answers = #answers > 0 and answers or nil,
  },
}
if not res then
  if err.already_exists then
    -- The ATS holds this application already (an earlier run, another
    -- channel): not an error to retry.  Look it up instead of creating it.
    print("already applied: " .. err.message)
    print("not created again; look it up with get_candidates{ email = \"jane.doe@example.com\" }")
    client:close()
    os.exit(0)
  elseif err.outcome == "unknown" then
    -- It may have been created.  Sending it again could make a second
    -- application: look it up first (get_candidates{ email = }).
    io.stderr:write("the application may have been created: look it up before sending it again\n")
  end
  fail(err)
end
print(("created application %s for candidate %s: HTTP %d, %d attempt(s), %.0f ms")
  :format(tostring(res.data.id), tostring(res.data.candidate_id), res.http.status, res.http.attempts,
    res.http.elapsed * 1000))
for _, w in ipairs(res.warnings) do print("warning: " .. w.message) end

-- 3. The candidate's attachments, as the ATS lists them.
local list
list, err = client:get_candidate_attachments{ candidate_id = res.data.candidate_id }
if not list then fail(err) end
print(("candidate %s has %d attachment(s):"):format(res.data.candidate_id, #list.data.results))
for _, a in ipairs(list.data.results) do
  print(("  %-13s %-18s %s"):format(a.type, a.file_name, a.content_type))
end
client:close()
