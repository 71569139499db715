-- The retry policy of the sans-I/O core on a fake clock: backoff, jitter,
-- Retry-After (seconds, dates, 0, huge, garbage), max_interval,
-- max_attempts, max_elapsed and elapsed, driven through call:next() and
-- call:complete() with no network and no sleeping (helpers.drive).  The
-- integration specs keep one real end-to-end retry per transport; the
-- exact delays are checked here.
local h = require "unit.helpers"
local errors = require "kombo.errors"
local trace = require "kombo.trace"

local answer, failure = h.answer, h.failure

-- Retry options (merged over small, explicit defaults).
local function retries(over)
  return h.merge({ max_attempts = 3, initial_interval = 0.5, max_interval = 30, exponent = 1.5,
                   max_elapsed = 120, retry_unsafe = false }, over)
end

-- A call with these retry options, driven to the end over `answers`.
local function run(retry_over, answers, clock, config_over)
  local call = assert(h.new_call(h.merge({ retries = retries(retry_over) }, config_over)))
  local res, log = h.drive(call, answers, clock)
  call:close()
  return res, log
end

-- Wall-clock values are near 1.7e9, where a double has about 7 decimals left.
local function near(expected, actual, what)
  assert(math.abs(expected - actual) < 1e-6,
    ("%s: expected %.6f, got %.6f"):format(what or "value", expected, actual))
end

local function http_date(t) return os.date("!%a, %d %b %Y %H:%M:%S GMT", math.floor(t)) end

