-- Error answers from the local Kombo stand-in and the retry policy:
-- Kombo error JSON (kind "api"), other HTTP errors (kind "http"), 429/503
-- with Retry-After, 5xx that may have acted (not retried unless asked).
local servers = require "support.servers"
local kombo = require "kombo"
local cjson = servers.cjson

local function upload(client, candidate_id)
  return client:attach_to_candidate {
    candidate_id = candidate_id, body = { attachment = servers.attachment() },
  }
end

-- Asserts err is a Kombo error whose fields match the error JSON the
-- stand-in actually sent (err.body).
local function assert_api_error(err, status, code)
  assert.is_table(err)
  assert.is_true(kombo.is_error(err))
  assert.equals("api", err.kind)
  assert.equals(status, err.status)
  assert.equals(code, err.code)
  local sent = cjson.decode(err.body)
  assert.equals("error", sent.status)
  assert.equals(sent.error.code, err.code)
  assert.equals(sent.error.title, err.title)
  assert.equals(sent.error.log_url, err.log_url)
  assert.equals(sent.error.message, err.message)
  assert.is_string(err.title)
  assert.truthy(err.log_url:find("^https://app%.kombo%.dev/logs%?interactionId=standin%-"), err.log_url)
  assert.equals("application/json", err.headers["content-type"])
  assert.equals(("kombo api error (HTTP %d %s): %s"):format(status, code, err.message), tostring(err))
  return sent
end

