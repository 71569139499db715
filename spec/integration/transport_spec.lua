-- Failures below the API level against the local Kombo stand-in:
-- timeouts, refused connections, undecodable or oversized answers,
-- redirects, dropped connections; and validation errors that send nothing.
local servers = require "support.servers"
local kombo = require "kombo"

local function upload(client, candidate_id, attachment)
  return client:attach_to_candidate {
    candidate_id = candidate_id, body = { attachment = attachment or servers.attachment() },
  }
end

-- A short client timeout against the stand-in's slow-3 (3 s before the
-- answer); longer under valgrind, where connecting alone can take a while.
local SHORT = servers.UNDER_VALGRIND and 2 or 0.3

describe("integration: timeouts and network errors #integration", function()
  it("slow-3 with a short timeout -> kind timeout, outcome unknown, not retried", function()
    local client, integ = servers.client { timeout = SHORT } -- retries enabled (fast)
    local res, err = upload(client, "scenario-slow-3")
    assert.is_nil(res)
    assert.is_true(kombo.is_error(err))
    assert.equals("timeout", err.kind)
    assert.equals("unknown", err.outcome)
    assert.is_nil(err.status)
    assert.equals(1, err.attempts)
    assert.truthy(err.elapsed >= SHORT - 0.02, "elapsed " .. err.elapsed)
    assert.truthy(err.elapsed < servers.bound(SHORT + 1.5), "elapsed " .. err.elapsed)
    assert.truthy(err.message:find("timed out", 1, true), err.message)
    assert.truthy(err.message:find("may have been processed", 1, true), err.message)
    assert.equals(1, #servers.requests(integ))
  end)

  it("a timed-out read does not say it 'may have been processed' (issue 18, 6)", function()
    local client = servers.client { timeout = SHORT, retries = false }
    local res, err = client:get_candidate_attachments { candidate_id = "scenario-slow-3" }
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.is_nil(err.message:find("processed", 1, true), err.message)
    assert.truthy(err.message:find("while waiting for the answer", 1, true), err.message)
  end)

  -- kombo.h: KOMBO_PHASE_WAITING = "the whole request was written, no
  -- answer yet"; classify.c then says "after the request was sent".
  it("a timeout after the whole request was sent says so (phase waiting)", function()
    local client = servers.client { timeout = SHORT, retries = false }
    local res, err = upload(client, "scenario-slow-3")
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.truthy(err.message:find("after the request was sent", 1, true),
      "message: " .. err.message)
  end)

  it("slow-3 is retried with retry_unsafe = true", function()
    local client, integ = servers.client {
      timeout = SHORT, retries = servers.fast_retries { retry_unsafe = true, max_attempts = 2 },
    }
    local res, err = upload(client, "scenario-slow-3")
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.equals(2, err.attempts)
    assert.equals(2, #servers.requests(integ))
  end)

  it("a slow answer within the timeout succeeds", function()
    local client = servers.client { timeout = servers.bound(5) }
    local res, err = upload(client, "scenario-slow-0.5")
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.truthy(res.http.elapsed >= 0.45, "elapsed " .. res.http.elapsed)
  end)

  it("connection refused -> kind network, outcome not_sent, retried up to max_attempts", function()
    local port = servers.free_port()
    local client = servers.client {
      server_url = "http://127.0.0.1:" .. port,
      retries = servers.fast_retries { max_attempts = 3 },
    }
    local res, err = upload(client, "cand-refused")
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.equals(3, err.attempts)
    assert.is_nil(err.status)
    assert.is_nil(err.body)
    assert.truthy(err.message:find("before the request was sent", 1, true), err.message)
    assert.truthy(err.elapsed < servers.bound(2), "elapsed " .. err.elapsed)
  end)

  it("connection refused with retries = false -> 1 attempt", function()
    local port = servers.free_port()
    local client = servers.client { server_url = "http://127.0.0.1:" .. port, retries = false }
    local res, err = upload(client, "cand-refused")
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.equals(1, err.attempts)
  end)

  it("close (nginx 444) -> kind network, outcome unknown, not retried by default", function()
    local client, integ = servers.client()
    local res, err = upload(client, "scenario-close")
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert.equals("unknown", err.outcome)
    assert.is_nil(err.status)
    assert.equals(1, err.attempts)
    local recs = servers.requests(integ)
    assert.equals(1, #recs)
    assert.equals(444, recs[1].response.status)
  end)

  it("short-body -> kind network, outcome unknown", function()
    local client = servers.client()
    local res, err = upload(client, "scenario-short-body")
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert.equals("unknown", err.outcome)
    assert.equals(1, err.attempts)
  end)

  it("the client works again after a dropped connection", function()
    local client, integ = servers.client()
    local _, err = upload(client, "scenario-close")
    assert.equals("network", err.kind)
    local res, err2 = upload(client, "cand-after-close")
    assert.is_nil(err2)
    assert.equals("success", res.status)
    assert.equals(2, #servers.requests(integ))
  end)
end)

describe("integration: answers that cannot be decoded #integration", function()
  for _, case in ipairs {
    { "ok-missing-data", "data" },
    { "ok-missing-warnings", "warnings" },
    { "not-json", "not JSON" },
    { "truncated", "not JSON" },
    { "empty-body", "empty" },
  } do
    local scenario, mention = case[1], case[2]
    it(scenario .. " -> kind decode, outcome unknown, not retried", function()
      local client, integ = servers.client { retries = servers.fast_retries { retry_unsafe = true } }
      local res, err = upload(client, "scenario-" .. scenario)
      assert.is_nil(res)
      assert.equals("decode", err.kind)
      assert.equals("unknown", err.outcome)
      assert.equals(200, err.status)
      assert.equals(1, err.attempts)
      assert.truthy(err.message:find(mention, 1, true), err.message)
      assert.equals(1, #servers.requests(integ))
    end)
  end

  it("huge (3 MiB) -> kind http naming the max_response_bytes cap, outcome unknown", function()
    local client = servers.client()
    local res, err = upload(client, "scenario-huge")
    assert.is_nil(res)
    assert.equals("http", err.kind)
    assert.equals("unknown", err.outcome)
    assert.equals(200, err.status)
    assert.equals(1, err.attempts)
    assert.truthy(err.message:find("max_response_bytes", 1, true), err.message)
    assert.truthy(err.message:find("1048576", 1, true), err.message)
    assert.truthy(#err.body <= 1048576)
  end)

  it("huge-chunked (no Content-Length) -> the same cap applies", function()
    local client = servers.client { max_response_bytes = 64 * 1024 }
    local res, err = upload(client, "scenario-huge-chunked")
    assert.is_nil(res)
    assert.equals("http", err.kind)
    assert.truthy(err.message:find("65536", 1, true), err.message)
    assert.truthy(#err.body <= 65536)
  end)

  it("huge with max_response_bytes = 8 MiB -> the (valid) success body is returned", function()
    local client = servers.client { max_response_bytes = 8 * 1024 * 1024 }
    local res, err = upload(client, "scenario-huge")
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.is_table(res.data)
    assert.truthy(tonumber(res.http.headers["content-length"]) > 2 * 1024 * 1024)
  end)
end)

describe("integration: redirects are not followed #integration", function()
  for _, status in ipairs { 302, 307 } do
    it(("redirect-%d -> kind http, outcome rejected, /elsewhere gets nothing"):format(status), function()
      local client, integ = servers.client()
      local res, err = upload(client, "scenario-redirect-" .. status)
      assert.is_nil(res)
      assert.equals("http", err.kind)
      assert.equals("rejected", err.outcome)
      assert.equals(status, err.status)
      assert.equals(1, err.attempts)
      assert.truthy(err.message:find("redirect", 1, true), err.message)
      assert.truthy(err.message:find("not followed", 1, true), err.message)
      assert.truthy(err.message:find("/elsewhere", 1, true), err.message)
      assert.truthy(err.headers.location:find("/elsewhere$"))
      assert.equals(0, #servers.requests { integration_id = integ, route = "elsewhere" })
      assert.equals(0, #servers.requests { integration_id = integ, route = "elsewhere",
                                           authorization_received = true })
      assert.equals(1, #servers.requests(integ))
    end)
  end
end)

describe("integration: validation errors send nothing #integration", function()
  local function assert_nothing_sent(integ)
    assert.equals(0, #servers.requests(integ))
  end

  it("an invalid attachment is refused before any byte is sent", function()
    local client, integ = servers.client()
    local res, err = upload(client, "cand-invalid",
      servers.attachment { type = "RESUME", data = "not base64!", content_type = "pdf" })
    assert.is_nil(res)
    assert.equals("validation", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.equals(0, err.attempts)
    local paths = {}
    for _, p in ipairs(err.problems) do paths[p.path] = true end
    assert.is_true(paths["body.attachment.type"])
    assert.is_true(paths["body.attachment.data"])
    assert.is_true(paths["body.attachment.content_type"])
    assert_nothing_sent(integ)
  end)

  it("a missing attachment, an empty candidate id or a CR/LF integration id send nothing", function()
    local client, integ = servers.client()
    local res, err = client:attach_to_candidate { candidate_id = "cand-x", body = {} }
    assert.is_nil(res)
    assert.equals("validation", err.kind)
    res, err = upload(client, "")
    assert.is_nil(res)
    assert.equals("validation", err.kind)
    assert.equals("candidate_id", err.problems[1].path)
    res, err = client:attach_to_candidate {
      integration_id = integ .. "\r\nX-Evil: 1", candidate_id = "cand-x",
      body = { attachment = servers.attachment() },
    }
    assert.is_nil(res)
    assert.equals("validation", err.kind)
    assert.equals("integration_id", err.problems[1].path)
    assert_nothing_sent(integ)
    assert.equals(0, #servers.requests(integ .. "\r\nX-Evil: 1"))
  end)

  it("an invalid configuration (timeout) raises at kombo.new, so nothing can be sent", function()
    local ok, msg = pcall(servers.client, { timeout = -1 })
    assert.is_false(ok)
    assert.matches("option 'timeout' must be a positive number", tostring(msg), 1, true)
  end)
end)

describe("integration: the API key never shows up #integration", function()
  local KEY = servers.LONG_KEY

  local function assert_no_key(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      local text = type(v) == "table" and servers.dump(v) or tostring(v)
      assert.is_nil(text:find(KEY, 1, true), "the API key leaked into: " .. text)
      assert.is_nil(text:find(KEY:sub(1, 20), 1, true), "part of the API key leaked into: " .. text)
    end
  end

  it("401 with a wrong long key: not in err, tostring(err), tostring(client)", function()
    local client, integ = servers.client { api_key = KEY }
    local res, err = upload(client, "cand-secret")
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals(401, err.status)
    assert.equals("PLATFORM.AUTHENTICATION_INVALID", err.code)
    -- it was sent ...
    local recs = servers.requests(integ)
    assert.equals(1, #recs)
    assert.equals("Bearer " .. KEY, recs[1].headers.authorization)
    -- ... and is shown nowhere
    assert_no_key(err.message, tostring(err), tostring(client), err, err.headers, err.body)
    assert.truthy(tostring(client):find("<redacted>", 1, true))
  end)

  it("validation error with a long key: not in err or tostring(err)", function()
    local client, integ = servers.client { api_key = KEY }
    local res, err = upload(client, "cand-secret", servers.attachment { type = "RESUME", data = "%%%" })
    assert.is_nil(res)
    assert.equals("validation", err.kind)
    assert_no_key(err.message, tostring(err), tostring(client), err)
    assert.equals(0, #servers.requests(integ))
  end)

  it("an invalid key (with a newline) is reported by option name, not by value", function()
    local bad = KEY .. "\n"
    local ok, msg = pcall(servers.client, { api_key = bad })
    assert.is_false(ok)
    assert.matches("option 'api_key'", tostring(msg), 1, true)
    assert_no_key(tostring(msg))
  end)

  it("network error with a long key: not in err or tostring(err)", function()
    local client = servers.client {
      api_key = KEY, server_url = "http://127.0.0.1:" .. servers.free_port(), retries = false,
    }
    local res, err = upload(client, "cand-secret")
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert_no_key(err.message, tostring(err), tostring(client), err)
  end)

end)
