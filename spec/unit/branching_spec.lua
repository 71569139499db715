-- The error methods a caller branches on, on a fake clock (no network):
-- err:retryable() is the core's retry rule (kombo_call_retryable, the one
-- kombo_call_complete applies) and err:may_have_landed() is a write's
-- `unknown` outcome; a log_url Kombo gave is kept even when the rest of its
-- error body is not Kombo's shape.
local h = require "unit.helpers"
local core = require "kombo.core"
local errors = require "kombo.errors"
local cjson = require "cjson"

-- The error of one call of `op` with `args` answered by `answers`, on a
-- client with `config` over helpers.config().
local function error_of(answers, config, op, args)
  local handle = assert(core.client(h.config(config)))
  local call
  if op then
    call = assert(handle:prepare(op, args))
  else
    call = assert(h.new_call(config))
  end
  local raw = h.drive(call, answers)
  call:close()
  local res, err = errors.from_result(raw, h.API_KEY)
  assert.is_nil(res)
  return err
end

local ONE = { max_attempts = 1 }

describe("err:retryable() and err:may_have_landed()", function()
  it("an upload (a write): the outcome rule", function()
    local cases = {
      -- answer, retryable, may_have_landed
      { h.answer(503), true, false },
      { h.answer(429), true, false },
      { h.answer(500), false, true },
      { h.answer(502), false, true },
      { h.answer(400), false, false },
      { h.answer(404), false, false },
      { h.failure("network", "connect"), true, false },
      { h.failure("network", "waiting"), false, true },
      { h.failure("timeout", "sending"), false, true },
      { h.answer(200, nil, "{}"), false, true }, -- a 2xx that is not Kombo's answer: decode, unknown
    }
    for i, c in ipairs(cases) do
      local err = error_of({ c[1] }, { retries = ONE })
      assert.equals(c[2], err:retryable(), "case " .. i .. " " .. err.message)
      assert.equals(c[3], err:may_have_landed(), "case " .. i .. " " .. err.message)
      -- the same rule as the library's own retries: with attempts left, it
      -- retries exactly the retryable ones
      local again = error_of({ c[1] }, { retries = { max_attempts = 2, initial_interval = 0, max_elapsed = 100 } })
      assert.equals(c[2] and 2 or 1, again.attempts, "case " .. i)
    end
  end)

  it("retries.retry_unsafe makes the unknown ones retryable, as it makes the library retry them", function()
    local err = error_of({ h.answer(500) }, { retries = { max_attempts = 1, retry_unsafe = true } })
    assert.is_true(err:retryable())
    assert.is_true(err:may_have_landed())
  end)

  it("a read never may have landed, and is retried after it may have been processed", function()
    for _, a in ipairs { h.answer(500), h.failure("timeout", "waiting"), h.failure("network", "receiving") } do
      local err = error_of({ a }, { retries = ONE }, "get_jobs", {})
      assert.equals("unknown", err.outcome)
      assert.is_false(err:may_have_landed())
      assert.is_true(err:retryable())
    end
    local err = error_of({ h.answer(401) }, { retries = ONE }, "get_jobs", {})
    assert.is_false(err:retryable())
  end)

  it("Kombo's codes that say nothing was done are retryable; setup codes are not", function()
    local function api(status, code)
      return h.answer(status, nil, cjson.encode { status = "error",
        error = { code = code, title = "t", message = "m", log_url = "https://app.kombo.dev/logs?i=1" } })
    end
    local err = error_of({ api(502, "REMOTE.SERVICE_UNAVAILABLE") }, { retries = ONE })
    assert.is_true(err:retryable())
    assert.is_false(err:may_have_landed())
    err = error_of({ api(409, "INTEGRATION.SETUP_INCOMPLETE") }, { retries = ONE })
    assert.is_false(err:retryable())
    assert.is_false(err:may_have_landed())
  end)

  it("validation errors and errors made by hand answer false", function()
    local err = errors.validation({ { path = "body", message = "is required" } })
    assert.is_false(err:retryable())
    assert.is_false(err:may_have_landed())
  end)
end)

describe("err.log_url", function()
  it("is kept whenever Kombo's error body names one, also when the rest is not its shape", function()
    local body = cjson.encode { status = "error", error = { code = 7, log_url = "https://app.kombo.dev/logs?i=x" } }
    local err = error_of({ h.answer(500, nil, body) }, { retries = ONE })
    assert.equals("http", err.kind)
    assert.equals("https://app.kombo.dev/logs?i=x", err.log_url)
    -- and nothing is made up where there is none
    err = error_of({ h.answer(502, { "Content-Type: text/html" }, "<html>bad gateway</html>") }, { retries = ONE })
    assert.is_nil(err.log_url)
  end)
end)
