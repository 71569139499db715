-- The generated operations beyond the uploads, offline (helpers.capture
-- records what the public API would send): the query string of the lists
-- (order, encoding, lists, booleans) and its validation; the bodies of
-- create_application / create_candidate with nested objects and several
-- file objects; PUT, PATCH and DELETE with a body.
-- (spec/integration/operations_spec.lua sends the same through libcurl to
-- the stand-in, spec/nginx/operations_spec.lua through cosockets.)
local kombo = require "kombo"
local h = require "unit.helpers"
local files = require "support.files"

local cjson = h.cjson
local BASE = h.OFFLINE_URL

local function problems_for(method, args)
  return h.validation_error(h.client(), method, args).problems
end

-- Asserts exactly these problems ({ "path message", ... }, in the order reported).
local function assert_problems(want, problems)
  local got = {}
  for i, p in ipairs(problems) do got[i] = p.path .. " " .. p.message end
  assert.same(want, got)
end

-- The one request client:<method>(args) would send (its body decoded as
-- rec.json when there is one).
local function send(method, args)
  local client = h.client()
  local res, err
  local records = h.capture(function() res, err = client[method](client, args) end)
  assert(err == nil, "expected success, got " .. tostring(err))
  assert(res and #records == 1, "expected exactly one request, got " .. #records)
  local rec = records[1]
  if rec.body ~= "" then rec.json = cjson.decode(rec.body) end
  return rec
end

-- The byte offset of each member name in a JSON text, to check their order.
local function in_order(text, names)
  local last = 0
  for _, name in ipairs(names) do
    local at = text:find('"' .. name .. '":', last + 1, true)
    assert(at, ("%s not found after offset %d in %s"):format(name, last, text))
    last = at
  end
  return true
end

describe("generated operations #operations", function()
  it("are found by the core by index (what a call passes) or by name, the same operation", function()
    local core = require "kombo.core"
    local handle = require("kombo.client").state(h.client(), "prepare").core
    local args = { candidate_id = "c1", body = { attachment = { name = "cv.txt", type = "CV", content_type = "text/plain", data = "aGk=" } } }
    for i, op in ipairs(core.operations) do assert.equals(i - 1, op.index) end
    local by_index
    for _, op in ipairs(core.operations) do
      if op.name == "attach_to_candidate" then by_index = op.index end
    end
    local a = assert(handle:prepare(by_index, args))
    local b = assert(handle:prepare("attach_to_candidate", args))
    assert.equals(a:operation(), b:operation())
    assert.equals(select(1, a:request()), select(1, b:request()))
    -- call:view (the hooks' and the log's view): headers only when asked for
    assert.is_nil(select(3, a:view()))
    assert.is_nil(select(3, a:view(false)))
    assert.equals(#select(2, a:request()), #select(3, a:view(true)))
    assert.truthy(select(2, a:view()):find("/ats/candidates/c1/attachments$"))
    a:close(); b:close()
    for _, bad in ipairs { -1, 0.5, #core.operations, 1e9 } do
      local ok, msg = pcall(handle.prepare, handle, bad, args)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("unknown operation", 1, true), msg)
    end
  end)

  describe("query parameters", function()
    it("go on the wire in the descriptor's order, percent-encoded, lists joined, booleans as words", function()
      -- Given in no particular order (a Lua table has none anyway).
      local rec = send("get_jobs", {
        name_contains = "x y&z", statuses = { "OPEN", "DRAFT" }, status = "OPEN", include_deleted = true,
        ids = { "a", "b" }, page_size = 100, updated_after = "2024-01-01T00:00:00Z", cursor = "c/1+é",
        ignore_unsupported_filters = false, remote_ids = { "r 1", "r#2" }, job_codes = { "J?1" },
        remote_created_after = "2024-05-01", post_url = "https://jobs.example.com/a?b=c",
        employment_types = { "FULL_TIME" }, visibilities = { "PUBLIC", "INTERNAL" },
      })
      assert.equals(BASE .. "/ats/jobs?cursor=c%2F1%2B%C3%A9&page_size=100&updated_after=2024-01-01T00%3A00%3A00Z"
        .. "&include_deleted=true&ignore_unsupported_filters=false&ids=a%2Cb&remote_ids=r%201%2Cr%232"
        .. "&job_codes=J%3F1&post_url=https%3A%2F%2Fjobs.example.com%2Fa%3Fb%3Dc&status=OPEN"
        .. "&statuses=OPEN%2CDRAFT&employment_types=FULL_TIME&visibilities=PUBLIC%2CINTERNAL"
        .. "&remote_created_after=2024-05-01&name_contains=x%20y%26z", rec.url)
      assert.equals("GET", rec.method)
      assert.equals("", rec.body)
      assert.equals(0, rec.length)
      local headers = h.header_map(rec.headers)
      assert.is_nil(headers["content-type"], "a GET has no body and no Content-Type")
      assert.equals(h.INTEGRATION_ID, headers["x-integration-id"])
    end)

    it("integration_id and the path parameters are not query parameters", function()
      local rec = send("get_candidates", { integration_id = "greenhouse:x y", email = "a+b@example.com",
                                           job_ids = { "j 1", "j/2" }, first_name = "Zoë" })
      assert.equals(BASE .. "/ats/candidates?email=a%2Bb%40example.com&job_ids=j%201%2Cj%2F2&first_name=Zo%C3%AB",
        rec.url)
      assert.equals("greenhouse:x y", h.header_map(rec.headers)["x-integration-id"])
    end)

    it("get_applications: an enum, a list of its values and a date", function()
      local rec = send("get_applications", { outcome = "HIRED", outcomes = { "HIRED", "DECLINED" },
                                             remote_created_after = "2024-01-01T00:00:00.250Z", job_ids = { "j1" } })
      assert.equals(BASE .. "/ats/applications?outcome=HIRED&outcomes=HIRED%2CDECLINED&job_ids=j1"
        .. "&remote_created_after=2024-01-01T00%3A00%3A00.250Z", rec.url)
    end)

    it("none given: no '?' at all", function()
      assert.equals(BASE .. "/ats/jobs", send("get_jobs", {}).url)
      assert.equals(BASE .. "/ats/jobs", send("get_jobs", { integration_id = "x:y" }).url)
    end)

    it("the strings 'true' and 'false' and a list given as one string are sent as they are", function()
      assert.equals(BASE .. "/ats/tags?include_deleted=true&ids=a%2Cb",
        send("get_tags", { include_deleted = "true", ids = "a,b" }).url)
    end)

    describe("page_size", function()
      for _, n in ipairs { 1, 250, 100.0 } do
        it(("accepts %s"):format(tostring(n)), function()
          assert.equals(BASE .. "/ats/jobs?page_size=" .. math.floor(n), send("get_jobs", { page_size = n }).url)
        end)
      end
      local cases = {
        { 0, "page_size must be at least 1 (got 0)" },
        { -5, "page_size must be at least 1 (got -5)" },
        { 251, "page_size must be at most 250 (got 251)" },
        { 2.5, "page_size must be an integer (got number)" },
        { "10", "page_size must be an integer (got string)" },
        { true, "page_size must be an integer (got boolean)" },
      }
      for _, case in ipairs(cases) do
        it(("refuses %s: %s"):format(tostring(case[1]), case[2]), function()
          assert_problems({ case[2] }, problems_for("get_jobs", { page_size = case[1] }))
        end)
      end
    end)

    it("status: one of the enum, case and all", function()
      assert_problems({ 'status must be one of OPEN, CLOSED, DRAFT, ARCHIVED (got "open")' },
        problems_for("get_jobs", { status = "open" }))
      assert_problems({ 'outcome must be one of PENDING, HIRED, DECLINED (got "REJECTED")' },
        problems_for("get_applications", { outcome = "REJECTED" }))
    end)

    describe("updated_after (a date-time)", function()
      for _, ok in ipairs { "2024-01-01", "2024-01-01T00:00:00Z", "2024-02-29T23:59:59.123456Z",
                            "2024-12-31T23:59:59Z" } do
        it("accepts " .. ok, function()
          local rec = send("get_jobs", { updated_after = ok })
          assert.equals(ok, (rec.url:match("updated_after=([^&]*)"):gsub("%%3A", ":")))
        end)
      end
      local PATTERN = "must match ^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$"
      local DATE_TIME = "must be a date-time like 2024-05-01T12:00:00Z"
      local bad = {
        { "yesterday", PATTERN },
        { "2024-01-01T00:00:00+02:00", PATTERN }, -- Kombo's pattern has no offsets
        { "2024-01-01 00:00:00Z", PATTERN },
        { "2024-13-01T00:00:00Z", DATE_TIME },
        { "2024-02-30T00:00:00Z", DATE_TIME },
        { "2023-02-29", DATE_TIME },
        { "2024-01-01T24:00:01Z", DATE_TIME },
        { "2024-01-01T00:00:00", DATE_TIME }, -- a time without its zone
      }
      for _, case in ipairs(bad) do
        it(("refuses %q"):format(case[1]), function()
          assert_problems({ ("updated_after %s (got %q)"):format(case[2], case[1]) },
            problems_for("get_jobs", { updated_after = case[1] }))
        end)
      end
      it("refuses a number (a Unix time)", function()
        assert_problems({ "updated_after must be a string (got number)" },
          problems_for("get_jobs", { updated_after = 1714564800 }))
      end)
    end)

    describe("lists", function()
      it("an element holding a comma is refused: it would split into two", function()
        assert_problems({ "ids[2] must not contain a comma (the values are sent as one comma-separated list)" },
          problems_for("get_jobs", { ids = { "a", "b,c" } }))
      end)

      it("an empty element, an element of another type: one problem each", function()
        assert_problems({ "job_ids[1] must not be empty", "job_ids[3] must be a string (got number)",
                          "job_ids[4] must be a string (got boolean)" },
          problems_for("get_candidates", { job_ids = { "", "ok", 7, true } }))
      end)

      it("statuses: its values are listed in prose only, so not checked (status, deprecated, has the enum)", function()
        assert.equals(BASE .. "/ats/jobs?statuses=OPEN%2CGONE", send("get_jobs", { statuses = { "OPEN", "GONE" } }).url)
      end)

      for _, case in ipairs { { "{}", {} }, { "kombo.empty_array", kombo.empty_array } } do
        it("an empty list (" .. case[1] .. ") is refused, not left out or sent as ids=", function()
          assert_problems({ "ids must not be an empty list (leave it out not to filter by it)" },
            problems_for("get_jobs", { ids = case[2] }))
        end)
      end

      it("a table with keys, a number: the message names the forms a list takes", function()
        assert_problems({ "ids must be a string or an array of strings (got table)" },
          problems_for("get_jobs", { ids = { a = 1 } }))
        assert_problems({ "remote_ids must be a string or an array of strings (got number)" },
          problems_for("get_jobs", { remote_ids = 5 }))
      end)
    end)

    it("a boolean parameter of another type names both forms", function()
      assert_problems({ "include_deleted must be a string or a boolean (got number)" },
        problems_for("get_jobs", { include_deleted = 1 }))
      assert_problems({ 'include_deleted must be one of true, false (got "yes")' },
        problems_for("get_jobs", { include_deleted = "yes" }))
    end)

    it("an unknown parameter is a problem with the nearest known name", function()
      assert_problems({ "page_sise is not a known field (did you mean page_size?)" },
        problems_for("get_jobs", { page_sise = 10 }))
      assert_problems({ "includeDeleted is not a known field (did you mean include_deleted?)" },
        problems_for("get_candidates", { includeDeleted = true }))
      -- a parameter of another list is not one of this one's
      assert_problems({ "outcome is not a known field" }, problems_for("get_jobs", { outcome = "HIRED" }))
    end)

    it("every problem at once", function()
      assert_problems({ -- unknown names first, then the parameters in the descriptor's order
        "pagesize is not a known field (did you mean page_size?)",
        "page_size must be at most 250 (got 1000)",
        'updated_after must be a date-time like 2024-05-01T12:00:00Z (got "2024-13-01")',
        "ids[1] must not contain a comma (the values are sent as one comma-separated list)",
        'status must be one of OPEN, CLOSED, DRAFT, ARCHIVED (got "open")',
      }, problems_for("get_jobs", { page_size = 1000, updated_after = "2024-13-01", ids = { "a,b" },
                                    status = "open", pagesize = 1 }))
    end)

    it("an operation without query parameters takes none at the top level", function()
      local problems = problems_for("create_application", { job_id = "j", page_size = 10,
        body = { candidate = { first_name = "A", last_name = "B", email_address = "a@example.com" } } })
      assert_problems({ "page_size is not a known field" }, problems)
    end)
  end)

  describe("create_application", function()
    local dir, cv_path
    local CV = "%PDF-1.4\nCurriculum vitae of Ada\n"
    local LETTER = "Dear team,\nplease consider me.\n"

    setup(function()
      dir = files.tmpdir()
      cv_path = dir .. "/Ada Lovelace CV.pdf"
      files.write(cv_path, CV)
    end)
    teardown(function() files.rmtree(dir) end)

    local function candidate(over)
      return h.merge({ first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com",
                       location = { country = "GB", city = "London" } }, over)
    end

    it("with a candidate and three file objects (file, bytes, source): the exact body", function()
      local chunks = { "abc", "", "def" }
      local i = 0
      local rec = send("create_application", { job_id = "job 1/2", body = {
        -- given in another order than the description's
        remote_fields = { greenhouse = { source_id = 7 } },
        attachments = {
          { file = cv_path, type = "CV" },
          { bytes = LETTER, name = "cover.txt", type = "COVER_LETTER" },
          { source = function() i = i + 1; return chunks[i] end, size = 6, name = "notes.bin", type = "OTHER",
            content_type = "application/x-notes" },
        },
        candidate = candidate(),
        stage_id = "stage-1",
      } })
      assert.equals("POST", rec.method)
      assert.equals(BASE .. "/ats/jobs/job%201%2F2/applications", rec.url)
      assert.equals(#rec.body, rec.length)
      assert.equals("application/json", h.header_map(rec.headers)["content-type"])
      -- the description's member order, at every level
      assert.is_true(in_order(rec.body, { "stage_id", "candidate", "first_name", "last_name", "email_address",
                                          "location", "city", "country", "attachments", "remote_fields" }))
      local a = rec.json.attachments
      assert.equals(3, #a)
      assert.same({ name = "Ada Lovelace CV.pdf", content_type = "application/pdf", type = "CV",
                    data = kombo.base64(CV) }, a[1])
      assert.same({ name = "cover.txt", content_type = "text/plain", type = "COVER_LETTER",
                    data = kombo.base64(LETTER) }, a[2])
      assert.same({ name = "notes.bin", content_type = "application/x-notes", type = "OTHER",
                    data = kombo.base64("abcdef") }, a[3])
      assert.equals(CV, files.base64_decode(a[1].data))
      -- each file object's members: name, content_type, type, data (descriptor order; file/bytes/source gone)
      for _, text in ipairs { rec.body:match('"attachments":(%b[])') } do
        for obj in text:gmatch("%b{}") do assert.is_true(in_order(obj, { "name", "content_type", "type", "data" })) end
        assert.is_nil(text:find('"file"', 1, true))
        assert.is_nil(text:find('"bytes"', 1, true))
        assert.is_nil(text:find('"source"', 1, true))
        assert.is_nil(text:find('"size"', 1, true))
      end
      assert.same(candidate(), rec.json.candidate)
      assert.same({ greenhouse = { source_id = 7 } }, rec.json.remote_fields)
    end)

    it("a file object with data_url passes through, no content inferred", function()
      local rec = send("create_application", { job_id = "j", body = { candidate = candidate(),
        attachments = { { name = "cv.pdf", type = "CV", data_url = "https://files.example.com/cv.pdf" } } } })
      assert.same({ { name = "cv.pdf", type = "CV", data_url = "https://files.example.com/cv.pdf" } },
        rec.json.attachments)
    end)

    it("nested validation: email, country pattern, a missing required member, an unknown one, all at once", function()
      assert_problems({
        "body.candidate.last_name is required",
        'body.candidate.email_address must be an email address (got "x")',
        'body.candidate.location.country must match ^[A-Z]{2}$ (got "de")',
        "body.candidate.email_adress is not a known field (did you mean email_address?)",
      }, problems_for("create_application", { job_id = "j", body = { candidate = {
        first_name = "Ada", email_address = "x", email_adress = "ada@example.com", location = { country = "de" },
      } } }))
    end)

    it("deeper: additional emails and salary expectations", function()
      assert_problems({
        'body.candidate.additional_email_addresses[1].type must be one of PERSONAL, WORK, OTHER (got "HOME")',
        "body.candidate.additional_email_addresses[2].email_address is required",
        "body.candidate.salary_expectations.amount must be a number (got string)",
      }, problems_for("create_application", { job_id = "j", body = { candidate = candidate {
        additional_email_addresses = { { type = "HOME", email_address = "a@example.com" }, { type = "WORK" } },
        salary_expectations = { period = "YEAR", amount = "100k" },
      } } }))
    end)

    it("the body, the candidate and the job id are required", function()
      assert_problems({ "job_id is required", "body is required" }, problems_for("create_application", {}))
      assert_problems({ "body.candidate is required" }, problems_for("create_application", { job_id = "j", body = {} }))
      assert_problems({ "body.candidate.first_name is required", "body.candidate.last_name is required",
                        "body.candidate.email_address is required" },
        problems_for("create_application", { job_id = "j", body = { candidate = {} } }))
    end)

    it("an unknown member of the body suggests the nearest one", function()
      assert_problems({ "body.attachmets is not a known field (did you mean attachments?)" },
        problems_for("create_application", { job_id = "j", body = { candidate = candidate(), attachmets = {} } }))
    end)

    it("file objects in attachments: each problem at its own index", function()
      assert_problems({
        "body.attachments[1].type is required (one of CV, COVER_LETTER, OTHER)",
        "body.attachments[2].name is required",
        "body.attachments[3].file " .. dir .. "/missing.pdf: cannot be opened: No such file or directory",
        "body.attachments[4].typo is not a known field (did you mean type?)",
        "body.attachments[5] has both data_url and bytes; give exactly one",
      }, problems_for("create_application", { job_id = "j", body = { candidate = candidate(), attachments = {
        { file = cv_path },
        { bytes = "x", type = "OTHER" },
        { file = dir .. "/missing.pdf", type = "CV" },
        { file = cv_path, type = "CV", typo = "CV" },
        { name = "both.pdf", type = "CV", bytes = "x", data_url = "https://files.example.com/x" },
      } } }))
    end)

    describe("empty tables", function()
      it("attachments = {} is [] (the description says array only)", function()
        local rec = send("create_application", { job_id = "j", body = { candidate = candidate(), attachments = {} } })
        assert.truthy(rec.body:find('"attachments":[]', 1, true), rec.body)
      end)

      it("kombo.empty_array is []", function()
        local rec = send("create_application", { job_id = "j",
          body = { candidate = candidate(), attachments = kombo.empty_array } })
        assert.truthy(rec.body:find('"attachments":[]', 1, true), rec.body)
      end)

      it("remote_fields = {} is {}", function()
        local rec = send("create_application", { job_id = "j", body = { candidate = candidate(), remote_fields = {} } })
        assert.truthy(rec.body:find('"remote_fields":{}', 1, true), rec.body)
      end)

      it("a screening answer {} (an array or a file object) is refused with the way out", function()
        assert_problems({ "body.screening_question_answers[1].answer is an empty table, which could be an array or "
          .. "an object here: give kombo.empty_array for an empty array, or leave it out" },
          problems_for("create_application", { job_id = "j", body = { candidate = candidate(),
            screening_question_answers = { { question_id = "q1", answer = {} } } } }))
      end)

      it("a screening answer kombo.empty_array is [] (a multi-select with nothing selected)", function()
        local rec = send("create_application", { job_id = "j", body = { candidate = candidate(),
          screening_question_answers = { { question_id = "q1", answer = kombo.empty_array } } } })
        assert.truthy(rec.body:find('"screening_question_answers":[{"question_id":"q1","answer":[]}]', 1, true),
          rec.body)
      end)
    end)

    it("screening answers: text, boolean, number, multi-select and a file object from a path", function()
      local rec = send("create_application", { job_id = "j", body = { candidate = candidate(),
        screening_question_answers = {
          { question_id = "q1", answer = "Yes" }, { question_id = "q2", answer = true },
          { question_id = "q3", answer = 4.5 }, { question_id = "q4", answer = { "o1", "o2" } },
          { question_id = "q5", answer = { file = cv_path } },
        } } })
      local answers = rec.json.screening_question_answers
      assert.same({ "Yes", true, 4.5, { "o1", "o2" } },
        { answers[1].answer, answers[2].answer, answers[3].answer, answers[4].answer })
      assert.same({ name = "Ada Lovelace CV.pdf", content_type = "application/pdf", data = kombo.base64(CV) },
        answers[5].answer)
      assert.equals(#rec.body, rec.length)
    end)
  end)

  it("create_candidate takes file objects in its own attachments", function()
    local rec = send("create_candidate", { body = {
      candidate = { first_name = "A", last_name = "B", email_address = "a@example.com" },
      application = { job_id = "j1" },
      attachments = { { bytes = "%PDF-1.7\n", name = "cv.pdf", type = "CV" } },
    } })
    assert.equals(BASE .. "/ats/candidates", rec.url)
    assert.same({ { name = "cv.pdf", content_type = "application/pdf", type = "CV", data = kombo.base64("%PDF-1.7\n") } },
      rec.json.attachments)
  end)

  it("README's table lists every operation with its method, path and retry rule, as generated", function()
    local f = assert(io.open("README.md", "rb"))
    local readme = f:read("*a")
    f:close()
    local rows = {}
    for name, method, path, retried in readme:gmatch("\n| `([%w_]+)` | `(%u+) ([^`]+)` | [^|]* | (%a+) |") do
      rows[name] = { method, path, retried }
    end
    local want = {}
    for name, op in pairs(require("kombo.gen.operations").operations) do
      want[name] = { op.method, op.path, op.idempotent and "yes" or "no" }
    end
    assert.same(want, rows)
  end)

  describe("methods other than GET and POST", function()
    local cases = {
      { "move_application_to_stage", "PUT", { application_id = "app/1", body = { stage_id = "s1" } },
        "/ats/applications/app%2F1/stage", '{"stage_id":"s1"}' },
      { "update_interview", "PATCH", { application_id = "a1", body = {
          interview_id = "i1", title = "Second round", start_time = "2025-01-02T10:00:00Z",
          end_time = "2025-01-02T11:00:00Z", interviewer_user_ids = { "u1", "u2" }, organizer_user_id = "u1",
          location = { type = "VIRTUAL", address = "https://meet.example.com/x" } } },
        "/ats/applications/a1/interviews", nil },
      { "remove_candidate_tag", "DELETE", { candidate_id = "c1", body = { tag = { name = "Top" } } },
        "/ats/candidates/c1/tags", '{"tag":{"name":"Top"}}' },
    }
    for _, case in ipairs(cases) do
      it(case[1] .. " is a " .. case[2] .. " with its JSON body", function()
        local rec = send(case[1], case[3])
        assert.equals(case[2], rec.method)
        assert.equals(BASE .. case[4], rec.url)
        assert.equals(#rec.body, rec.length)
        assert.equals("application/json", h.header_map(rec.headers)["content-type"])
        if case[5] then assert.equals(case[5], rec.body) end
        assert.same(case[3].body, cjson.decode(rec.body))
      end)
    end

    it("update_interview: members in the description's order", function()
      local rec = send(cases[2][1], cases[2][3])
      assert.is_true(in_order(rec.body, { "interview_id", "title", "start_time", "end_time", "interviewer_user_ids",
                                          "organizer_user_id", "location" }))
    end)

    it("a DELETE without its body is a problem, not an empty DELETE", function()
      assert_problems({ "body is required" }, problems_for("remove_candidate_tag", { candidate_id = "c1" }))
    end)
  end)

  -- A discriminated anyOf/oneOf names its values in the problem: the
  -- generated value lists are NULL-terminated (they were not, and this read
  -- past one: a crash).
  it("import_tracked_application: a wrong or missing id_type names the discriminator's values", function()
    assert_problems({ 'body.greenhouse.id_type must be one of application_id (got "candidate_id")' },
      problems_for("import_tracked_application", { body = { tracked_at = "2026-12-01T00:00:00Z",
        greenhouse = { id_type = "candidate_id", application_id = "1" } } }))
    assert_problems({ "body.erecruiter.id_type is required (one of application_and_job_remote_ids, "
      .. "application_and_candidate_remote_ids)" },
      problems_for("import_tracked_application", { body = { tracked_at = "2026-12-01T00:00:00Z",
        erecruiter = { application_remote_id = "1" } } }))
  end)
end)
