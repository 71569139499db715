-- Fault injection, curl transport: a misbehaving raw-socket
-- server (spec/support/badserver.lua) and the stand-in's fault scenarios.
-- Every scenario asserts the error kind, the outcome, a message fragment,
-- the attempts and what the server saw; then one table-driven spec checks
-- every error's outcome against the README rule (not_sent / rejected /
-- unknown), from what the server actually received.
-- (spec/integration/errors_spec.lua and transport_spec.lua cover the plain
-- stand-in errors and the 429 Retry-After modes; this file adds what needs a
-- broken server, the 503 Retry-After modes and the outcome table.)
local servers = require "support.servers"
local badserver = require "support.badserver"
local files = require "support.files"
local kombo = require "kombo"

local MiB = 1024 * 1024
local VALGRIND = servers.UNDER_VALGRIND

local function upload(client, candidate_id, attachment)
  return client:attach_to_candidate {
    candidate_id = candidate_id or "cand-fault", body = { attachment = attachment or servers.attachment() },
  }
end

local function contains(s, fragment)
  return type(s) == "string" and s:find(fragment, 1, true) ~= nil
end

local srv, dir
local results = {} -- scenario name -> { err =, reached = }

-- A client for the bad server in `mode` (stand-in defaults otherwise).
local function bad_client(mode, over)
  return servers.client(servers.merge({ server_url = badserver.url(srv, mode) }, over))
end

-- The process (and the library) still works: a fresh upload succeeds.
local function assert_still_works()
  local client = servers.client { retries = false }
  local res, err = upload(client, "cand-after-fault")
  assert.is_nil(err, err and tostring(err))
  assert.equals("success", res.status)
  client:close()
end

