-- The success shape is checked of the top-level members the strict scan
-- recorded as it read them (classify.c; json.c's jmembers), and of the text
-- again only when there are more of them than it records (8).  Both ways
-- must give the same verdict: the last of a repeated key wins, an escaped
-- key is its value, and members past the record count.
local h = require "unit.helpers"

local RETRIES = { max_attempts = 1, initial_interval = 0.5, max_interval = 30, exponent = 1.5,
  max_elapsed = 120, retry_unsafe = false }

-- The result of one attempt answered 200 with `body`.
local function result_of(body)
  local call = assert(h.new_call { retries = RETRIES })
  local res = h.drive(call, { h.answer(200, {}, body) })
  call:close()
  return res
end

-- `n` filler members ("x1": 1, ...) before the given text.
local function filler(n)
  local parts = {}
  for i = 1, n do parts[#parts + 1] = ('"x%d":%d,'):format(i, i) end
  return table.concat(parts)
end

local SUCCESS = '"status":"success","data":{"id":"att_1"},"warnings":[]'

describe("the success shape of the top-level members", function()
  for _, extra in ipairs { 0, 5, 6, 12 } do -- (3 + 5 = 8 recorded; 9 and 15 are past the record)
    local label = ("%d members"):format(extra + 3)

    it("accepts a success of " .. label, function()
      local res = result_of("{" .. filler(extra) .. SUCCESS .. "}")
      assert.equals("ok", res.kind)
      assert.equals("att_1", res.decoded.data.id)
      assert.equals(extra, (function() local n = 0 for k in pairs(res.decoded) do
        if k:match("^x") then n = n + 1 end end return n end)())
    end)

    it("takes the last of a repeated status (" .. label .. ")", function()
      local res = result_of('{"status":"error",' .. filler(extra) .. SUCCESS .. "}")
      assert.equals("ok", res.kind)
      res = result_of("{" .. filler(extra) .. SUCCESS .. ',"status":"error"}')
      assert.equals("decode", res.kind)
      assert.matches('"status" is not "success"', res.message, 1, true)
    end)

    it("reads an escaped key as its value (" .. label .. ")", function()
      local res = result_of("{" .. filler(extra) .. '"st\\u0061tus":"success","d\\u0061ta":{"id":"a"},'
        .. '"w\\u0061rnings":[]}')
      assert.equals("ok", res.kind)
      res = result_of("{" .. filler(extra) .. '"st\\u0061tu":"success","data":{"id":"a"},"warnings":[]}')
      assert.equals("decode", res.kind)
      assert.matches('missing "status"', res.message, 1, true)
    end)

    it("finds a member that is missing or of the wrong type (" .. label .. ")", function()
      local res = result_of("{" .. filler(extra) .. '"status":"success","warnings":[]}')
      assert.equals("decode", res.kind)
      assert.matches('missing "data"', res.message, 1, true)
      res = result_of("{" .. filler(extra) .. '"status":"success","data":[],"warnings":[]}')
      assert.matches('"data" is not an object', res.message, 1, true)
      res = result_of("{" .. filler(extra) .. '"status":"success","data":{},"warnings":{}}')
      assert.matches('"warnings" is not an array', res.message, 1, true)
    end)
  end

  it("does not take a nested status for the top level's", function()
    local res = result_of('{"data":{"status":"success","id":"a"},"warnings":[]}')
    assert.equals("decode", res.kind)
    assert.matches('missing "status"', res.message, 1, true)
  end)

  it("gives an empty key and a key that starts like another their own meaning", function()
    local res = result_of('{"":1,"s":2,"statu":3,"statuss":4,' .. SUCCESS .. "}")
    assert.equals("ok", res.kind)
    assert.equals(1, res.decoded[""])
    assert.equals(4, res.decoded.statuss)
  end)
end)

-- kombo_parse_limits reads the block in one walk: a status line starts the
-- fields over, and a line is parsed only when its first letter and the dash
-- after "Concurrency" or "RateLimit" say it may be a limit header.
describe("the limit headers in one walk of the block", function()
  local core = require "kombo.core"

  it("forgets what a block before the last status line said", function()
    local lim = core.limits("HTTP/1.1 100 Continue\r\nConcurrency-Limit: 9\r\nRateLimit-Reset: 4\r\n\r\n"
      .. "HTTP/1.1 200 OK\r\nRateLimit-Reset: 5\r\n\r\n")
    assert.is_nil(lim.concurrency_limit)
    assert.equals(5, lim.rate_reset)
    lim = core.limits("HTTP/1.1 100 Continue\r\nConcurrency-Limit: x\r\n\r\nHTTP/1.1 200 OK\r\n"
      .. "Concurrency-Limit: 3\r\n\r\n")
    assert.equals(3, lim.concurrency_limit) -- (a bad copy before is no copy of this answer's)
  end)

  it("reads names in any case, and no name that only starts like one", function()
    local lim = core.limits("HTTP/1.1 200 OK\r\nconcurrency-limit: 3\r\nCONCURRENCY-REMAINING: 2\r\n"
      .. "ratelimit-limit: 100\r\nRateLimit-Remainin: 7\r\nRateLimit-Reset-At: 9\r\nConcurrency-: 1\r\n"
      .. "Content-Length: 5\r\nRateLimit: 1\r\nC\r\nR\r\n\r\n")
    assert.equals(3, lim.concurrency_limit)
    assert.equals(2, lim.concurrency_remaining)
    assert.equals(100, lim.rate_limit)
    assert.is_nil(lim.rate_remaining)
    assert.is_nil(lim.rate_reset)
  end)

  it("takes a block without a status line whole", function()
    local lim = core.limits("Concurrency-Limit: 4\r\nRateLimit-Remaining: 0\r\n")
    assert.equals(4, lim.concurrency_limit)
    assert.equals(0, lim.rate_remaining)
  end)
end)