describe("integration: Kombo error answers #integration", function()
  local cases = {
    { "error-400", 400, "PLATFORM.INPUT_INVALID" },
    { "error-401", 401, "PLATFORM.AUTHENTICATION_INVALID" },
    { "error-403", 403, "PLATFORM.IP_NOT_WHITELISTED" },
    { "error-404", 404, "PLATFORM.INTEGRATION_NOT_FOUND" },
    { "error-409", 409, "ATS.APPLICATION_ALREADY_EXISTS" },
    { "error-422", 422, "REMOTE.INPUT_INVALID" },
  }
  for _, case in ipairs(cases) do
    local scenario, status, code = case[1], case[2], case[3]
    it(("%s -> kind api, outcome rejected, %s, not retried"):format(scenario, code), function()
      local client, integ = servers.client() -- retries enabled (fast)
      local res, err = upload(client, "scenario-" .. scenario)
      assert.is_nil(res)
      assert_api_error(err, status, code)
      assert.equals("rejected", err.outcome)
      assert.truthy(err.message:find("stand-in scenario " .. scenario, 1, true), err.message)
      assert.equals(1, err.attempts)
      assert.is_nil(err.retry_after)
      assert.equals(1, #servers.requests(integ))
    end)
  end

  it("error-minimal -> code, title and log_url nil, message set", function()
    local client, integ = servers.client()
    local res, err = upload(client, "scenario-error-minimal")
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals("rejected", err.outcome)
    assert.equals(400, err.status)
    assert.is_nil(err.code)
    assert.is_nil(err.title)
    assert.is_nil(err.log_url)
    assert.equals("Only the message is always present.", err.message)
    assert.equals("kombo api error (HTTP 400): Only the message is always present.", tostring(err))
    assert.equals(1, err.attempts)
    assert.equals(1, #servers.requests(integ))
  end)

  -- JSON escapes inside keys and values ("st\u0061tus") are the same text:
  -- the classifier compares keys without decoding them when it can, and
  -- must still match the escaped spelling.
  it("a success body whose keys are written with \\u escapes -> res", function()
    local client, integ = servers.client()
    local res, err = upload(client, "scenario-ok-escaped-keys")
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals("att_\195\169", res.data.id) -- é
    assert.equals("a\nb", res.warnings[1].message)
    assert.equals(1, #servers.requests(integ))
  end)

  it("an error body whose keys are written with \\u escapes -> api error with code and title", function()
    local client = servers.client()
    local res, err = upload(client, "scenario-400-escaped-keys")
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals(400, err.status)
    assert.equals("INTEGRATION.MODEL_NOT_AVAILABLE", err.code)
    assert.equals("Not available", err.title)
    assert.equals("The model is not available.", err.message)
  end)

  it("a wrong API key -> 401 PLATFORM.AUTHENTICATION_INVALID", function()
    local client, integ = servers.client { api_key = "wrong-key-123" }
    local res, err = upload(client, "cand-auth")
    assert.is_nil(res)
    assert_api_error(err, 401, "PLATFORM.AUTHENTICATION_INVALID")
    assert.equals("rejected", err.outcome)
    assert.equals("The provided API key is invalid.", err.message)
    assert.equals(1, err.attempts)
    local recs = servers.requests(integ)
    assert.equals(1, #recs)
    assert.equals("Bearer wrong-key-123", recs[1].headers.authorization)
    assert.equals(401, recs[1].response.status)
  end)
end)

describe("integration: 429 and 503 are retried #integration", function()
  it("429 once, then success: Retry-After: 1 is honoured", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_interval = 5 } }
    local res, err = upload(client, "scenario-429-once")
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(200, res.http.status)
    assert.equals(2, res.http.attempts)
    assert.truthy(res.http.elapsed >= 0.95, "waited only " .. res.http.elapsed .. " s")
    assert.truthy(res.http.elapsed < servers.bound(3), "waited " .. res.http.elapsed .. " s")
    local recs = servers.requests(integ)
    assert.equals(2, #recs)
    assert.equals(429, recs[1].response.status)
    assert.equals(200, recs[2].response.status)
    assert.truthy(recs[2].time - recs[1].time >= 0.9, "the stand-in saw the retry too early")
    -- the retry is the same request
    assert.equals(recs[1].body, recs[2].body)
    assert.equals(recs[1].uri, recs[2].uri)
  end)

  it("429 always with max_attempts 2 -> api error 429 after 2 attempts, retry_after set", function()
    local client, integ = servers.client {
      retries = servers.fast_retries { max_attempts = 2, max_interval = 1 },
    }
    local res, err = upload(client, "scenario-429-always")
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals("rejected", err.outcome)
    assert.equals(429, err.status)
    assert.equals("PLATFORM.RATE_LIMIT_EXCEEDED", err.code)
    assert.equals(2, err.attempts)
    assert.equals(1, err.retry_after)
    assert.equals("1", err.headers["retry-after"])
    -- Retry-After: 1, waited in full once
    assert.truthy(err.elapsed >= 0.95, "elapsed " .. err.elapsed)
    assert.truthy(err.elapsed < servers.bound(2), "elapsed " .. err.elapsed)
    assert.equals(2, #servers.requests(integ))
  end)

  it("429 with Retry-After: 1 longer than max_interval 0.1 -> given up at once, not retried early", function()
    local client, integ = servers.client {
      retries = servers.fast_retries { max_attempts = 3, max_interval = 0.1 },
    }
    local res, err = upload(client, "scenario-429-always")
    assert.is_nil(res)
    assert.equals(429, err.status)
    assert.equals(1, err.attempts)
    assert.equals(1, err.retry_after)
    assert.truthy(err.message:find("not retried: Retry-After asks for 1 s, more than retries.max_interval (0.1 s)",
      1, true), err.message)
    assert.equals(1, #servers.requests(integ))
  end)

  it("a retried large upload sends the whole body again (rewound, byte for byte)", function()
    local client, integ = servers.client()
    local data = ("S29tYm8h"):rep(131072) -- 1 MiB of base64
    local res, err = client:attach_to_candidate {
      candidate_id = "scenario-503-once", body = { attachment = servers.attachment { data = data } },
    }
    assert.is_nil(err)
    assert.equals(2, res.http.attempts)
    local recs = servers.requests(integ)
    assert.equals(2, #recs)
    assert.equals(recs[1].body_length, recs[2].body_length)
    assert.equals(recs[1].body_sha1, recs[2].body_sha1)
    assert.equals(#data, recs[2].attachment.data_length)
    assert.equals(data, recs[2].json.attachment.data)
  end)

  it("retries = false -> one attempt only", function()
    local client, integ = servers.client { retries = false }
    local res, err = upload(client, "scenario-429-once")
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals(429, err.status)
    assert.equals(1, err.attempts)
    assert.equals(1, err.retry_after)
    assert.equals(1, #servers.requests(integ))
  end)

  it("max_attempts = 1 -> one attempt only", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_attempts = 1 } }
    local res, err = upload(client, "scenario-503-once")
    assert.is_nil(res)
    assert.equals(503, err.status)
    assert.equals(1, err.attempts)
    assert.equals(1, #servers.requests(integ))
  end)

  it("503 once, then success -> 2 attempts", function()
    local client, integ = servers.client()
    local res, err = upload(client, "scenario-503-once")
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(2, res.http.attempts)
    local recs = servers.requests(integ)
    assert.equals(2, #recs)
    assert.equals(503, recs[1].response.status)
  end)

  it("429 twice, then success -> 3 attempts (default max_attempts)", function()
    local client, integ = servers.client {
      retries = { initial_interval = 0.01, max_interval = 0.05 },
    }
    local res, err = upload(client, "scenario-429-twice-zero") -- Retry-After: 0
    assert.is_nil(err)
    assert.equals(3, res.http.attempts)
    assert.equals(3, #servers.requests(integ))
  end)

  it("Retry-After as an HTTP date further than max_interval 0.3: given up at once", function()
    -- The date is 2-3 s ahead; a date that did not parse would fall back to
    -- the 0.01 s backoff and succeed.  The exact wait for a date is checked
    -- on a fake clock (spec/unit/retry_spec.lua).
    local client, integ = servers.client { retries = servers.fast_retries { max_interval = 0.3 } }
    local res, err = upload(client, "scenario-429-once-date")
    assert.is_nil(res)
    assert.equals(1, err.attempts)
    assert.truthy(err.retry_after > 1 and err.retry_after <= 3.5, tostring(err.retry_after))
    assert.equals(1, #servers.requests(integ))
  end)

  it("the parsed HTTP-date Retry-After is reported in err.retry_after", function()
    local client = servers.client { retries = false }
    local res, err = upload(client, "scenario-429-always-date")
    assert.is_nil(res)
    assert.is_number(err.retry_after)
    assert.truthy(err.retry_after > 1 and err.retry_after <= 3.5, tostring(err.retry_after))
    assert.truthy(err.headers["retry-after"]:find("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"),
      err.headers["retry-after"])
  end)

  it("Retry-After: 100000 on an upload (default retries): given up at once, retry_after set", function()
    -- issue 18 (7): it slept max_interval twice and failed after 60 s
    local client, integ = servers.client { retries = {} }
    local res, err = upload(client, "scenario-429-once-huge")
    assert.is_nil(res)
    assert.equals(429, err.status)
    assert.equals(1, err.attempts)
    assert.equals(100000, err.retry_after)
    assert.truthy(err.elapsed < servers.bound(1), "elapsed " .. err.elapsed)
    assert.equals(1, #servers.requests(integ))
  end)

  it("a huge Retry-After is reported as is", function()
    local client = servers.client { retries = false }
    local res, err = upload(client, "scenario-429-always-huge")
    assert.is_nil(res)
    assert.equals(100000, err.retry_after)
  end)

  for _, mode in ipairs { "garbage", "negative" } do
    it(("a %s Retry-After falls back to exponential backoff"):format(mode), function()
      -- backoff: initial_interval * jitter in [0.5, 1) -> 0.05..0.1 s (the
      -- jitter range itself: spec/unit/retry_spec.lua); Retry-After: 1
      -- honoured instead would take 0.2 s (max_interval)
      local client, integ = servers.client {
        retries = servers.fast_retries { initial_interval = 0.1, max_interval = 0.2 },
      }
      local res, err = upload(client, "scenario-429-once-" .. mode)
      assert.is_nil(err)
      assert.equals("success", res.status)
      assert.equals(2, res.http.attempts)
      assert.truthy(res.http.elapsed >= 0.045, "elapsed " .. res.http.elapsed)
      assert.truthy(res.http.elapsed < servers.bound(0.6), "elapsed " .. res.http.elapsed)
      assert.equals(2, #servers.requests(integ))
    end)

    it(("a %s Retry-After leaves err.retry_after unset"):format(mode), function()
      local client = servers.client { retries = false }
      local res, err = upload(client, "scenario-429-always-" .. mode)
      assert.is_nil(res)
      assert.equals(429, err.status)
      assert.is_nil(err.retry_after)
      assert.is_string(err.headers["retry-after"])
    end)
  end

  it("no retry starts after max_elapsed", function()
    local client, integ = servers.client {
      retries = servers.fast_retries { max_attempts = 5, max_interval = 5, max_elapsed = 0.5 },
    }
    local res, err = upload(client, "scenario-429-always") -- Retry-After: 1 > max_elapsed
    assert.is_nil(res)
    assert.equals(429, err.status)
    assert.equals(1, err.attempts)
    assert.equals(1, #servers.requests(integ))
  end)
end)

describe("integration: errors that may have been acted upon #integration", function()
  it("500 with Kombo JSON -> kind api, outcome unknown, not retried by default", function()
    local client, integ = servers.client() -- retries enabled, retry_unsafe not set
    local res, err = upload(client, "scenario-error-500")
    assert.is_nil(res)
    assert_api_error(err, 500, "PLATFORM.UNKNOWN_ERROR")
    assert.equals("unknown", err.outcome)
    assert.equals(1, err.attempts)
    assert.equals(1, #servers.requests(integ))
  end)

  it("500 is retried with retries.retry_unsafe = true", function()
    local client, integ = servers.client { retries = servers.fast_retries { retry_unsafe = true } }
    local res, err = upload(client, "scenario-error-500")
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals(500, err.status)
    assert.equals("unknown", err.outcome)
    assert.equals(3, err.attempts)
    assert.equals(3, #servers.requests(integ))
  end)

  it("502 HTML -> kind http, outcome unknown, body kept", function()
    local client, integ = servers.client()
    local res, err = upload(client, "scenario-502")
    assert.is_nil(res)
    assert.is_true(kombo.is_error(err))
    assert.equals("http", err.kind)
    assert.equals("unknown", err.outcome)
    assert.equals(502, err.status)
    assert.is_nil(err.code)
    assert.truthy(err.body:lower():find("<html", 1, true), err.body)
    assert.truthy(err.headers["content-type"]:find("^text/html"))
    assert.truthy(err.message:find("502", 1, true), err.message)
    assert.truthy(err.message:find("text/html", 1, true), err.message)
    assert.equals(1, err.attempts)
    assert.equals(1, #servers.requests(integ))
  end)

  it("504 text -> kind http, outcome unknown", function()
    local client = servers.client()
    local res, err = upload(client, "scenario-504")
    assert.is_nil(res)
    assert.equals("http", err.kind)
    assert.equals("unknown", err.outcome)
    assert.equals(504, err.status)
    assert.equals("upstream request timeout", err.body)
    assert.truthy(err.message:find("504 Gateway Timeout", 1, true), err.message)
    assert.equals(1, err.attempts)
  end)

  it("502 is retried with retries.retry_unsafe = true", function()
    local client, integ = servers.client { retries = servers.fast_retries { retry_unsafe = true, max_attempts = 2 } }
    local res, err = upload(client, "scenario-502")
    assert.is_nil(res)
    assert.equals("http", err.kind)
    assert.equals(2, err.attempts)
    assert.equals(2, #servers.requests(integ))
  end)
end)

-- Kombo says to branch on the error code, not the status: these codes say
-- nothing was done (safe to send again, whatever the status), the setup
-- codes say the integration is not ready (not retried).  The stand-in's
-- code scenarios pair each code with a status that alone would say
-- otherwise where Kombo's docs allow it.
describe("integration: Kombo's error code decides the retry #integration", function()
  it("502 REMOTE.SERVICE_UNAVAILABLE once: an upload is sent again (a plain 502 is not), then success", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_interval = 0.05 } }
    local res, err = upload(client, "scenario-remote-unavailable-502-once")
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(2, res.http.attempts)
    local recs = servers.requests(integ)
    assert.equals(2, #recs)
    assert.equals(502, recs[1].response.status)
    assert.equals(recs[1].body, recs[2].body)
  end)

  it("502 REMOTE.SERVICE_UNAVAILABLE every time: rejected (nothing done), not unknown", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_attempts = 2, max_interval = 0.05 } }
    local res, err = upload(client, "scenario-remote-unavailable-502")
    assert.is_nil(res)
    assert_api_error(err, 502, "REMOTE.SERVICE_UNAVAILABLE")
    assert.equals("rejected", err.outcome)
    assert.equals(2, err.attempts)
    assert.equals(2, #servers.requests(integ))
  end)

  it("429 REMOTE.RATE_LIMIT_EXCEEDED once: sent again, then success", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_interval = 0.05 } }
    local res, err = upload(client, "scenario-remote-ratelimit-once")
    assert.is_nil(err)
    assert.equals(2, res.http.attempts)
    assert.equals(429, servers.requests(integ)[1].response.status)
  end)

  for _, case in ipairs { { "setup-incomplete", "INTEGRATION.SETUP_INCOMPLETE" },
                          { "setup-sync-pending", "INTEGRATION.SETUP_SYNC_PENDING" } } do
    it(case[2] .. " (409): rejected, one attempt, also for a read", function()
      local client, integ = servers.client { retries = servers.fast_retries { max_interval = 0.05 } }
      local res, err = upload(client, "scenario-" .. case[1] .. "-once")
      assert.is_nil(res)
      assert_api_error(err, 409, case[2])
      assert.equals("rejected", err.outcome)
      assert.equals(1, err.attempts)
      assert.equals(1, #servers.requests(integ))
      -- a GET is idempotent, and still not sent again: waiting does not finish a setup
      local _, rerr = client:get_candidate_attachments { candidate_id = "scenario-" .. case[1] }
      assert.equals(case[2], rerr.code)
      assert.equals(1, rerr.attempts)
    end)
  end
end)