describe("retry policy on a fake clock: Retry-After", function()
  it("delta-seconds are waited exactly (429 once, Retry-After: 7)", function()
    local res, log = run({}, { answer(429, { "Retry-After: 7" }), answer(200) })
    assert.equals("ok", res.kind)
    assert.equals(2, res.attempts)
    assert.same({ 7 }, log.delays)
    near(7 + 2 * 0.05, res.elapsed, "elapsed")
    near(7.05, log.sent_at[2] - log.sent_at[1], "second attempt start")
  end)

  it("Retry-After: 1 on 503, then success", function()
    local res, log = run({}, { answer(503, { "Retry-After: 1" }), answer(200) })
    assert.equals("ok", res.kind)
    assert.same({ 1 }, log.delays)
  end)

  -- issue 18 (7): a wait the policy cannot honour is not shortened against
  -- the server's instruction: the call gives up at once, retry_after set.
  it("longer than max_interval: gives up at once (429 always, Retry-After: 1, max_interval 0.1)", function()
    local res, log = run({ max_interval = 0.1 }, { answer(429, { "Retry-After: 1" }) })
    assert.equals("api", res.kind)
    assert.equals("rejected", res.outcome)
    assert.equals(429, res.status)
    assert.equals(1, res.attempts)
    assert.equals(1, res.retry_after)
    assert.same({}, log.delays)
    assert.matches("not retried: Retry-After asks for 1 s, more than retries.max_interval (0.1 s)", res.message, 1, true)
  end)

  it("Retry-After: 100000 on an upload: one attempt, no sleep, retry_after set", function()
    local res, log = run({}, { answer(429, { "Retry-After: 100000" }), answer(200) })
    assert.equals("api", res.kind)
    assert.equals(1, res.attempts)
    assert.equals(100000, res.retry_after)
    assert.same({}, log.delays)
    near(0.05, res.elapsed, "elapsed")
    assert.matches("not retried: Retry-After asks for 100000 s", res.message, 1, true)
  end)

  it("beyond what max_elapsed has left: gives up at once, after the waits that fitted", function()
    -- 20 s fits in the first 30 s; after it, 20 more would pass max_elapsed
    local res, log = run({ max_interval = 60, max_elapsed = 30 }, { answer(503, { "Retry-After: 20" }) })
    assert.equals(2, res.attempts)
    assert.same({ 20 }, log.delays)
    assert.equals(20, res.retry_after)
    assert.matches("not retried: Retry-After asks for 20 s, more than retries.max_elapsed leaves", res.message, 1, true)
  end)

  it("a wait that fits is honoured in full, above the backoff's own cap of a retry", function()
    local res, log = run({ max_interval = 7 }, { answer(429, { "Retry-After: 7" }), answer(200) })
    assert.equals("ok", res.kind)
    assert.same({ 7 }, log.delays)
  end)

  it("Retry-After: 0 retries at once, up to max_attempts (503 always)", function()
    local res, log = run({}, { answer(503, { "Retry-After: 0" }) })
    assert.equals(3, res.attempts)
    assert.equals(0, res.retry_after)
    assert.same({ 0, 0 }, log.delays)
  end)

  it("an HTTP date is waited until, measured on the wall clock", function()
    local clock = h.fake_clock(50, 1700000000.25)
    -- the date is read when the answer is complete: wall 1700000000.30
    local date = http_date(1700000003)
    local res, log = run({ max_interval = 10 }, { answer(429, { "Retry-After: " .. date }), answer(200) }, clock)
    assert.equals("ok", res.kind)
    assert.equals(1, #log.delays)
    near(2.7, log.delays[1], "delay")
  end)

  it("an HTTP date further away than max_interval gives up at once", function()
    local clock = h.fake_clock()
    local date = http_date(clock.wall + 3)
    local res, log = run({ max_interval = 1.2 }, { answer(503, { "Retry-After: " .. date }), answer(200) }, clock)
    assert.equals(1, res.attempts)
    assert.same({}, log.delays)
    assert.is_true(res.retry_after > 1.2, tostring(res.retry_after))
  end)

  it("an HTTP date in the past means no wait", function()
    local clock = h.fake_clock()
    local date = http_date(clock.wall - 60)
    local res, log = run({}, { answer(429, { "Retry-After: " .. date }), answer(200) }, clock)
    assert.equals("ok", res.kind)
    assert.same({ 0 }, log.delays)
  end)

  it("the reported retry_after of a date is its distance from the answer", function()
    local clock = h.fake_clock(0, 1700000000)
    local date = http_date(1700000100)
    local res = run({ max_attempts = 1 }, { answer(429, { "Retry-After: " .. date }) }, clock)
    near(100 - 0.05, res.retry_after, "retry_after")
  end)

  it("a huge Retry-After is reported as is, also after the last attempt", function()
    local res2 = run({ max_attempts = 1 }, { answer(429, { "Retry-After: 100000" }) })
    assert.equals(100000, res2.retry_after)
  end)

  for _, value in ipairs { "soon", "-5", "1.5", "" } do
    it(("an unusable Retry-After (%q) falls back to the backoff, retry_after unset"):format(value), function()
      local res, log = run({ initial_interval = 0.3, max_interval = 0.5 },
        { answer(429, { "Retry-After: " .. value }), answer(200) })
      assert.equals("ok", res.kind)
      assert.equals(1, #log.delays)
      assert.truthy(log.delays[1] >= 0.15 and log.delays[1] < 0.3, "delay " .. log.delays[1])
      local res2 = run({ max_attempts = 1 }, { answer(429, { "Retry-After: " .. value }) })
      assert.is_nil(res2.retry_after)
    end)
  end

  it("a 500 with Retry-After is waited for when retry_unsafe is set", function()
    local res, log = run({ retry_unsafe = true }, { answer(500, { "Retry-After: 2" }), answer(200) })
    assert.equals("ok", res.kind)
    assert.same({ 2 }, log.delays)
  end)
end)

describe("retry policy on a fake clock: exponential backoff", function()
  it("grows by the exponent, with jitter in [0.5, 1), capped by max_interval", function()
    local res, log = run({ max_attempts = 6, initial_interval = 0.2, exponent = 2, max_interval = 1 },
      { answer(503) })
    assert.equals(6, res.attempts)
    assert.equals(5, #log.delays)
    local nominal = { 0.2, 0.4, 0.8, 1, 1 }
    for i, d in ipairs(log.delays) do
      assert.truthy(d >= nominal[i] * 0.5 and d < nominal[i], ("delay %d = %.4f, nominal %.2f"):format(i, d, nominal[i]))
    end
    local total = 0
    for _, d in ipairs(log.delays) do total = total + d end
    near(total + 6 * 0.05, res.elapsed, "elapsed")
  end)

  it("the jitter differs between calls", function()
    local seen, distinct = {}, 0
    for _ = 1, 20 do
      local _, log = run({ max_attempts = 2, initial_interval = 1 }, { answer(503) })
      local d = log.delays[1]
      assert.truthy(d >= 0.5 and d < 1, "delay " .. d)
      if not seen[d] then seen[d] = true; distinct = distinct + 1 end
    end
    assert.truthy(distinct >= 10, "only " .. distinct .. " distinct delays in 20 calls")
  end)

  it("initial_interval = 0: retries at once", function()
    local res, log = run({ initial_interval = 0 }, { answer(503), answer(503), answer(200) })
    assert.equals("ok", res.kind)
    assert.equals(3, res.attempts)
    assert.same({ 0, 0 }, log.delays)
  end)
end)

describe("retry policy on a fake clock: budgets", function()
  it("max_attempts = 1: one attempt, no wait", function()
    local res, log = run({ max_attempts = 1 }, { answer(503, { "Retry-After: 0" }) })
    assert.equals(1, res.attempts)
    assert.same({}, log.delays)
  end)

  it("retries = false: one attempt", function()
    local call = assert(h.new_call { retries = false })
    local res, log = h.drive(call, { answer(429, { "Retry-After: 1" }) })
    call:close()
    assert.equals(1, res.attempts)
    assert.equals(1, res.retry_after)
    assert.same({}, log.delays)
  end)

  it("no retry starts when the wait would pass max_elapsed (Retry-After: 1 > 0.5)", function()
    local res, log = run({ max_attempts = 5, max_interval = 5, max_elapsed = 0.5 },
      { answer(429, { "Retry-After: 1" }) })
    assert.equals(1, res.attempts)
    assert.same({}, log.delays)
  end)

  it("slow attempts use up max_elapsed: attempts of 2 s, Retry-After: 1, max_elapsed 5", function()
    -- 1st ends at 2 s (+1 = 3 <= 5: retry); 2nd ends at 5 s (+1 = 6 > 5: stop)
    local a = answer(429, { "Retry-After: 1" })
    a.takes = 2
    local res, log = run({ max_attempts = 10, max_elapsed = 5 }, { a })
    assert.equals(2, res.attempts)
    assert.same({ 1 }, log.delays)
    near(5, res.elapsed, "elapsed")
  end)

  it("a wait that ends exactly at max_elapsed is still taken", function()
    local a = answer(503, { "Retry-After: 3" })
    a.takes = 1
    local res, log = run({ max_attempts = 3, max_elapsed = 4 }, { a, answer(200) })
    assert.equals("ok", res.kind)
    assert.same({ 3 }, log.delays)
  end)

  it("a huge Retry-After with a large max_interval but beyond max_elapsed: one attempt", function()
    local res, log = run({ max_interval = 1000, max_elapsed = 5 }, { answer(503, { "Retry-After: 100000" }) })
    assert.equals(1, res.attempts)
    assert.same({}, log.delays)
  end)

  it("elapsed counts from the first step, not from when the call was made", function()
    local clock = h.fake_clock(500)
    local call = assert(h.new_call { retries = retries {} })
    clock:advance(30) -- time before the driver starts does not count
    local res = h.drive(call, { answer(200) }, clock)
    call:close()
    near(0.05, res.elapsed, "elapsed")
  end)
end)

describe("retry policy on a fake clock: transport failures", function()
  it("connection refused (phase connect): not_sent, retried with backoff", function()
    local res, log = run({ initial_interval = 0.01, max_interval = 0.05 },
      { failure("network", "connect", "Connection refused") })
    assert.equals("network", res.kind)
    assert.equals("not_sent", res.outcome)
    assert.equals(3, res.attempts)
    assert.equals(2, #log.delays)
    assert.truthy(res.message:find("before the request was sent", 1, true), res.message)
  end)

  it("a timeout after the request was sent: unknown, not retried by default", function()
    local f = failure("timeout", "waiting", "Operation timed out after 1000 ms")
    f.takes = 1
    local res, log = run({}, { f })
    assert.equals("timeout", res.kind)
    assert.equals("unknown", res.outcome)
    assert.equals(1, res.attempts)
    assert.same({}, log.delays)
    near(1, res.elapsed, "elapsed")
    assert.truthy(res.message:find("after the request was sent", 1, true), res.message)
  end)

  it("a timeout is retried with retry_unsafe; each attempt's time counts", function()
    local f = failure("timeout", "waiting")
    f.takes = 1
    local res, log = run({ retry_unsafe = true, max_attempts = 2, initial_interval = 0.01, max_interval = 0.01 }, { f })
    assert.equals(2, res.attempts)
    assert.equals(1, #log.delays)
    near(2 + log.delays[1], res.elapsed, "elapsed")
  end)

  it("a 500 is not retried unless retry_unsafe", function()
    assert.equals(1, (run({}, { answer(500) })).attempts)
    assert.equals(3, (run({ retry_unsafe = true, initial_interval = 0.01 }, { answer(500) })).attempts)
  end)

  it("every attempt sends the same body (rewound before each)", function()
    local res, log = run({ initial_interval = 0 }, { answer(503), answer(503), answer(200) })
    assert.equals(3, res.attempts)
    assert.equals(3, #log.bodies)
    assert.truthy(#log.bodies[1] > 0)
    assert.equals(log.bodies[1], log.bodies[2])
    assert.equals(log.bodies[1], log.bodies[3])
  end)

  it("next() again without complete(): the attempt counts as lost, the call ends", function()
    local call = assert(h.new_call())
    assert.equals("send", call:next(1))
    assert.equals("done", call:next(2))
    assert.equals("done", call:next(3))
    call:close()
  end)
end)

describe("retry policy on a fake clock: the Lua driver (trace.drive) and the error object", function()
  it("trace.drive sleeps the core's delays and logs them; err carries retry_after and attempts", function()
    local clock = h.fake_clock()
    local call = assert(h.new_call { retries = retries { max_interval = 10 } })
    local answers = { answer(429, { "Retry-After: 7" }), answer(429, { "Retry-After: 7" }), answer(429, { "Retry-After: 7" }) }
    local slept, lines, n = {}, {}, 0
    local raw = trace.drive(call, trace.observer(function(line) lines[#lines + 1] = line end, nil, nil, nil,
        h.API_KEY),
      function(c) n = n + 1; clock:advance(0.05); c:complete(answers[n], clock.mono, clock.wall) end,
      function(s) slept[#slept + 1] = s; clock:advance(s) end,
      function() return clock.mono, clock.wall end)
    call:close()
    assert.same({ 7, 7 }, slept)
    local text = table.concat(lines, "\n")
    assert.truthy(text:find("kombo: retrying in 7.000 s", 1, true), text)
    assert.is_nil(text:find(h.API_KEY, 1, true))
    local res, err = errors.from_result(raw, h.API_KEY)
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert.equals(3, err.attempts)
    assert.equals(7, err.retry_after)
    near(14 + 3 * 0.05, err.elapsed, "err.elapsed")
  end)
end)
