-- Reading back and checking before uploading, against the stand-in: the
-- attachment listings, attachment_exists, the restrictions and preflight,
-- check_api_key, retries of GETs, and Kombo's limits.
local servers = require "support.servers"
local kombo = require "kombo"
local cjson = servers.cjson

local function control(path, body)
  local status, _, text = servers.http("POST", servers.standin_url() .. path,
    { ["content-type"] = "application/json" }, body and cjson.encode(body) or "")
  assert(status == 200, "POST " .. path .. ": " .. tostring(status) .. " " .. tostring(text))
end

local function set_restrictions(integ, target, value)
  local status, _, text = servers.http("POST",
    ("%s/_restrictions?integration=%s&target=%s"):format(servers.standin_url(), integ, target),
    { ["content-type"] = "application/json" }, value == kombo.null and "null" or cjson.encode(value))
  assert(status == 200, "POST /_restrictions: " .. tostring(status) .. " " .. tostring(text))
end

-- attachment_exists before the upload: false (or, should the listing fail, the test says why)
local function assert_false_or_err(v, err)
  assert(v ~= nil, err and tostring(err))
  return v
end

local function upload(client, candidate, attachment)
  return client:attach_to_candidate { candidate_id = candidate, body = { attachment = attachment or servers.attachment() } }
end

local function gets(integ)
  local n = 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "GET" then n = n + 1 end
  end
  return n
end

