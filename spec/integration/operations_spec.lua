-- The generated operations beyond the uploads, curl transport, against the
-- stand-in (which answers every operation of Kombo's description, see
-- spec/standin/README.md "Other operations") and the bad server: the exact
-- request target of a list, create_application with several file objects
-- (body and Content-Length as they arrived), PUT / PATCH / DELETE with a
-- body, the outcome rule (a POST that may have been carried out is not
-- resent, a GET is), and the key in no error.
-- (spec/unit/operations_spec.lua checks the same offline, in detail;
-- spec/nginx/operations_spec.lua over cosockets.)
local servers = require "support.servers"
local badserver = require "support.badserver"
local files = require "support.files"
local kombo = require "kombo"
local cjson = require "cjson"

local function one_record(integ)
  local recs = servers.requests(integ)
  assert.equals(1, #recs, "records: " .. #recs)
  return recs[1]
end

local function candidate()
  return { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com",
           location = { country = "GB" } }
end

describe("generated operations, curl transport #integration #operations", function()
  local dir, cv_path, srv
  local CV = "%PDF-1.4\n" .. ("Curriculum vitae line\n"):rep(5000) -- 110 KB: more than one read
  local LETTER = "Dear team,\nplease consider me.\n"

  setup(function()
    dir = files.tmpdir()
    cv_path = dir .. "/cv.pdf"
    files.write(cv_path, CV)
    srv = badserver.start(servers.UNDER_VALGRIND and 600 or 60)
  end)
  teardown(function()
    files.rmtree(dir)
    badserver.stop(srv)
  end)

  it("get_jobs: the exact request target arrives, and the listing's envelope comes back", function()
    local client, integ = servers.client()
    local res, err = client:get_jobs { page_size = 100, ids = { "a", "b" }, include_deleted = true,
      updated_after = "2024-01-01T00:00:00Z", name_contains = "x y&z", statuses = { "OPEN", "DRAFT" } }
    assert.is_nil(err, tostring(err))
    local rec = one_record(integ)
    assert.equals("GET", rec.method)
    assert.equals("/ats/jobs?page_size=100&updated_after=2024-01-01T00%3A00%3A00Z&include_deleted=true"
      .. "&ids=a%2Cb&statuses=OPEN%2CDRAFT&name_contains=x%20y%26z", rec.uri)
    assert.equals("operation", rec.route)
    assert.equals(0, rec.body_length)
    assert.is_nil(rec.headers["content-type"])
    assert.equals("success", res.status)
    assert.equals(0, #res.data.results)
    assert.equals('{"next":null,"results":[]}', (kombo.encode_json(res.data):gsub('"results":%[%],"next":null',
      '"next":null,"results":[]')))
    assert.equals(1, res.http.attempts)
  end)

  it("get_candidates: integration_id from the call goes into the header, not the query", function()
    local client = servers.client()
    local integ = servers.unique("ops-call")
    assert(client:get_candidates { integration_id = integ, email = "a+b@example.com", job_ids = { "j 1", "j/2" } })
    local rec = one_record(integ)
    assert.equals("/ats/candidates?email=a%2Bb%40example.com&job_ids=j%201%2Cj%2F2", rec.uri)
  end)

  it("create_application with three file objects: the body and Content-Length as they arrived", function()
    local client, integ = servers.client()
    local parts, i = { "abc", "def" }, 0
    local res, err = client:create_application { job_id = "job 1", body = {
      stage_id = "st-1",
      candidate = candidate(),
      attachments = {
        { file = cv_path, type = "CV" },
        { bytes = LETTER, name = "cover.txt", type = "COVER_LETTER" },
        { source = function() i = i + 1; return parts[i] end, size = 6, name = "notes.bin", type = "OTHER" },
      },
    } }
    assert.is_nil(err, tostring(err))
    assert.equals("success", res.status)
    local rec = one_record(integ)
    assert.equals("POST", rec.method)
    assert.equals("/ats/jobs/job%201/applications", rec.uri)
    assert.equals("PostAtsJobsJobIdApplications", rec.operation)
    assert.equals("job 1", rec.path_id)
    assert.equals(rec.body_length, tonumber(rec.headers["content-length"]))
    assert.equals(#rec.body, rec.body_length)
    assert.equals("application/json", rec.headers["content-type"])
    local body = cjson.decode(rec.body)
    assert.same(candidate(), body.candidate)
    assert.same({ name = "cv.pdf", content_type = "application/pdf", type = "CV", data = kombo.base64(CV) },
      body.attachments[1])
    assert.same({ name = "cover.txt", content_type = "text/plain", type = "COVER_LETTER",
                  data = kombo.base64(LETTER) }, body.attachments[2])
    assert.same({ name = "notes.bin", content_type = "application/octet-stream", type = "OTHER",
                  data = kombo.base64("abcdef") }, body.attachments[3])
    assert.equals(CV, files.base64_decode(body.attachments[1].data))
    -- the description's order of the body's members
    local at = {}
    for _, k in ipairs { "stage_id", "candidate", "attachments" } do at[#at + 1] = rec.body:find('"' .. k .. '":', 1, true) end
    assert.is_true(at[1] < at[2] and at[2] < at[3], rec.body:sub(1, 200))
  end)

  it("create_application: a validation error sends nothing", function()
    local client, integ = servers.client()
    local _, err = client:create_application { job_id = "j", body = { candidate = {
      first_name = "A", last_name = "B", email_address = "x", location = { country = "de" } } } }
    assert.equals("validation", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.equals('kombo validation error: invalid request: body.candidate.email_address must be an email address '
      .. '(got "x"); body.candidate.location.country must match ^[A-Z]{2}$ (got "de")', tostring(err))
    assert.equals(0, #servers.requests(integ))
  end)

  local METHODS = {
    { "move_application_to_stage", "PUT", { application_id = "app 1", body = { stage_id = "s1" } },
      "/ats/applications/app%201/stage" },
    { "update_interview", "PATCH", { application_id = "a1", body = { interview_id = "i1", title = "Round 2",
        start_time = "2025-01-02T10:00:00Z", end_time = "2025-01-02T11:00:00Z", interviewer_user_ids = { "u1" },
        organizer_user_id = "u1", location = { type = "VIRTUAL" } } },
      "/ats/applications/a1/interviews" },
    { "remove_candidate_tag", "DELETE", { candidate_id = "c1", body = { tag = { name = "Top" } } },
      "/ats/candidates/c1/tags" },
  }
  for _, case in ipairs(METHODS) do
    it(case[1] .. ": sent as " .. case[2] .. " with its body", function()
      local client, integ = servers.client()
      local res, err = client[case[1]](client, case[3])
      assert.is_nil(err, tostring(err))
      assert.equals("success", res.status)
      local rec = one_record(integ)
      assert.equals(case[2], rec.method)
      assert.equals(case[4], rec.uri)
      assert.equals("application/json", rec.headers["content-type"])
      assert.equals(tostring(#rec.body), rec.headers["content-length"])
      assert.same(case[3].body, cjson.decode(rec.body))
      assert.is_nil(rec.headers["expect"])
    end)
  end

  -- One client's calls go out one after another on the same pooled easy
  -- handle, which keeps the method and body options it was given last
  -- (easy.c sets only the ones that change): each kind after each other.
  it("one call after another of every kind: each arrives with its own method, body and Content-Length", function()
    local client, integ = servers.client()
    local sent = {}
    local function run(name, args, method, body)
      local res, err = client[name](client, args)
      assert.is_nil(err, name .. ": " .. tostring(err))
      assert.equals("success", res.status)
      sent[#sent + 1] = { method = method, body = body }
    end
    local function small(id, title)
      return { application_id = "a1", body = { interview_id = id, title = title,
        start_time = "2025-01-02T10:00:00Z", end_time = "2025-01-02T11:00:00Z", interviewer_user_ids = { "u1" },
        organizer_user_id = "u1", location = { type = "VIRTUAL" } } }
    end
    local function streamed(job) -- over 64 KiB: the read callback
      return { job_id = job, body = { stage_id = "st-1", candidate = candidate(),
        attachments = { { file = cv_path, type = "CV" } } } }
    end
    local function letter(job)
      return { job_id = job, body = { stage_id = "st-1", candidate = candidate(),
        attachments = { { bytes = LETTER, name = "cover.txt", type = "COVER_LETTER" } } } }
    end
    run("move_application_to_stage", { application_id = "a1", body = { stage_id = "s1" } }, "PUT", { stage_id = "s1" })
    run("create_application", letter("seq-1"), "POST")
    run("get_jobs", { page_size = 5 }, "GET")
    run("update_interview", small("i1", "Round 2"), "PATCH", small("i1", "Round 2").body)
    run("update_interview", small("i22", "Round two"), "PATCH", small("i22", "Round two").body)
    run("remove_candidate_tag", { candidate_id = "c1", body = { tag = { name = "Top" } } }, "DELETE",
      { tag = { name = "Top" } })
    run("create_application", streamed("seq-2"), "POST")
    run("create_application", letter("seq-3"), "POST")
    run("move_application_to_stage", { application_id = "a1", body = { stage_id = "s22" } }, "PUT", { stage_id = "s22" })
    run("get_jobs", { page_size = 5 }, "GET")
    run("create_application", letter("seq-4"), "POST")
    client:close()
    local recs = servers.requests(integ)
    assert.equals(#sent, #recs)
    for i, want in ipairs(sent) do
      local rec = recs[i]
      assert.equals(want.method, rec.method, "call " .. i)
      assert.equals(#rec.body, rec.body_length, "call " .. i)
      if want.method == "GET" then
        assert.equals(0, rec.body_length, "call " .. i)
        assert.is_nil(rec.headers["content-length"], "call " .. i)
      else
        assert.equals(tostring(#rec.body), rec.headers["content-length"], "call " .. i)
        local body = cjson.decode(rec.body)
        if want.body then assert.same(want.body, body, "call " .. i) end
        if want.method == "POST" then
          assert.equals(#body.attachments == 1 and body.attachments[1].type == "CV" and CV or LETTER,
            files.base64_decode(body.attachments[1].data), "call " .. i)
        end
      end
    end
  end)

  describe("the outcome rule", function()
    local function mine(mode, before)
      local all, out = badserver.requests(srv, mode), {}
      for i = before + 1, #all do out[#out + 1] = all[i] end
      return out
    end

    it("create_application reset after the server read it: not resent, outcome unknown, says to check", function()
      local client = servers.client { server_url = badserver.url(srv, "reset-before-status") }
      local before = #badserver.requests(srv, "reset-before-status")
      local res, err = client:create_application { job_id = "j1", body = { candidate = candidate(),
        attachments = { { bytes = LETTER, name = "cover.txt", type = "COVER_LETTER" } } } }
      assert.is_nil(res)
      assert.equals("network", err.kind)
      assert.equals("unknown", err.outcome)
      assert.equals(1, err.attempts)
      assert.truthy(err.message:find("it may have been processed", 1, true), err.message)
      assert.equals("; it may have been carried out: check before sending it again",
        err.message:sub(-#"; it may have been carried out: check before sending it again"))
      assert.is_nil(err.message:find("attachment_exists", 1, true), err.message)
      local seen = mine("reset-before-status", before)
      assert.equals(1, #seen, badserver.log(srv))
      assert.equals("POST", seen[1].method)
      assert.equals("/reset-before-status/ats/jobs/j1/applications", seen[1].target)
      assert.equals(seen[1].length, seen[1].got) -- the whole request had arrived
    end)

    it("move_application_to_stage (PUT) likewise: one attempt, unknown", function()
      local client = servers.client { server_url = badserver.url(srv, "reset-before-status") }
      local before = #badserver.requests(srv, "reset-before-status")
      local _, err = client:move_application_to_stage { application_id = "a1", body = { stage_id = "s" } }
      assert.equals("unknown", err.outcome)
      assert.equals(1, err.attempts)
      local seen = mine("reset-before-status", before)
      assert.equals(1, #seen, badserver.log(srv))
      assert.equals("PUT", seen[1].method)
    end)

    it("with retries.retry_unsafe = true create_application is resent", function()
      local client = servers.client { server_url = badserver.url(srv, "reset-before-status"),
                                      retries = servers.fast_retries { max_attempts = 2, retry_unsafe = true } }
      local before = #badserver.requests(srv, "reset-before-status")
      local _, err = client:create_application { job_id = "j1", body = { candidate = candidate() } }
      assert.equals("unknown", err.outcome)
      assert.equals(2, err.attempts)
      assert.equals(2, #mine("reset-before-status", before))
    end)

    it("get_jobs reset after the server read it: retried (a read is idempotent)", function()
      local client = servers.client { server_url = badserver.url(srv, "reset-before-status"),
                                      retries = servers.fast_retries { max_attempts = 3 } }
      local before = #badserver.requests(srv, "reset-before-status")
      local res, err = client:get_jobs { page_size = 5, ids = { "a", "b" } }
      assert.is_nil(res)
      assert.equals("network", err.kind)
      assert.equals(3, err.attempts)
      assert.is_nil(err.message:find("carried out", 1, true), err.message)
      assert.is_nil(err.message:find("may have been processed", 1, true), err.message)
      local seen = mine("reset-before-status", before)
      assert.equals(3, #seen, badserver.log(srv))
      for _, r in ipairs(seen) do
        assert.equals("GET", r.method)
        assert.equals("/reset-before-status/ats/jobs?page_size=5&ids=a%2Cb", r.target)
      end
    end)

    it("create_application answered 500 by the stand-in: one attempt, unknown, Kombo's message unchanged", function()
      local client, integ = servers.client()
      local _, err = client:create_application { job_id = "scenario-500-once", body = { candidate = candidate() } }
      assert.equals("api", err.kind)
      assert.equals(500, err.status)
      assert.equals("unknown", err.outcome)
      assert.equals(1, err.attempts)
      assert.equals(1, #servers.requests(integ))
    end)

    it("create_application answered 503 once: retried (Kombo did not act), then success", function()
      local client, integ = servers.client()
      local res, err = client:create_application { job_id = "scenario-503-once", body = { candidate = candidate() } }
      assert.is_nil(err, tostring(err))
      assert.equals(2, res.http.attempts)
      assert.equals(2, #servers.requests(integ))
    end)
  end)

  describe("secrets", function()
    local KEY = "kombo_sk_live_Zq8vN3rT6yW1pL4xC7bM0kH5jG2fD9sA"
    -- Any run of 8 bytes of the key, in any case (what the SDK promises to redact).
    local function leak(text)
      text = tostring(text):lower()
      for i = 1, #KEY - 7 do
        if text:find(KEY:sub(i, i + 7):lower(), 1, true) then return KEY:sub(i, i + 7) end
      end
    end

    local function assert_clean(err, lines)
      assert.is_true(kombo.is_error(err), tostring(err))
      local where = {}
      local function check(label, v) if v ~= nil and leak(v) then where[#where + 1] = label .. ": " .. tostring(v) end end
      check("tostring(err)", tostring(err))
      check("err.message", err.message)
      for i, p in ipairs(err.problems or {}) do check("problem " .. i, p.path .. " " .. p.message) end
      check("err", servers.dump(err))
      for i, line in ipairs(lines) do check("debug line " .. i, line) end
      assert.same({}, where)
    end

    local function client_for(url)
      local lines = {}
      local client = servers.client { api_key = KEY, server_url = url, retries = false,
                                      debug = function(line) lines[#lines + 1] = line end }
      return client, lines
    end

    local CALLS = {
      { "get_jobs", function(c) return c:get_jobs { page_size = 10, ids = { "a" } } end },
      { "create_application", function(c)
          return c:create_application { job_id = "j", body = { candidate = candidate(),
            attachments = { { bytes = "%PDF-1.4\n", name = "cv.pdf", type = "CV" } } } }
        end },
      { "remove_candidate_tag", function(c) return c:remove_candidate_tag { candidate_id = "c", body = { tag = { name = "t" } } } end },
    }
    for _, call in ipairs(CALLS) do
      it(call[1] .. ": a 401 from the stand-in for the wrong key", function()
        local client, lines = client_for(servers.standin_url())
        local res, err = call[2](client)
        assert.is_nil(res)
        assert.equals(401, err.status)
        assert_clean(err, lines)
        assert.truthy(table.concat(lines, "\n"):find("Authorization: Bearer <redacted>", 1, true))
      end)
      for _, mode in ipairs { "echo-auth", "echo-auth-json", "echo-variants", "echo-auth-escaped", "reset-before-status" } do
        it(call[1] .. ": a server that " .. mode, function()
          local client, lines = client_for(badserver.url(srv, mode))
          local res, err = call[2](client)
          assert.is_nil(res)
          assert_clean(err, lines)
        end)
      end
    end

    it("validation: the key given as a value or as a member's name is in no problem", function()
      local client, lines = client_for(servers.standin_url())
      local _, err = client:get_jobs { status = KEY, updated_after = KEY, [KEY] = 1 }
      assert.equals("validation", err.kind)
      assert.equals(3, #err.problems)
      assert_clean(err, lines)
      _, err = client:create_application { job_id = "j", body = { candidate = {
        first_name = "A", last_name = "B", email_address = KEY, [KEY] = "x", location = { country = KEY } },
        attachments = { { file = dir .. "/" .. KEY .. ".pdf", type = "CV" } } } }
      assert.equals("validation", err.kind)
      assert.equals(4, #err.problems)
      assert_clean(err, lines)
    end)
  end)
end)
