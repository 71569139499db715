-- The generated operations over the cosocket transport (the test app's
-- /operation runs client[method](client, args) inside nginx), compared
-- with libcurl in this process: the same request arrives at the stand-in
-- (method, target, body byte for byte, Content-Length) for a list with
-- query parameters, create_application with file objects, PUT, PATCH and
-- DELETE with a body; the same problems, create_application's preflight
-- among them (nothing sent); the same outcome rule against the
-- bad server (a POST that may have been carried out is not resent, a GET is).
local S = require "nginx.support"
local badserver = require "support.badserver"
local describe_result = require "nginx.describe"
local cjson = require "cjson"
local kombo = require "kombo"

local STANDIN, APP, SRV, DIR
local integration = S.integration_ids("ngx-op")

-- The stand-in's records for one integration.
local function records(integ) return S.requests_of(STANDIN, integ) end

-- The app's with_sources, for this process.
local function with_sources(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = with_sources(x) end
  if type(v.source_text) == "string" then
    local text, at = v.source_text, 1
    out.source_text, out.size = nil, #text
    out.source = function()
      if at > #text then return nil end
      local chunk = text:sub(at, at + 2)
      at = at + 3
      return chunk
    end
  end
  return out
end

local function via_cosocket(method, args, opts)
  return S.json("POST", APP.url .. "/operation", { method = method, args = args, opts = opts or {} }, 60)
end

local function via_curl(method, args, opts)
  local o = { api_key = "test-key", server_url = STANDIN, transport = "curl", integration_id = "app" }
  for k, v in pairs(opts or {}) do o[k] = v end
  local c = kombo.new(o)
  local res, err = c[method](c, with_sources(args))
  local d = describe_result(res, err)
  if err and err.problems then d.err.problems = err.problems end
  c:close()
  return cjson.decode(cjson.encode(d))
end

-- Runs args through both transports (each with its own integration id);
-- returns the two stand-in records (cosocket, curl) and results.
local function both(method, args)
  local out = {}
  for _, t in ipairs { { "cosocket", via_cosocket }, { "curl", via_curl } } do
    local integ = integration(method .. "-" .. t[1])
    local r = t[2](method, args, { integration_id = integ, retries = false })
    assert.is_true(r.ok, cjson.encode(r))
    local recs = records(integ)
    assert.equals(1, #recs)
    out[#out + 1] = { rec = recs[1], res = r }
  end
  return out[1].rec, out[2].rec, out[1].res, out[2].res
end

local function assert_same_request(a, b, method, uri)
  assert.equals(method, a.method)
  assert.equals(method, b.method)
  assert.equals(uri, a.uri)
  assert.equals(uri, b.uri)
  assert.equals(b.body_sha1, a.body_sha1)
  assert.equals(b.body_length, a.body_length)
  assert.equals(a.body_length, tonumber(a.headers["content-length"] or "0"))
  assert.equals(b.headers["content-type"], a.headers["content-type"])
end

describe("generated operations over cosockets #operations", function()
  setup(function()
    S.ensure_lib51()
    STANDIN, APP = S.standin_and_app()
    SRV = badserver.start(60)
    DIR = S.tmpdir("ops-files")
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
    badserver.stop(SRV)
    if DIR then S.sh(("rm -rf '%s'"):format(DIR)) end
  end)

  it("get_jobs: the same request target, in the descriptor's order, percent-encoded", function()
    local a, b, ra = both("get_jobs", { name_contains = "x y&z", ids = { "a", "b" }, include_deleted = false,
                                        page_size = 50, updated_after = "2024-01-01T00:00:00Z" })
    assert_same_request(a, b, "GET", "/ats/jobs?page_size=50&updated_after=2024-01-01T00%3A00%3A00Z"
      .. "&include_deleted=false&ids=a%2Cb&name_contains=x%20y%26z")
    assert.equals(0, a.body_length)
    assert.is_nil(a.headers["content-type"])
    assert.equals("success", ra.status)
    assert.same({ next = cjson.null, results = {} }, ra.data)
  end)

  it("create_application with a file, bytes and a source: the same body byte for byte", function()
    local cv = DIR .. "/Resume.pdf"
    S.write_file(cv, "%PDF-1.4\n" .. ("line of a CV\n"):rep(3000))
    local a, b = both("create_application", { job_id = "job 7", body = {
      candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" },
      attachments = {
        { file = cv, type = "CV" },
        { bytes = "Dear team,\n", name = "cover.txt", type = "COVER_LETTER" },
        { source_text = "notes, streamed", name = "notes.txt", type = "OTHER" },
      },
    } })
    assert_same_request(a, b, "POST", "/ats/jobs/job%207/applications")
    local body = cjson.decode(a.body)
    assert.equals("Resume.pdf", body.attachments[1].name)
    assert.equals("application/pdf", body.attachments[1].content_type)
    assert.equals(kombo.base64("%PDF-1.4\n" .. ("line of a CV\n"):rep(3000)), body.attachments[1].data)
    assert.equals(kombo.base64("Dear team,\n"), body.attachments[2].data)
    assert.equals(kombo.base64("notes, streamed"), body.attachments[3].data)
    assert.equals("text/plain", body.attachments[3].content_type)
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
    it(case[1] .. ": " .. case[2] .. " with its body, as libcurl sends it", function()
      local a, b = both(case[1], case[3])
      assert_same_request(a, b, case[2], case[4])
      assert.equals("application/json", a.headers["content-type"])
      assert.same(case[3].body, cjson.decode(a.body))
    end)
  end

  it("the same problems for a bad create_application, nothing sent", function()
    local args = { job_id = "j", body = { candidate = { first_name = "A", email_address = "x",
                                                       location = { country = "de" } } } }
    local integ = integration("bad")
    local a = via_cosocket("create_application", args, { integration_id = integ })
    local b = via_curl("create_application", args, { integration_id = integ })
    assert.equals("validation", a.err.kind)
    assert.same(b.err.problems, a.err.problems)
    assert.equals(b.err.message, a.err.message)
    assert.equals(0, #records(integ))
  end)

  it("create_application with preflight: the same refusals as libcurl and nothing sent; within the rules, sent",
    function()
    local rules = { total_size_bytes = 150, types = {
      CV = { is_supported = true, min_amount = 1, max_amount = 1, max_file_size_bytes = 100,
             accepted_mime_types = { "application/pdf" } },
      COVER_LETTER = { is_supported = true, min_amount = 0, max_amount = cjson.null, max_file_size_bytes = cjson.null,
                       accepted_mime_types = cjson.null },
      OTHER = { is_supported = false } } }
    local function args(attachments)
      return { job_id = "job-demo-1", body = { attachments = attachments,
        candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" } } }
    end
    local refused = args({ { bytes = "%PDF-1.4\n" .. ("x"):rep(120), name = "cv.pdf", type = "CV" },
                           { bytes = "x", name = "o.txt", type = "OTHER" },
                           { bytes = ("L"):rep(40), name = "letter.txt", type = "COVER_LETTER" } })
    local got = {}
    for _, t in ipairs { { "cosocket", via_cosocket }, { "curl", via_curl } } do
      local integ = integration("preflight-" .. t[1])
      S.json("POST", STANDIN .. "/_restrictions?integration=" .. S.urlencode(integ) .. "&target=create_application", rules)
      local r = t[2]("create_application", refused, { integration_id = integ, preflight = true })
      assert.is_false(r.ok, cjson.encode(r))
      assert.equals("validation", r.err.kind)
      assert.equals("not_sent", r.err.outcome)
      got[t[1]] = r.err
      local recs = records(integ)
      assert.equals(1, #recs) -- the restrictions only
      assert.equals("GET", recs[1].method)
      assert.equals("/ats/actions/ats_create_application", recs[1].uri)
      local ok = t[2]("create_application", args({ { bytes = "%PDF-1.4\nshort", name = "cv.pdf", type = "CV" } }),
        { integration_id = integ, preflight = true })
      assert.is_true(ok.ok, cjson.encode(ok))
      recs = records(integ) -- (a new client each time: the restrictions fetched again)
      assert.same({ "GET", "GET", "POST" }, { recs[1].method, recs[2].method, recs[3] and recs[3].method })
    end
    assert.same(got.curl.problems, got.cosocket.problems)
    local paths = {}
    for i, p in ipairs(got.cosocket.problems) do paths[i] = p.path end
    assert.same({ "body.attachments[1]", "body.attachments[2].type", "body.attachments" }, paths)
  end)

  describe("the outcome rule against a server that resets after reading the request", function()
    local RETRIES = { max_attempts = 3, initial_interval = 0.01, max_interval = 0.05, exponent = 1.5,
                      max_elapsed = 10 }
    local function seen_since(before)
      local all, out = badserver.requests(SRV, "reset-before-status"), {}
      for i = before + 1, #all do out[#out + 1] = all[i] end
      return out
    end

    it("create_application: one attempt, outcome unknown, 'it may have been carried out'", function()
      local before = #badserver.requests(SRV, "reset-before-status")
      local r = via_cosocket("create_application", { job_id = "j1", body = {
        candidate = { first_name = "A", last_name = "B", email_address = "a@example.com" } } },
        { server_url = badserver.url(SRV, "reset-before-status"), retries = RETRIES })
      assert.is_false(r.ok)
      assert.equals("network", r.err.kind)
      assert.equals("unknown", r.err.outcome)
      assert.equals(1, r.err.attempts)
      local suffix = "; it may have been carried out: check before sending it again"
      assert.equals(suffix, r.err.message:sub(-#suffix))
      local seen = seen_since(before)
      assert.equals(1, #seen, badserver.log(SRV))
      assert.equals("POST", seen[1].method)
    end)

    it("get_jobs: retried, as over libcurl", function()
      local before = #badserver.requests(SRV, "reset-before-status")
      local r = via_cosocket("get_jobs", { ids = { "a" } },
        { server_url = badserver.url(SRV, "reset-before-status"), retries = RETRIES })
      assert.is_false(r.ok)
      assert.equals(3, r.err.attempts)
      assert.is_nil(r.err.message:find("carried out", 1, true), r.err.message)
      local seen = seen_since(before)
      assert.equals(3, #seen, badserver.log(SRV))
      for _, q in ipairs(seen) do assert.equals("/reset-before-status/ats/jobs?ids=a", q.target) end
    end)
  end)
end)
