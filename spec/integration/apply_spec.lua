-- Kombo's recommended route for a CV, against the stand-in: create the
-- application with its documents inline.  Preflight against the creates'
-- restrictions (each rule refuses, nothing is sent; within them it is
-- sent), ATS.APPLICATION_ALREADY_EXISTS as err.already_exists in one
-- attempt, two files streamed and listed under the candidate, and (#slow)
-- the memory of a 40 MB CV plus a cover letter in one request.
local servers = require "support.servers"
local files = require "support.files"
local kombo = require "kombo"
local cjson = servers.cjson

local function set_restrictions(integ, target, value)
  local status, _, text = servers.http("POST",
    ("%s/_restrictions?integration=%s&target=%s"):format(servers.standin_url(), integ, target),
    { ["content-type"] = "application/json" }, cjson.encode(value))
  assert(status == 200, "POST /_restrictions: " .. tostring(status) .. " " .. tostring(text))
end

local function count(integ, method)
  local n = 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == method then n = n + 1 end
  end
  return n
end

local function candidate(email)
  return { first_name = "Ada", last_name = "Lovelace", email_address = email or "ada@example.com" }
end

local function pdf(n) -- n bytes that read as a PDF
  return "%PDF-1.4\n" .. ("x"):rep(n - 9)
end

-- Small numbers, so that each rule can be crossed with a few bytes.
local RULES = { total_size_bytes = 150, types = {
  CV = { is_supported = true, min_amount = 1, max_amount = 1, max_file_size_bytes = 100,
         accepted_mime_types = { "application/pdf" } },
  COVER_LETTER = { is_supported = true, min_amount = 0, max_amount = 2, max_file_size_bytes = 80,
                   accepted_mime_types = cjson.null },
  OTHER = { is_supported = false },
} }

describe("create_application with its documents #integration #apply", function()
  local dir
  setup(function() dir = files.tmpdir() end)
  teardown(function() files.rmtree(dir) end)

  local function cv(n) return { bytes = pdf(n or 90), name = "cv.pdf", type = "CV" } end
  local function letter(n) return { bytes = ("L"):rep(n or 50), name = "letter.txt", type = "COVER_LETTER" } end

  describe("preflight", function()
    local ACTION = "GET /ats/actions/ats_create_application's attachment_restrictions"
    local CASES = {
      { "a file above its type's max_file_size_bytes", { cv(120) },
        "body.attachments[1]", "is 120 bytes, more than the integration's max_file_size_bytes 100" },
      { "a content type outside accepted_mime_types", { { bytes = "plain words", name = "cv.txt", type = "CV" } },
        "body.attachments[1].content_type",
        "text/plain is not among the integration's accepted_mime_types (application/pdf)" },
      { "a type whose is_supported is false", { cv(), { bytes = "x", name = "o.txt", type = "OTHER" } },
        "body.attachments[2].type", "OTHER is not supported by this integration" },
      { "more of a type than max_amount", { cv(60), cv(60) },
        "body.attachments", "holds 2 attachments of type CV, more than the integration's max_amount 1" },
      { "fewer of a type than min_amount", { letter() },
        "body.attachments", "holds 0 attachment(s) of type CV, fewer than the integration's min_amount 1" },
      { "more bytes in all than total_size_bytes", { cv(90), letter(70) },
        "body.attachments", "are 160 bytes together, more than the integration's total_size_bytes 150" },
    }

    it("refuses by each rule of the creates' restrictions, naming the file object; nothing is sent", function()
      local client, integ = servers.client { preflight = true }
      set_restrictions(integ, "create_application", RULES)
      for _, case in ipairs(CASES) do
        local res, err = client:create_application { job_id = "job-demo-1",
          body = { candidate = candidate(), attachments = case[2] } }
        assert.is_nil(res, case[1])
        assert.equals("validation", err.kind, case[1])
        assert.equals("not_sent", err.outcome)
        assert.equals(1, #err.problems, case[1] .. ": " .. tostring(err))
        assert.equals(case[3], err.problems[1].path, case[1])
        assert.matches(case[4], err.problems[1].message, 1, true)
        assert.matches(ACTION, err.problems[1].message, 1, true)
      end
      assert.equals(0, count(integ, "POST"))
      local recs = servers.requests(integ)
      assert.equals(1, #recs) -- the restrictions, fetched once and cached
      assert.equals("/ats/actions/ats_create_application", recs[1].uri)
    end)

    it("sends what is within the rules, once; a screening answer's file is not an attachment", function()
      local client, integ = servers.client { preflight = true }
      set_restrictions(integ, "create_application", RULES)
      local cv_path, letter_path = dir .. "/cv.pdf", dir .. "/letter.txt"
      files.write(cv_path, pdf(90))
      files.write(letter_path, ("L"):rep(60))
      local res, err = client:create_application { job_id = "job-demo-1", body = {
        candidate = candidate(),
        attachments = { { file = cv_path, type = "CV" }, { file = letter_path, type = "COVER_LETTER" },
                        { data_url = "https://files.example.com/more.pdf", name = "more.pdf", type = "COVER_LETTER" } },
        screening_question_answers = { { question_id = "q-demo-file",
                                         answer = { bytes = ("S"):rep(500), name = "sample.txt" } } },
      } }
      assert.is_nil(err, tostring(err))
      assert.equals(1, res.http.attempts)
      assert.equals(1, count(integ, "POST"))
      local body = cjson.decode(servers.requests { integration_id = integ, method = "POST" }[1].body)
      assert.equals(kombo.base64(pdf(90)), body.attachments[1].data)
      assert.equals(kombo.base64(("L"):rep(60)), body.attachments[2].data)
      assert.equals(kombo.base64(("S"):rep(500)), body.screening_question_answers[1].answer.data)
    end)

    it("a data_url counts as an attachment of its type, with a size it cannot know", function()
      local client, integ = servers.client { preflight = true }
      set_restrictions(integ, "create_application", RULES)
      local _, err = client:create_application { job_id = "job-demo-1", body = { candidate = candidate(),
        attachments = { cv(), { data_url = "https://files.example.com/x", name = "x.pdf", type = "OTHER" } } } }
      assert.equals("body.attachments[2].type", err.problems[1].path)
      _, err = client:create_application { job_id = "job-demo-1", body = { candidate = candidate(),
        attachments = { { data_url = "https://files.example.com/1", name = "1.pdf", type = "CV" }, cv() } } }
      assert.matches("holds 2 attachments of type CV", err.problems[1].message, 1, true)
      assert.equals(0, count(integ, "POST"))
    end)

    it("create_candidate: its own restrictions (GET /ats/actions/ats_create_candidate), per call", function()
      local client, integ = servers.client()
      set_restrictions(integ, "create_candidate", { total_size_bytes = cjson.null, types = {
        CV = { is_supported = false }, COVER_LETTER = { is_supported = false }, OTHER = { is_supported = false } } })
      local args = { preflight = true, body = { candidate = candidate(), application = { job_id = "job-demo-1" },
        attachments = { cv() } } }
      local _, err = client:create_candidate(args)
      assert.equals("validation", err.kind)
      assert.equals("body.attachments[1].type", err.problems[1].path)
      assert.matches("GET /ats/actions/ats_create_candidate's", err.problems[1].message, 1, true)
      local recs = servers.requests(integ)
      assert.equals(1, #recs)
      assert.equals("/ats/actions/ats_create_candidate", recs[1].uri)
      args.preflight = nil -- the client's default: off
      assert(client:create_candidate(args))
      assert.equals(1, count(integ, "POST"))
    end)

    it("caches per restrictions operation: an upload's and a create's are fetched apart", function()
      local client, integ = servers.client { preflight = true }
      assert(client:create_application { job_id = "job-demo-1", body = { candidate = candidate("a@example.com"),
        attachments = { cv() } } })
      assert(client:create_application { job_id = "job-demo-1", body = { candidate = candidate("b@example.com"),
        attachments = { cv() } } })
      assert(client:attach_to_candidate { candidate_id = "c1", body = { attachment = cv() } })
      local gets = {}
      for _, rec in ipairs(servers.requests(integ)) do
        if rec.method == "GET" then gets[#gets + 1] = rec.uri end
      end
      assert.same({ "/ats/actions/ats_create_application", "/ats/actions/ats_add_candidate_attachment" }, gets)
    end)

    it("the stand-in's default restrictions (Kombo's example) refuse an application without a CV", function()
      local client, integ = servers.client { preflight = true }
      local _, err = client:create_application { job_id = "job-demo-1",
        body = { candidate = candidate(), attachments = { letter() } } }
      assert.matches("fewer than the integration's min_amount 1", err.problems[1].message, 1, true)
      assert.equals(0, count(integ, "POST"))
    end)

    it("when the restrictions cannot be fetched, says so and sends nothing", function()
      local client, integ = servers.client { preflight = true, retries = false,
        server_url = "http://127.0.0.1:" .. servers.free_port() }
      local _, err = client:create_application { job_id = "job-demo-1",
        body = { candidate = candidate(), attachments = { cv() } } }
      assert.equals("network", err.kind)
      assert.equals("not_sent", err.outcome)
      assert.matches("could not fetch the integration's attachment restrictions, so nothing was sent", err.message,
        1, true)
      assert.equals(0, #servers.requests(integ))
    end)
  end)

  describe("ATS.APPLICATION_ALREADY_EXISTS", function()
    it("is err.already_exists, in one attempt, never resent", function()
      local client, integ = servers.client() -- the default retries: 3 attempts
      local args = { job_id = "job-demo-1", body = { candidate = candidate(), attachments = { cv() } } }
      local first = assert(client:create_application(args))
      args.body.candidate.email_address = "ADA@example.com" -- the same candidate
      local res, err = client:create_application(args)
      assert.is_nil(res)
      assert.is_true(err.already_exists)
      assert.equals("api", err.kind)
      assert.equals(409, err.status)
      assert.equals("ATS.APPLICATION_ALREADY_EXISTS", err.code)
      assert.equals("rejected", err.outcome)
      assert.equals(1, err.attempts)
      assert.matches("(application " .. first.data.id .. ")", err.message, 1, true)
      assert.equals(2, count(integ, "POST"))
    end)

    it("only for that code: another job, or another error, is not it", function()
      local client = servers.client()
      local args = { job_id = "job-demo-1", body = { candidate = candidate() } }
      assert(client:create_application(args))
      args.job_id = "job-2"
      assert(client:create_application(args)) -- the same candidate may apply to another job
      local _, err = client:create_application { job_id = "scenario-error-404", body = { candidate = candidate() } }
      assert.equals("api", err.kind)
      assert.is_nil(err.already_exists)
      _, err = client:create_application { job_id = "scenario-error-422", body = { candidate = candidate() } }
      assert.is_nil(err.already_exists)
    end)
  end)

  it("two files streamed in one request, then listed as the candidate's attachments", function()
    local client = servers.client()
    local cv_bytes, letter_bytes = "%PDF-1.4\n" .. files.random_bytes(300000), "%PDF-1.4\nDear team,\n"
    files.write(dir .. "/Resume.pdf", cv_bytes)
    files.write(dir .. "/Letter.pdf", letter_bytes)
    local res, err = client:create_application { job_id = "job-demo-1", body = {
      candidate = candidate("grace@example.com"),
      attachments = { { file = dir .. "/Resume.pdf", type = "CV" }, { file = dir .. "/Letter.pdf", type = "COVER_LETTER" } },
    } }
    assert.is_nil(err, tostring(err))
    local list = assert(client:get_candidate_attachments { candidate_id = res.data.candidate_id })
    assert.equals(2, #list.data.results)
    local want = { { "Resume.pdf", "CV", cv_bytes }, { "Letter.pdf", "COVER_LETTER", letter_bytes } }
    for i, a in ipairs(list.data.results) do
      assert.equals(want[i][1], a.file_name)
      assert.equals(want[i][2], a.type)
      assert.equals("application/pdf", a.content_type)
      local status, _, bytes = servers.http("GET", a.data_url)
      assert.equals(200, status)
      assert.equals(want[i][3], bytes) -- arrived whole: the stand-in serves what it decoded
    end
  end)

  -- A child process (its own peak RSS): one create_application with a
  -- 40 MB CV and a cover letter, both `file =`, against a bare `lua5.4 -e ''`.
  it("a 40 MB CV plus a cover letter in one request stays within 16 MiB of RSS above Lua's #slow #once", function()
    local cv_path, letter_path = dir .. "/big-cv.pdf", dir .. "/letter.pdf"
    assert(files.run(("(printf '%%%%PDF-1.4\\n'; head -c %d /dev/urandom) > %s"):format(40 * 1000 * 1000,
      files.sh_quote(cv_path))))
    files.write(letter_path, "%PDF-1.4\nDear team,\nplease consider my application.\n")
    local integ = servers.unique("rss")
    local HWM = 'local f = io.open("/proc/self/status"); local s = f:read("*a"); f:close(); '
      .. 'print("hwm " .. s:match("VmHWM:%s*(%d+)"))'
    local child = [[
      local kombo = require "kombo"
      local client = kombo.new { api_key = "test-key", server_url = arg[1], integration_id = arg[2], timeout = 120 }
      local res, err = client:create_application { job_id = "job-demo-1", body = {
        candidate = { first_name = "Big", last_name = "File", email_address = "big@example.com" },
        attachments = { { file = arg[3], type = "CV" }, { file = arg[4], type = "COVER_LETTER" } } } }
      print(res and ("ok " .. res.http.attempts) or tostring(err))
    ]] .. HWM
    local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(files.sh_quote("lua/?.lua;lua/?/init.lua;;"),
      files.sh_quote("build/5.4/?.so;;"))
    files.write(dir .. "/child.lua", child)
    local p = assert(io.popen(("%s lua5.4 %s %s %s %s %s 2>&1"):format(env, files.sh_quote(dir .. "/child.lua"),
      files.sh_quote(servers.standin_url()), files.sh_quote(integ), files.sh_quote(cv_path),
      files.sh_quote(letter_path))))
    local out = p:read("*a")
    p:close()
    p = assert(io.popen("lua5.4 -e " .. files.sh_quote(HWM)))
    local base = tonumber(p:read("*a"):match("hwm (%d+)"))
    p:close()
    assert.matches("^ok 1\n", out)
    local peak = tonumber(out:match("hwm (%d+)"))
    local above = (peak - base) / 1024
    print(("\n  RSS: peak %.1f MiB, lua5.4 -e '' %.1f MiB: %.1f MiB above"):format(peak / 1024, base / 1024, above))
    assert.is_true(above <= 16, ("%.1f MiB above Lua's baseline"):format(above))
    local rec = servers.requests { integration_id = integ, method = "POST" }[1]
    assert.is_true(rec.body_length > 40 * 1000 * 1000 * 4 / 3, rec.body_length) -- both files, base64, whole
    assert.equals(rec.body_length, tonumber(rec.headers["content-length"]))
    assert.equals(200, rec.response.status)
  end)
end)