-- Scenarios: run() returns err and whether the request (or part of it)
-- reached the server, judged by the server's own records.
local SCENARIOS = {
  {
    name = "reset before the status line (default retries: not retried)",
    kind = "network", outcome = "unknown", attempts = 1,
    message = { "reset", "after the request was sent; it may have been processed" },
    run = function()
      local client = bad_client("reset-before-status")
      local before = #badserver.requests(srv, "reset-before-status")
      local res, err = upload(client)
      assert.is_nil(res)
      local seen = #badserver.requests(srv, "reset-before-status") - before
      assert.equals(1, seen, badserver.log(srv))
      return err, seen > 0
    end,
  },
  {
    name = "reset before the status line with retries.retry_unsafe: retried on fresh connections",
    kind = "network", outcome = "unknown", attempts = 3,
    message = { "reset" },
    run = function()
      local client = bad_client("reset-before-status",
        { retries = servers.fast_retries { max_attempts = 3, retry_unsafe = true } })
      local before = #badserver.requests(srv, "reset-before-status")
      local _, err = upload(client)
      local reqs = badserver.requests(srv, "reset-before-status")
      local mine = {}
      for i = before + 1, #reqs do mine[#mine + 1] = reqs[i] end
      assert.equals(3, #mine, badserver.log(srv))
      assert.equals(3, badserver.connections(mine))
      return err, true
    end,
  },
  {
    name = "reset while a multi-MB bytes= body is still being sent",
    kind = "network", outcome = "unknown", attempts = 1,
    message = { "while the request was being sent; it may have been processed" },
    run = function()
      local client = bad_client("reset-during-body")
      local before = #badserver.requests(srv, "reset-during-body")
      local t0 = os.time()
      local _, err = upload(client, nil, { name = "big.bin", type = "CV", bytes = ("K"):rep(8 * MiB) })
      assert.truthy(os.time() - t0 <= servers.bound(8), "took too long")
      local reqs = badserver.requests(srv, "reset-during-body")
      assert.equals(before + 1, #reqs, badserver.log(srv))
      local r = reqs[#reqs]
      assert.truthy(r.got < r.length, "the server read the whole body")
      assert.truthy(r.length > 10 * MiB)
      return err, true
    end,
  },
  {
    name = "reset while a multi-MB file= body is still being sent (retries on: not retried)",
    kind = "network", outcome = "unknown", attempts = 1,
    message = { "while the request was being sent" },
    run = function()
      local path = files.write(dir .. "/big-file.bin", ("F"):rep(6 * MiB))
      local client = bad_client("reset-during-body")
      local before = #badserver.requests(srv, "reset-during-body")
      local _, err = upload(client, nil, { file = path, type = "CV" })
      assert.equals(before + 1, #badserver.requests(srv, "reset-during-body"))
      return err, true
    end,
  },
  {
    name = "reset after the status line, in the headers",
    kind = "network", outcome = "unknown", attempts = 1,
    message = { "while the response was arriving" },
    run = function()
      local before = #badserver.requests(srv, "reset-in-headers")
      local _, err = upload(bad_client("reset-in-headers"))
      assert.equals(before + 1, #badserver.requests(srv, "reset-in-headers"))
      return err, true
    end,
  },
  {
    -- The whole request reached the server, which answered garbage: the
    -- upload may have been processed, so this must be "unknown" and must not
    -- be retried by default.
    name = "a garbage status line (HTTP/0.9-looking answer) after the whole request was sent",
    kind = "network", outcome = "unknown", attempts = 1,
    message = { "after the request was sent" },
    run = function()
      local before = #badserver.requests(srv, "garbage-status")
      local _, err = upload(bad_client("garbage-status"))
      local seen = #badserver.requests(srv, "garbage-status") - before
      return err, seen > 0, { seen = seen }
    end,
    check = function(err, ctx)
      assert.equals(1, ctx.seen, "the whole request was sent " .. ctx.seen .. " times: " .. tostring(err))
    end,
  },
  {
    name = "a body dripping one byte per second: the total timeout fires on time",
    kind = "timeout", outcome = "unknown", attempts = 1,
    message = { "timed out", "while the response was arriving" },
    run = function()
      -- 1.2 s: the headers and a first byte arrive, the next byte only at 2 s
      local client, integ = servers.client { timeout = VALGRIND and 4 or 1.2 }
      local res, err = upload(client, "scenario-drip")
      assert.is_nil(res)
      if not VALGRIND then
        assert.truthy(err.elapsed >= 1.15, "elapsed " .. err.elapsed)
        assert.truthy(err.elapsed <= 2.2, "elapsed " .. err.elapsed .. " > timeout + 1 s")
      end
      assert.equals(1, #servers.requests(integ))
      return err, true
    end,
  },
  {
    name = "truncated JSON (200)",
    kind = "decode", outcome = "unknown", attempts = 1, status = 200, message = { "not JSON" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-truncated")
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "invalid JSON (200)",
    kind = "decode", outcome = "unknown", attempts = 1, status = 200, message = { "not JSON" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-not-json")
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "a 200 that is not the positive response shape",
    kind = "decode", outcome = "unknown", attempts = 1, status = 200, message = { "success shape", "data" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-ok-missing-data")
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "an HTML error page with 502",
    kind = "http", outcome = "unknown", attempts = 1, status = 502, message = { "502", "text/html" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-502")
      assert.truthy(contains(err.body, "<html"))
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "a body larger than max_response_bytes = 1024 (huge, 3 MiB)",
    kind = "http", outcome = "unknown", attempts = 1, status = 200,
    message = { "max_response_bytes", "1024" },
    run = function()
      local client, integ = servers.client { max_response_bytes = 1024 }
      local _, err = upload(client, "scenario-huge")
      assert.truthy(err.body == nil or #err.body <= 1024, "body of " .. tostring(err.body and #err.body))
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "a 302 redirect: not followed, /elsewhere never sees the Authorization header",
    kind = "http", outcome = "rejected", attempts = 1, status = 302,
    message = { "redirect", "not followed", "/elsewhere" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-redirect")
      assert.equals(0, #servers.requests { integration_id = integ, route = "elsewhere" })
      for _, rec in ipairs(servers.requests { route = "elsewhere" }) do
        assert.is_falsy(rec.authorization_received, "some request reached /elsewhere with Authorization")
        assert.is_nil(rec.headers and rec.headers.authorization)
      end
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "429 for ever: the retry budget (max_attempts = 4) ends with a clear api error",
    kind = "api", outcome = "rejected", attempts = 4, status = 429, message = { "rate limit" },
    run = function()
      local client, integ = servers.client {
        retries = servers.fast_retries { max_attempts = 4, max_interval = 0.05 },
      }
      -- (Retry-After: 0; one longer than max_interval ends the call at once)
      local _, err = upload(client, "scenario-429-always-zero")
      assert.equals("PLATFORM.RATE_LIMIT_EXCEEDED", err.code)
      assert.equals(0, err.retry_after)
      assert.truthy(contains(tostring(err), "HTTP 429 PLATFORM.RATE_LIMIT_EXCEEDED"), tostring(err))
      assert.equals(4, #servers.requests(integ))
      return err, true
    end,
  },
  {
    name = "429 for ever with the default max_attempts (3)",
    kind = "api", outcome = "rejected", attempts = 3, status = 429, message = { "rate limit" },
    run = function()
      local client, integ = servers.client {
        retries = { initial_interval = 0.01, max_interval = 0.05 },
      }
      local _, err = upload(client, "scenario-429-always-none")
      assert.is_nil(err.retry_after)
      assert.equals(3, #servers.requests(integ))
      return err, true
    end,
  },
  {
    name = "503 for ever (Retry-After: 0): retried up to max_attempts",
    kind = "api", outcome = "rejected", attempts = 3, status = 503, message = { "temporarily unavailable" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-503-always")
      assert.equals(0, err.retry_after)
      assert.equals(3, #servers.requests(integ))
      return err, true
    end,
  },
  {
    name = "500 with Kombo's error JSON (not retried)",
    kind = "api", outcome = "unknown", attempts = 1, status = 500, message = { "stand-in scenario error-500" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-error-500")
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "504 text (not retried)",
    kind = "http", outcome = "unknown", attempts = 1, status = 504, message = { "504" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-504")
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "401 (a wrong key)",
    kind = "api", outcome = "rejected", attempts = 1, status = 401, message = { "invalid" },
    run = function()
      local client, integ = servers.client { api_key = "not-the-key-0123456789" }
      local _, err = upload(client)
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "connection closed without an answer (stand-in close)",
    kind = "network", outcome = "unknown", attempts = 1, message = { "may have been processed" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, "scenario-close")
      return err, #servers.requests(integ) == 1
    end,
  },
  {
    name = "connection refused (retried: nothing was sent)",
    kind = "network", outcome = "not_sent", attempts = 2, message = { "before the request was sent" },
    run = function()
      local client = servers.client {
        server_url = "http://127.0.0.1:" .. servers.free_port(),
        retries = servers.fast_retries { max_attempts = 2 },
      }
      local _, err = upload(client)
      return err, false
    end,
  },
  {
    name = "a validation error",
    kind = "validation", outcome = "not_sent", attempts = 0, message = { "body.attachment.type" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, nil, servers.attachment { type = "RESUME" })
      return err, #servers.requests(integ) > 0
    end,
  },
  {
    name = "an aborted source (a source that raises)",
    kind = "aborted", outcome = "not_sent", attempts = 1, message = { "the request was cut off" },
    run = function()
      local client, integ = servers.client()
      local _, err = upload(client, nil, {
        name = "x.bin", type = "CV", size = 10, source = function() error("disk on fire", 0) end,
      })
      assert.truthy(contains(err.message, "disk on fire"), err.message)
      assert.equals(0, #servers.requests(integ))
      return err, false
    end,
  },
}

-- The README rule, from what reached the server.
local function expected_outcome(err, reached)
  if err.kind == "validation" or err.kind == "aborted" then return "not_sent" end
  if not reached then return "not_sent" end
  local s = err.status
  if not s then return "unknown" end -- reached, then failed: may have been processed
  if s == 429 or s == 503 then return "rejected" end
  if s >= 500 then return "unknown" end
  if s >= 300 then return "rejected" end
  return "unknown" -- 2xx that could not be used
end

local function run_scenario(sc)
  local err, reached, ctx = sc.run()
  results[sc.name] = { err = err, reached = reached }
  return err, reached, ctx
end

describe("fault injection, curl transport #integration #faults", function()
  setup(function()
    srv = badserver.start(servers.UNDER_VALGRIND and 900 or 120)
    dir = files.tmpdir()
  end)

  teardown(function()
    badserver.stop(srv)
    if dir then files.rmtree(dir) end
  end)

  describe("each scenario", function()
    for _, sc in ipairs(SCENARIOS) do
      it(sc.name .. " -> " .. sc.kind .. ", " .. sc.outcome, function()
        local err, _, ctx = run_scenario(sc)
        assert.is_true(kombo.is_error(err), "not an error object: " .. tostring(err))
        assert.equals(sc.kind, err.kind, tostring(err))
        assert.equals(sc.outcome, err.outcome, tostring(err))
        assert.equals(sc.attempts, err.attempts, tostring(err))
        if sc.status then assert.equals(sc.status, err.status) end
        for _, fragment in ipairs(sc.message) do
          assert.truthy(contains(err.message, fragment), ("%q not in %q"):format(fragment, err.message))
        end
        assert.truthy(contains(tostring(err), "kombo " .. err.kind .. " error"), tostring(err))
        assert.is_number(err.elapsed or 0)
        if sc.check then sc.check(err, ctx) end
        assert_still_works()
      end)
    end
  end)

  describe("every error's outcome follows the README rule", function()
    it("runs every scenario: outcome is not_sent, rejected or unknown, as what reached the server implies", function()
      local rows = {}
      for _, sc in ipairs(SCENARIOS) do
        local r = results[sc.name]
        local err, reached
        if r then err, reached = r.err, r.reached else err, reached = run_scenario(sc) end
        local want = expected_outcome(err, reached)
        local ok = (err.outcome == "not_sent" or err.outcome == "rejected" or err.outcome == "unknown")
          and err.outcome == want
        if not ok then
          rows[#rows + 1] = ("%s: outcome %s, expected %s (%s)"):format(sc.name, tostring(err.outcome), want,
            tostring(err))
        end
        -- unknown outcomes are never retried by default
        if err.outcome == "unknown" and sc.name:find("default", 1, true) then
          assert.equals(1, err.attempts)
        end
      end
      assert.equals("", table.concat(rows, "\n"))
    end)
  end)

  describe("keep-alive connection closed by the server between calls", function()
    it("closed right after the answer: found dead before reuse, the next call succeeds on a second connection", function()
      local client = bad_client("keepalive-close", { retries = false })
      local before = badserver.requests(srv, "keepalive-close")
      local res1, err1 = upload(client)
      assert.is_nil(err1, err1 and tostring(err1))
      require("kombo.core").sleep(0.2) -- the server's FIN has arrived: libcurl checks before reusing
      local res2, err2 = upload(client)
      assert.is_nil(err2, err2 and tostring(err2))
      assert.equals("success", res1.status)
      assert.equals("success", res2.status)
      assert.equals(1, res2.http.attempts)
      local all = badserver.requests(srv, "keepalive-close")
      local mine = {}
      for i = #before + 1, #all do mine[#mine + 1] = all[i] end
      assert.equals(2, #mine, badserver.log(srv))
      assert.equals(2, badserver.connections(mine))
      -- connections are process-wide: let the server's close of the second
      -- one (50 ms after its answer) arrive before the next spec takes it
      require("kombo.core").sleep(0.2)
    end)

    -- The outcome rule: the server read the whole upload, then reset without
    -- answering.  It may have acted on it, so it is never sent again
    -- automatically, whatever the delay, with default retries or none.
    for _, delay in ipairs { "stale", "reset-300", "reset-2000" } do
      for _, retries in ipairs { "default", "none" } do
        for _, size in ipairs(delay == "reset-2000" and { 1000 } or { 1000, 200000 }) do
          it(("a kept-alive connection that resets after reading the whole upload (%s, %d bytes, retries %s): "
              .. "unknown, the server saw it once"):format(delay, size, retries), function()
            local mode = "keepalive-" .. delay
            local client = bad_client(mode .. "." .. retries .. size, retries == "none" and { retries = false } or {})
            assert(upload(client)) -- the first request leaves a kept-alive connection
            local before = #badserver.requests(srv, mode)
            local _, err = upload(client, nil, { name = "cv.bin", type = "CV", bytes = ("B"):rep(size) })
            assert.equals("network", err.kind, tostring(err))
            assert.equals("unknown", err.outcome)
            assert.equals(1, err.attempts)
            assert.truthy(contains(err.message, "attachment_exists"), err.message)
            assert.equals(before + 1, #badserver.requests(srv, mode), badserver.log(srv))
          end)
        end
      end
    end
  end)

  describe("answers libcurl handles on its own", function()
    it("eleven 1xx answers before a late 200: success", function()
      local res, err = upload(bad_client("interim-flood", { retries = false }))
      assert.is_nil(err, err and tostring(err))
      assert.equals(200, res.http.status)
    end)

    it("an early 413 while a multi-MB body is still being sent: api, rejected, sent once", function()
      local client = bad_client("early-413", { retries = false })
      local before = #badserver.requests(srv, "early-413")
      local _, err = upload(client, nil, { name = "big.bin", type = "CV", bytes = ("K"):rep(8 * MiB) })
      assert.equals("api", err.kind, tostring(err))
      assert.equals("rejected", err.outcome)
      assert.equals(413, err.status)
      assert.equals(before + 1, #badserver.requests(srv, "early-413"))
    end)

    it("a streamed body, kept-alive connection dying 1.5 s after the request: not resent, unknown", function()
      local client = bad_client("keepalive-dies-late", { retries = false })
      assert(upload(client))
      local before = #badserver.requests(srv, "keepalive-dies-late")
      local _, err = upload(client, nil, { name = "big.bin", type = "CV", bytes = ("B"):rep(200000) })
      assert.equals("network", err.kind, tostring(err))
      assert.equals("unknown", err.outcome)
      assert.equals(before + 1, #badserver.requests(srv, "keepalive-dies-late"), badserver.log(srv))
    end)

    it("a stale kept-alive connection and a one-shot source: unknown, not 'aborted, not sent'", function()
      -- over 64 KiB, so the body streams and libcurl would have to rewind it
      local client = bad_client("keepalive-stale", { retries = false })
      assert(upload(client))
      local _, err = upload(client, nil, { name = "big.bin", type = "CV", content_type = "application/pdf",
        size = 200000, source = files.chunked_source(("S"):rep(200000)) })
      assert.equals("network", err.kind, tostring(err))
      assert.equals("unknown", err.outcome)
      assert.truthy(contains(err.message, "not sent again"), err.message)
      assert.equals(1, err.attempts)
    end)
  end)

  describe("Retry-After on 503 (errors_spec covers the 429 variants)", function()
    -- { scenario, retry options, min elapsed, max elapsed (before bound()) }
    -- The exact delays (the date's distance, the backoff's jitter) are
    -- checked on a fake clock in spec/unit/retry_spec.lua.  A wait above
    -- the 0.01 s backoff shows the header was read.
    local cases = {
      { "503-once-seconds", { max_interval = 2 }, 0.95, 2 },    -- 1 s, in full
      { "503-once-zero", {}, 0, 0.5 },
      { "503-once-negative", { initial_interval = 0.1, max_interval = 0.2 }, 0.045, 0.6 }, -- backoff
      { "503-once-garbage", { initial_interval = 0.1, max_interval = 0.2 }, 0.045, 0.6 },  -- backoff
    }
    for _, case in ipairs(cases) do
      it(("%s: waits %.2f..%.2f s, then succeeds"):format(case[1], case[3], case[4]), function()
        local client, integ = servers.client { retries = servers.fast_retries(case[2]) }
        local res, err = upload(client, "scenario-" .. case[1])
        assert.is_nil(err, err and tostring(err))
        assert.equals(2, res.http.attempts)
        if not VALGRIND then
          assert.truthy(res.http.elapsed >= case[3], "elapsed " .. res.http.elapsed)
          assert.truthy(res.http.elapsed <= case[4], "elapsed " .. res.http.elapsed)
        end
        assert.equals(2, #servers.requests(integ))
      end)
    end

    -- issue 18 (7): a wait longer than max_interval is not shortened
    -- against the server's instruction: one attempt, retry_after set.
    for _, case in ipairs { { "503-once-date" }, { "503-once-huge", 100000 } } do
      it(("%s with max_interval 0.2: gives up at once, retry_after set"):format(case[1]), function()
        local client, integ = servers.client { retries = servers.fast_retries { max_interval = 0.2 } }
        local res, err = upload(client, "scenario-" .. case[1])
        assert.is_nil(res)
        assert.equals(503, err.status)
        assert.equals(1, err.attempts)
        assert.truthy(err.retry_after > 0.2, tostring(err.retry_after))
        if case[2] then assert.equals(case[2], err.retry_after) end
        assert.truthy(contains(err.message, "not retried: Retry-After asks for"), err.message)
        if not VALGRIND then assert.truthy(err.elapsed < 1, "elapsed " .. err.elapsed) end
        assert.equals(1, #servers.requests(integ))
      end)
    end

    local reported = {
      { "503-always-seconds", 1 }, { "503-always-zero", 0 }, { "503-always-huge", 100000 },
      { "503-always-negative", nil }, { "503-always-garbage", nil }, { "503-always-none", nil },
    }
    for _, case in ipairs(reported) do
      it(("%s: err.retry_after = %s"):format(case[1], tostring(case[2])), function()
        local client = servers.client { retries = false }
        local _, err = upload(client, "scenario-" .. case[1])
        assert.equals("api", err.kind)
        assert.equals("rejected", err.outcome)
        assert.equals(503, err.status)
        assert.equals(case[2], err.retry_after)
      end)
    end

    it("503-always-date: err.retry_after is the date's distance, 1..3.5 s", function()
      local client = servers.client { retries = false }
      local _, err = upload(client, "scenario-503-always-date")
      assert.is_number(err.retry_after)
      assert.truthy(err.retry_after > 1 and err.retry_after <= 3.5, tostring(err.retry_after))
    end)

    it("a huge Retry-After larger than max_elapsed: no retry, one attempt", function()
      local client, integ = servers.client {
        retries = servers.fast_retries { max_interval = 1000, max_elapsed = 5 },
      }
      local t0 = os.time()
      local _, err = upload(client, "scenario-503-always-huge")
      assert.equals(1, err.attempts)
      assert.truthy(os.time() - t0 <= servers.bound(2))
      assert.equals(1, #servers.requests(integ))
    end)
  end)

  it("the bad server was alive throughout (its faults were deliberate)", function()
    assert.is_true(badserver.alive(srv))
    assert.is_nil(badserver.log(srv):find("\nerror ", 1, true), badserver.log(srv))
  end)
end)