describe("listing attachments #integration #readback", function()
  it("get_candidate_attachments lists what was uploaded, with every documented field", function()
    local client = servers.client()
    local up = assert(upload(client, "cand-list"))
    local res, err = client:get_candidate_attachments { candidate_id = "cand-list" }
    assert.is_nil(err, err and tostring(err))
    assert.equals(1, #res.data.results)
    local a = res.data.results[1]
    assert.equals(up.data.id, a.id)
    assert.equals("cand-list", a.candidate_id)
    assert.equals(kombo.null, a.application_id)
    assert.equals("Frank Doe CV.pdf", a.file_name)
    assert.equals("CV", a.type)
    assert.equals("application/pdf", a.content_type)
    for _, k in ipairs { "remote_id", "data_url", "remote_created_at", "remote_updated_at" } do
      assert.is_not_nil(a[k], k)
    end
  end)

  it("an empty list is an empty array that re-encodes as []", function()
    local client = servers.client()
    local res = assert(client:get_candidate_attachments { candidate_id = "cand-none" })
    assert.equals(0, #res.data.results)
    assert.truthy(assert(kombo.encode_json(res)):find('"results":[]', 1, true))
  end)

  it("get_application_attachments lists an application's uploads", function()
    local client = servers.client()
    assert(client:attach_to_application { application_id = "app-list", body = { attachment = servers.attachment() } })
    local res = assert(client:get_application_attachments { application_id = "app-list" })
    assert.equals(1, #res.data.results)
    assert.equals("app-list", res.data.results[1].application_id)
  end)

  it("ids are validated exactly as for uploads, and X-Integration-Id is required", function()
    local client = servers.client()
    for _, bad in ipairs { "", ".", "..", "a\r\nb" } do
      local res, err = client:get_candidate_attachments { candidate_id = bad }
      assert.is_nil(res)
      assert.equals("validation", err.kind)
      assert.equals("candidate_id", err.problems[1].path)
    end
    local bare = servers.with_env({}, function()
      return kombo.new { api_key = servers.API_KEY, server_url = servers.standin_url() }
    end)
    local _, err = bare:get_candidate_attachments { candidate_id = "c" }
    assert.equals("integration_id", err.problems[1].path)
    local _, err2 = client:get_candidate_attachments { candidate_id = "c", body = {} }
    assert.matches("is not a known field", err2.problems[1].message, 1, true)
  end)

  it("a GET is retried on 503 and on a reset after it was sent (idempotent)", function()
    local client, integ = servers.client()
    local res, err = client:get_candidate_attachments { candidate_id = "scenario-503-once-none" }
    assert.is_nil(err, err and tostring(err))
    assert.equals(2, res.http.attempts)
    local res2, err2 = client:get_candidate_attachments { candidate_id = "scenario-500-once" }
    assert.is_nil(err2, err2 and tostring(err2))
    assert.equals(2, res2.http.attempts) -- a 500 may have been processed: fine for a GET
    assert.equals(4, gets(integ))
  end)

  it("an upload is not retried on a 500 (it may have landed)", function()
    local client, integ = servers.client()
    local _, err = upload(client, "scenario-500-once")
    assert.equals("unknown", err.outcome)
    assert.equals(1, err.attempts)
    assert.equals(1, #servers.requests(integ))
  end)
end)

describe("attachment_exists #integration #readback", function()
  it("is false before the upload and true after it (settling an unknown outcome)", function()
    local client = servers.client()
    local args = { candidate_id = "cand-exists", body = { attachment = servers.attachment { name = "cv-exists.pdf" } } }
    assert.is_false(assert_false_or_err(client:attachment_exists(args)))
    assert(client:attach_to_candidate(args))
    assert.is_true(client:attachment_exists(args))
  end)

  it("an older attachment of the same name and type is not this upload (issue 17: silent loss)", function()
    local client, integ = servers.client()
    control(("/_listing?integration=%s&seed=candidate&id=cand-old&name=cv.pdf&type=CV&age=86400&content=old")
      :format(integ))
    local args = { candidate_id = "cand-old", body = { attachment = servers.attachment { name = "cv.pdf" } } }
    local found, why = client:attachment_exists(args)
    assert.is_false(found)
    assert.truthy(why:find("none of them this upload", 1, true), why)
    -- by time, too: created a day before the request went out
    control(("/_listing?integration=%s&evidence=time"):format(integ))
    local _, wall = require("kombo.core").now()
    found = client:attachment_exists(args, { since = wall - 3 * servers.TIMEOUT })
    assert.is_false(found)
    assert(client:attach_to_candidate(args))
    found = client:attachment_exists(args, { since = wall - 3 * servers.TIMEOUT })
    assert.is_true(found) -- (created now: after `since`)
  end)

  it("an unknown outcome carries written_at; attachment_exists waits out the attempt's timeout from it", function()
    local client = servers.client()
    local args = { candidate_id = "scenario-500-once",
      body = { attachment = servers.attachment { name = "cv-written.pdf" } } }
    local _, t0 = require("kombo.core").now()
    local res, err = client:attach_to_candidate(args)
    assert.is_nil(res)
    assert.equals("unknown", err.outcome)
    assert.is_number(err.written_at)
    assert.truthy(err.written_at >= t0 - 1 and err.written_at <= t0 + 10)
    local found, e2 = client:attachment_exists(args, { since = err.written_at })
    assert.is_nil(found)
    assert.equals("validation", e2.kind)
    assert.truthy(e2.retry_after > 0 and e2.retry_after <= servers.TIMEOUT)
    assert.truthy(tostring(e2):find("could still be in flight", 1, true), tostring(e2))
    -- a request that never went out whole has no written_at
    local _, verr = client:attach_to_candidate { candidate_id = "", body = { attachment = servers.attachment() } }
    assert.is_nil(verr.written_at)
  end)

  it("both ids are a validation error, not a false that reads as 'send it again'", function()
    local client = servers.client()
    local found, err = client:attachment_exists { candidate_id = "c", application_id = "a",
      body = { attachment = servers.attachment() } }
    assert.is_nil(found)
    assert.equals("validation", err.kind)
  end)

  it("matches the name and the type: another type is not the same upload", function()
    local client = servers.client()
    assert(upload(client, "cand-type", servers.attachment { name = "letter.pdf", type = "COVER_LETTER" }))
    assert.is_false(client:attachment_exists {
      candidate_id = "cand-type", body = { attachment = servers.attachment { name = "letter.pdf", type = "CV" } } })
    assert.is_true(client:attachment_exists {
      candidate_id = "cand-type", body = { attachment = servers.attachment { name = "letter.pdf", type = "COVER_LETTER" } } })
  end)

  it("takes the name from `file` as the upload does, and works for applications", function()
    local client = servers.client()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb")); f:write("%PDF-1.4\n"); f:close()
    local args = { application_id = "app-exists", body = { attachment = { file = path, type = "CV" } } }
    assert.is_false(client:attachment_exists(args))
    assert(client:attach_to_application(args))
    assert.is_true(client:attachment_exists(args))
    os.remove(path)
  end)

  it("returns nil, err when the listing fails", function()
    local client = servers.client { retries = false }
    local ok, err = client:attachment_exists { candidate_id = "scenario-error-404",
      body = { attachment = servers.attachment() } }
    assert.is_nil(ok)
    assert.equals("api", err.kind)
    assert.equals(404, err.status)
  end)
end)

describe("attachment restrictions and preflight #integration #readback", function()
  local PDF_ONLY = { types = {
    CV = { is_supported = true, max_file_size_bytes = 100, accepted_mime_types = { "application/pdf" } },
    COVER_LETTER = { is_supported = false },
    OTHER = { is_supported = true, max_file_size_bytes = kombo.null, accepted_mime_types = kombo.null },
  } }

  it("attachment_restrictions returns what the integration publishes", function()
    local client, integ = servers.client()
    set_restrictions(integ, "candidate", PDF_ONLY)
    local res = assert(client:attachment_restrictions("candidate"))
    local cv = res.data.attachment_restrictions.types.CV
    assert.is_true(cv.is_supported)
    assert.equals(100, cv.max_file_size_bytes)
    assert.same({ "application/pdf" }, { cv.accepted_mime_types[1] })
    assert.is_false(res.data.attachment_restrictions.types.COVER_LETTER.is_supported)
    assert.has_error(function() client:attachment_restrictions("job") end)
  end)

  it("refuses an unsupported type, too large a file and a MIME type outside the list; nothing is sent", function()
    local client, integ = servers.client { preflight = true }
    set_restrictions(integ, "candidate", PDF_ONLY)
    local cases = {
      { servers.attachment { type = "COVER_LETTER" }, "body.attachment.type", "not supported" },
      { { bytes = ("x"):rep(101), name = "big.pdf", content_type = "application/pdf", type = "CV" },
        "body.attachment", "max_file_size_bytes 100" },
      { { bytes = "hello", name = "n.txt", type = "CV" }, "body.attachment.content_type",
        "text/plain is not among the integration's accepted_mime_types (application/pdf)" },
    }
    for _, case in ipairs(cases) do
      local res, err = upload(client, "cand-pf", case[1])
      assert.is_nil(res)
      assert.equals("validation", err.kind)
      assert.equals("not_sent", err.outcome)
      assert.equals(case[2], err.problems[1].path)
      assert.matches(case[3], err.problems[1].message, 1, true)
    end
    local posts = 0
    for _, rec in ipairs(servers.requests(integ)) do if rec.method == "POST" then posts = posts + 1 end end
    assert.equals(0, posts)
    assert.equals(1, gets(integ)) -- fetched once, cached
  end)

  it("lets through what the integration accepts; data_url uploads are checked by type only", function()
    local client, integ = servers.client { preflight = true }
    set_restrictions(integ, "candidate", PDF_ONLY)
    assert(upload(client, "cand-pf-ok")) -- 9 bytes of PDF
    assert(upload(client, "cand-pf-url", servers.url_attachment { content_type = "text/html" }))
    local _, err = upload(client, "cand-pf-url", servers.url_attachment { type = "COVER_LETTER" })
    assert.equals("body.attachment.type", err.problems[1].path)
  end)

  it("is per call too: preflight = false skips it, preflight = true asks for it", function()
    local client, integ = servers.client { preflight = true }
    set_restrictions(integ, "candidate", PDF_ONLY)
    local res = client:attach_to_candidate { candidate_id = "c", preflight = false,
      body = { attachment = servers.attachment { type = "COVER_LETTER" } } }
    assert.is_table(res)
    local plain = servers.client { integration_id = integ }
    local _, err = plain:attach_to_candidate { candidate_id = "c", preflight = true,
      body = { attachment = servers.attachment { type = "COVER_LETTER" } } }
    assert.equals("validation", err.kind)
  end)

  it("caches per integration and target for preflight_ttl seconds", function()
    local client, integ = servers.client { preflight = true, preflight_ttl = 0.2 }
    set_restrictions(integ, "candidate", PDF_ONLY)
    assert(upload(client, "c1"))
    assert(upload(client, "c2"))
    assert.equals(1, gets(integ))
    assert(client:attach_to_application { application_id = "a1", body = { attachment = servers.attachment() } })
    assert.equals(2, gets(integ)) -- the application target has its own entry
    require("kombo.core").sleep(0.3)
    assert(upload(client, "c3"))
    assert.equals(3, gets(integ)) -- expired: fetched again
  end)

  it("null restrictions (none published) let everything through", function()
    local client, integ = servers.client { preflight = true }
    set_restrictions(integ, "candidate", kombo.null)
    assert(upload(client, "c-null", servers.attachment { type = "COVER_LETTER" }))
  end)

  it("when the restrictions cannot be fetched, says so and uploads nothing", function()
    local client, integ = servers.client { preflight = true, retries = false,
      server_url = "http://127.0.0.1:" .. servers.free_port() }
    local _, err = upload(client, "c-down")
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.matches("could not fetch the integration's attachment restrictions", err.message, 1, true)
    assert.equals(0, #servers.requests(integ))
    -- the error is a copy of the cached fetch's: its methods still answer
    assert.is_true(err:retryable())
    assert.is_false(err:may_have_landed())
  end)
end)

describe("check_api_key #integration #readback", function()
  it("succeeds with a valid key and sends no X-Integration-Id", function()
    local client = servers.client()
    local res, err = client:check_api_key()
    assert.is_nil(err, err and tostring(err))
    assert.is_string(res.data.environment_id)
    assert.is_string(res.data.customer_id)
  end)

  it("a wrong key is Kombo's general error: api, 401, PLATFORM.AUTHENTICATION_INVALID", function()
    local client = servers.client { api_key = "wrong-key-0123456789" }
    local res, err = client:check_api_key()
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals(401, err.status)
    assert.equals("PLATFORM.AUTHENTICATION_INVALID", err.code)
    assert.is_nil(tostring(err):find("wrong-key-0123456789", 1, true))
  end)

  it("works on the default client too", function()
    servers.with_env({ KOMBO_API_KEY = servers.API_KEY, KOMBO_SERVER_URL = servers.standin_url() }, function()
      kombo.configure {}
      assert(kombo.check_api_key())
    end)
  end)
end)

describe("Kombo's limits #integration #readback", function()
  it("res.http.limits holds the RateLimit-* headers as integers", function()
    local client = servers.client()
    local res = assert(upload(client, "scenario-ratelimit"))
    assert.same({ rate_limit = 100, rate_remaining = 99, rate_reset = 30 }, res.http.limits)
    if math.type then assert.equals("integer", math.type(res.http.limits.rate_limit)) end
  end)

  it("absent and malformed limit headers are left out", function()
    local client = servers.client()
    assert.same({}, assert(upload(client, "cand-plain")).http.limits)
    assert.same({}, assert(upload(client, "scenario-limits-malformed")).http.limits)
  end)

  it("err.limits on a rate-limited 429, which is retried after Retry-After", function()
    local client = servers.client { retries = false }
    local _, err = upload(client, "scenario-ratelimit-429")
    assert.equals(429, err.status)
    assert.equals("PLATFORM.RATE_LIMIT_EXCEEDED", err.code)
    assert.equals(0, err.limits.rate_remaining)
    assert.equals(1, err.limits.rate_reset)
  end)

  it("over the concurrency limit: 429 with Concurrency-Limit / -Remaining, first wait about 1 s", function()
    local now = require("kombo.core").now
    local client, integ = servers.client { retries = servers.fast_retries { max_attempts = 2, max_interval = 5 } }
    control(("/_concurrency?integration=%s&limit=1"):format(integ))
    -- Another process holds one upload in flight for 0.7 s.
    local body = cjson.encode { attachment = servers.attachment() }
    os.execute(("curl -s -o /dev/null -X POST -H 'Authorization: Bearer %s' -H 'X-Integration-Id: %s' "
      .. "-H 'Content-Type: application/json' --data '%s' '%s/ats/candidates/scenario-hold-700/attachments' &")
      :format(servers.API_KEY, integ, body, servers.standin_url()))
    -- Until the stand-in counts it in flight (a fixed pause lost the race on a loaded machine).
    local deadline = now() + servers.bound(5)
    repeat
      require("kombo.core").sleep(0.02)
      local _, _, text = servers.http("GET", ("%s/_concurrency?integration=%s"):format(servers.standin_url(), integ))
      local in_flight = text and cjson.decode(text).in_flight
    until in_flight == 1 or now() > deadline
    local started = now()
    local res, err = upload(client, "cand-busy")
    local took = now() - started
    assert.is_nil(err, err and tostring(err))
    assert.equals(2, res.http.attempts)
    assert.is_true(took >= 0.75, "the retry came after " .. took .. " s")
    assert.equals(1, res.http.limits.concurrency_limit)
  end)
end)
