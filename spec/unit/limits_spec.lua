-- Kombo's limit headers (Concurrency-Limit, Concurrency-Remaining,
-- RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset) are read by one
-- rule in the core (headers.c, kombo_parse_limits), whichever path asks:
-- call:limits() (the bulk scheduler), res.http.limits / err.limits
-- (kombo.errors) and core.limits(block).  Repeated and odd values used to
-- be read differently by a C and a Lua copy (issue 19).
--
-- Also here: a call whose next() said "send" and that was never completed
-- has no success to report (the result kind's zero value is not "ok").
local h = require "unit.helpers"
local core = require "kombo.core"
local errors = require "kombo.errors"

local ZEROS_5 = ("0"):rep(34) .. "5" -- 35 digits, value 5

-- What call:limits() gives of them (the scheduler needs no more).
local CALL_FIELDS = { concurrency_limit = true, concurrency_remaining = true, rate_reset = true }
local FIELDS = { "concurrency_limit", "concurrency_remaining", "rate_limit", "rate_remaining", "rate_reset" }

-- One attempt answered by `status` with these header lines, then the result
-- through every path: call:limits() (status, code, climit, cremaining,
-- retry_after, rate_reset), res.http.limits or err.limits, core.limits.
local function limits_of(lines, status)
  status = status or 200
  local call = assert(h.new_call { retries = { max_attempts = 1, initial_interval = 0.5, max_interval = 30,
    exponent = 1.5, max_elapsed = 120, retry_unsafe = false } })
  local res = h.drive(call, { h.answer(status, lines) })
  local from_call = { call:limits() }
  call:close()
  local ok, err = errors.from_result(res, h.API_KEY)
  local public = ok and ok.http.limits or err.limits
  local block = h.answer(status, lines).headers
  return {
    call = { concurrency_limit = from_call[3], concurrency_remaining = from_call[4], rate_reset = from_call[6] },
    public = public,
    core = core.limits(block),
  }
end

-- The value every path gives for `field` when `lines` are the answer's
-- headers; fails when the paths disagree.
local function agreed(field, lines, status)
  local got = limits_of(lines, status)
  local want = got.public[field]
  assert.equals(want, got.core[field], field .. ": core.limits vs res.http.limits")
  if CALL_FIELDS[field] then
    assert.equals(want, got.call[field], field .. ": call:limits() vs res.http.limits")
  end
  if want ~= nil and math.type then assert.equals("integer", math.type(want)) end
  return want
end

local NAMES = { concurrency_limit = "Concurrency-Limit", concurrency_remaining = "Concurrency-Remaining",
  rate_limit = "RateLimit-Limit", rate_remaining = "RateLimit-Remaining", rate_reset = "RateLimit-Reset" }

-- Every field, each with the same raw values.
local function each_field(values, status)
  local out = {}
  for _, field in ipairs(FIELDS) do
    local lines = {}
    for i, v in ipairs(values) do lines[i] = NAMES[field] .. ":" .. v end
    out[field] = agreed(field, lines, status)
  end
  return out
end

local function all(v)
  local t = {}
  for _, f in ipairs(FIELDS) do t[f] = v end
  return t
end

describe("limit headers: one rule in the core", function()
  it("a plain value is read by every path, on a success and on an error", function()
    assert.same(all(5), each_field { " 5" })
    assert.same(all(0), each_field { " 0" })
    assert.same(all(5), each_field({ " 5" }, 429))
    assert.same({}, limits_of({}).public)
  end)

  it("a header sent twice with the same value counts (it was nil in res.http.limits)", function()
    assert.same(all(5), each_field { " 5", " 5" })
    assert.same(all(5), each_field { " 5", " 05", "5" })
  end)

  it("a header sent twice with different values is absent (call:limits() took the first)", function()
    assert.same({}, each_field { " 5", " 7" })
    assert.same({}, each_field { " 7", " 5", " 7" })
  end)

  it("a value combined into one line by a proxy (\"5, 5\") reads like the copies it came from", function()
    assert.same(all(5), each_field { " 5, 5" })
    assert.same(all(5), each_field { " 5,5", " 5" })
    assert.same({}, each_field { " 5, 7" })
    assert.same({}, each_field { " 5," })
    assert.same({}, each_field { " ,5" })
  end)

  it("leading zeros at any length: a 35-digit 000...005 is 5 (call:limits() read it as 0)", function()
    assert.same(all(5), each_field { " " .. ZEROS_5 })
    assert.same(all(0), each_field { " " .. ("0"):rep(200) })
    assert.same(all(5), each_field { " " .. ZEROS_5, " 5" })
  end)

  it("a value above 2^31-1 is absent; 2^31-1 itself counts", function()
    assert.same(all(2147483647), each_field { " 2147483647" })
    assert.same(all(2147483647), each_field { " 000002147483647" })
    assert.same(all(999999999), each_field { " 999999999" })
    assert.same(all(1000000000), each_field { " 1000000000" })
    assert.same({}, each_field { " 2147483648" })
    assert.same({}, each_field { " 99999999999999999999999999999999999" })
    assert.same({}, each_field { " 18446744073709551621" }) -- 2^64 + 5: no wrap-around
  end)

  it("anything but digits is absent, also when another copy is fine", function()
    for _, v in ipairs { " abc", " -1", " +5", " 1.5", " 0x10", " 5 5", " 5s", " 1e3", "", " ", " \217\165" } do
      assert.same({}, each_field { v }, ("%q"):format(v))
      assert.same({}, each_field { " 5", v }, ("5 then %q"):format(v))
      assert.same({}, each_field { v, " 5" }, ("%q then 5"):format(v))
    end
  end)

  it("surrounding spaces and tabs are allowed, none inside", function()
    assert.same(all(5), each_field { "5" })
    assert.same(all(5), each_field { "   5   " })
    assert.same(all(5), each_field { "\t5\t" })
    assert.same(all(5), each_field { " 5 ", "\t5" })
    assert.same(all(5), each_field { " 5 ,\t5 " })
  end)

  it("names are matched without regard to case; other headers do not count", function()
    local got = limits_of { "concurrency-limit: 3", "CONCURRENCY-REMAINING: 2", "X-Concurrency-Limit: 9",
      "Concurrency-Limits: 9", "ratelimit-reset: 30" }
    assert.same({ concurrency_limit = 3, concurrency_remaining = 2, rate_reset = 30 }, got.public)
    assert.same(got.public, got.core)
    assert.same(got.public, got.call)
  end)

  it("only the final answer's block counts (not a 100 Continue before it)", function()
    local block = "HTTP/1.1 100 Continue\r\nConcurrency-Limit: 9\r\n\r\nHTTP/1.1 200 OK\r\nConcurrency-Limit: 3\r\n\r\n"
    assert.same({ concurrency_limit = 3 }, core.limits(block))
    assert.same({}, core.limits(""))
    assert.same({}, core.limits(nil))
  end)
end)

describe("a call that was never completed", function()
  it("next() said send, complete() never came: call:result() is no success", function()
    local call = assert(h.new_call())
    assert.equals("send", call:next(1))
    local res = call:result()
    call:close()
    assert.are_not.equal("ok", res.kind)
    assert.equals(0, res.attempts)
    assert.is_string(res.message)
    local ok, err = errors.from_result(res, h.API_KEY)
    assert.is_nil(ok)
    assert.equals(res.kind, err.kind)
  end)

  it("nor before next(), nor after next() gave up on it (done)", function()
    local call = assert(h.new_call())
    assert.are_not.equal("ok", call:result().kind)
    assert.equals("send", call:next(1))
    assert.equals("done", call:next(2))
    assert.are_not.equal("ok", call:result().kind)
    call:close()
  end)

  it("a completed success is still ok, with its attempt", function()
    local call = assert(h.new_call())
    local res = h.drive(call, { h.answer(200) })
    call:close()
    assert.equals("ok", res.kind)
    assert.equals(1, res.attempts)
  end)
end)

-- The bulk scheduler's step at the end of an attempt: call:after(now) is
-- call:limits() and call:next(now) in one step (one crossing into C).
describe("call:after(now)", function()
  local POLICY = { max_attempts = 3, initial_interval = 0.5, max_interval = 30, exponent = 1.5,
    max_elapsed = 120, retry_unsafe = false }

  -- Two identical calls, each after one attempt answered by `a`: one asked
  -- call:limits() then call:next(now), the other call:after(now).
  local function both(a)
    local got = {}
    for i = 1, 2 do
      local call = assert(h.new_call { retries = POLICY })
      assert.equals("send", call:next(1))
      while call:read(65536) do end
      call:complete(a, 1.05, 1000)
      if i == 1 then
        local limits = { call:limits() }
        local step, delay = call:next(1.1)
        got[i] = { step, delay, (table.unpack or unpack)(limits, 1, 6) }
      else
        got[i] = { call:after(1.1) }
      end
      call:close()
    end
    return got[1], got[2]
  end

  it("a success: done, with the limits", function()
    local a, b = both(h.answer(200, { "Concurrency-Limit: 7", "Concurrency-Remaining: 0", "RateLimit-Reset: 9" }))
    assert.same(a, b)
    assert.same({ "done", nil, 200, nil, 7, 0, nil, 9 }, b)
  end)

  it("a concurrency 429: sleep and its delay, the code and Retry-After", function()
    local a, b = both(h.answer(429, { "Retry-After: 2" },
      '{"status":"error","error":{"code":"PLATFORM.CONCURRENCY_LIMIT_EXCEEDED","title":"t","message":"m"}}'))
    assert.same(a, b)
    assert.equals("sleep", b[1])
    assert.is_number(b[2])
    assert.same({ 429, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED" }, { b[3], b[4] })
    assert.equals(2, b[7])
  end)

  -- With an index (attach_many's): a call that is done comes back with its
  -- result, as call:result(index, true) gives it, and closed.
  local function after_with_index(a)
    local call = assert(h.new_call { retries = POLICY })
    assert.equals("send", call:next(1))
    while call:read(65536) do end
    call:complete(a, 1.05, 1000)
    local function pack(...) return { n = select("#", ...), ... } end
    return call, pack(call:after(1.1, errors.success_index({})))
  end

  it("with an index, a done call's result too, the call closed", function()
    local call, got = after_with_index(h.answer(200, { "Concurrency-Limit: 7" }))
    assert.equals(10, got.n)
    assert.same({ "done", nil, 200, nil, 7, nil, nil, nil }, { (table.unpack or unpack)(got, 1, 8) })
    assert.is_table(got[9].data)
    assert.equals(200, got[9].http.status)
    assert.is_true(got[10])
    assert.matches("closed", tostring(call))
    -- an answer that is not a success: the plain result, not dressed
    call, got = after_with_index(h.answer(404))
    assert.equals(10, got.n)
    assert.equals("done", got[1])
    assert.equals(404, got[3])
    assert.not_equals("ok", got[9].kind)
    assert.equals(404, got[9].status)
    assert.is_nil(got[10])
    assert.matches("closed", tostring(call))
    -- a step other than "done": no result, the call open
    call, got = after_with_index(h.answer(503))
    assert.equals("sleep", got[1])
    assert.equals(8, got.n)
    assert.not_matches("closed", tostring(call))
    call:close()
  end)

  it("a transport failure before any answer: the step, and status 0", function()
    local a, b = both(h.failure("network", "connect"))
    assert.is_number(a[2])
    assert.is_number(b[2]) -- (a backoff with jitter: not the same twice)
    a[2], b[2] = nil, nil
    assert.same(a, b)
    assert.equals("sleep", b[1])
    assert.equals(0, b[3])
  end)
end)
