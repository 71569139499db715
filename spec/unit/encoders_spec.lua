-- The C encoders and parsers exposed by kombo.core: base64, UTF-8 checks
-- and Retry-After parsing.
local kombo = require "kombo"
local core = require "kombo.core"
local testing = require "kombo.testing" -- test-only helpers, not part of kombo.core
local h = require "unit.helpers"

local hex = h.hex

-- Pure-Lua reference base64 (RFC 4648, standard alphabet, padded); plain
-- arithmetic so that it runs on 5.1, LuaJIT and 5.3+ alike.
local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function ref_encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local i1 = math.floor(n / 262144) % 64
    local i2 = math.floor(n / 4096) % 64
    local i3 = math.floor(n / 64) % 64
    local i4 = n % 64
    out[#out + 1] = ALPHABET:sub(i1 + 1, i1 + 1) .. ALPHABET:sub(i2 + 1, i2 + 1)
      .. (b and ALPHABET:sub(i3 + 1, i3 + 1) or "=") .. (c and ALPHABET:sub(i4 + 1, i4 + 1) or "=")
  end
  return table.concat(out)
end

local DECODE = {}
for i = 1, 64 do DECODE[ALPHABET:byte(i)] = i - 1 end
local function ref_decode(s)
  local out = {}
  for i = 1, #s, 4 do
    local c1, c2, c3, c4 = s:byte(i, i + 3)
    local n = DECODE[c1] * 262144 + DECODE[c2] * 4096 + (DECODE[c3] or 0) * 64 + (DECODE[c4] or 0)
    local b1, b2, b3 = math.floor(n / 65536), math.floor(n / 256) % 256, n % 256
    if c3 == 61 then
      out[#out + 1] = string.char(b1)
    elseif c4 == 61 then
      out[#out + 1] = string.char(b1, b2)
    else
      out[#out + 1] = string.char(b1, b2, b3)
    end
  end
  return table.concat(out)
end

local function random_bytes(n, seed)
  math.randomseed(seed)
  local parts = {}
  for i = 1, n do parts[i] = string.char(math.random(0, 255)) end
  return table.concat(parts)
end

describe("core.base64_encode", function()
  local vectors = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } }
  for _, v in ipairs(vectors) do
    it(("encodes the RFC 4648 vector %q"):format(v[1]), function()
      assert.equals(v[2], core.base64_encode(v[1]))
    end)
  end

  for len = 0, 10 do
    it(("matches the reference encoder and round trips for %d bytes"):format(len), function()
      local s = random_bytes(len, 1000 + len)
      local encoded = core.base64_encode(s)
      assert.equals(ref_encode(s), encoded)
      assert.equals(4 * math.ceil(len / 3), #encoded)
      assert.equals(s, ref_decode(encoded))
    end)
  end

  it("encodes every byte value (0..255)", function()
    local bytes = {}
    for b = 0, 255 do bytes[#bytes + 1] = string.char(b) end
    local s = table.concat(bytes)
    assert.equals(ref_encode(s), core.base64_encode(s))
  end)

  it("matches the reference encoder for a 100 KB random string", function()
    local s = random_bytes(100 * 1024, 4242)
    local encoded = core.base64_encode(s)
    assert.equals(#ref_encode(s), #encoded)
    assert.equals(ref_encode(s), encoded)
    assert.equals(s, ref_decode(encoded))
    assert.is_true(testing.base64_valid(encoded))
  end)

  it("matches the reference encoder across internal buffer boundaries", function()
    for _, len in ipairs { 1023, 1024, 1025, 3071, 3072, 3073, 8191, 8192, 8193, 65535, 65536, 65537 } do
      local s = random_bytes(len, len)
      assert.equals(ref_encode(s), core.base64_encode(s), "length " .. len)
    end
  end)

  it("output is accepted as attachment data", function()
    local call, problems = h.prepare { attachment = h.attachment { data = core.base64_encode(random_bytes(999, 7)) } }
    assert.is_not_nil(call, h.dump(problems))
  end)

  it("is offered as kombo.base64 (as the README documents)", function()
    assert.equals("function", type(kombo.base64))
    assert.equals("Zm9vYmFy", kombo.base64("foobar"))
  end)
end)

describe("testing.base64_valid", function()
  local valid = { "", "QQ==", "QUI=", "QUJD", "Zm9vYmFy", "+/+/", "////", "AAAA", "QR==",
    "QUJDREVGR0g=" }
  for _, s in ipairs(valid) do
    it(("accepts %q"):format(s), function()
      assert.is_true(testing.base64_valid(s))
    end)
  end

  local invalid = {
    { "length 1", "Q" }, { "length 2", "QQ" }, { "length 3", "QQ=" }, { "length 5", "QUJDR" },
    { "three =", "Q===" }, { "only =", "====" }, { "= first", "=QUJ" },
    { "= in the middle", "QQ==QUJD" }, { "= then letter", "QQ=A" },
    { "url-safe -", "QU-D" }, { "url-safe _", "QU_D" },
    { "space", "QU D" }, { "newline", "QUJD\nQUJD" }, { "CRLF at end", "QUJDQQ==\r\n" },
    { "NUL", "QU\0D" }, { "non-ASCII", "QU" .. hex "C3 A9" }, { "dot", "QU.D" },
  }
  for _, case in ipairs(invalid) do
    it("rejects " .. case[1], function()
      assert.is_false(testing.base64_valid(case[2]))
    end)
  end

  -- The validator checks sixteen bytes at a time, tests them once per 256,
  -- and the rest one by one: every byte value at every position of strings
  -- of 4 to 40 bytes and of 276 (past one 256-byte stretch) hits every path
  -- and every range edge ('@' 'A' 'Z' '[' '`' 'a' 'z' '{' ...).
  it("agrees with the alphabet for every byte value at every position", function()
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    local wrong = {}
    local lengths = {}
    for len = 4, 40, 4 do lengths[#lengths + 1] = len end
    lengths[#lengths + 1] = 276
    for _, len in ipairs(lengths) do
      for pos = 1, len do
        for b = 0, 255 do
          local c = string.char(b)
          local s = ("A"):rep(pos - 1) .. c .. ("A"):rep(len - pos)
          local want = alphabet:find(c, 1, true) ~= nil or (c == "=" and pos == len)
          if testing.base64_valid(s) ~= want and #wrong < 5 then
            wrong[#wrong + 1] = ("len %d pos %d byte %d"):format(len, pos, b)
          end
        end
      end
    end
    assert.same({}, wrong)
  end)
end)

describe("testing.utf8_valid", function()
  local valid = {
    { "empty", "" },
    { "ASCII", "hello, world" },
    { "NUL (a valid code point)", "a\0b" },
    { "2-byte é", hex "C3 A9" },
    { "U+0080 (smallest 2-byte)", hex "C2 80" },
    { "U+0800 (smallest 3-byte)", hex "E0 A0 80" },
    { "U+D7FF (before surrogates)", hex "ED 9F BF" },
    { "U+E000 (after surrogates)", hex "EE 80 80" },
    { "U+FFFF", hex "EF BF BF" },
    { "U+10000 (smallest 4-byte)", hex "F0 90 80 80" },
    { "emoji", hex "F0 9F 98 80" },
    { "U+10FFFF (largest)", hex "F4 8F BF BF" },
    { "mixed text", "R" .. hex "C3 A9" .. "sum" .. hex "C3 A9" .. " " .. hex "E2 82 AC" .. "5" },
  }
  for _, case in ipairs(valid) do
    it("accepts " .. case[1], function()
      assert.is_true(testing.utf8_valid(case[2]))
    end)
  end

  local invalid = {
    { "lone continuation byte", hex "80" },
    { "overlong 2-byte (C0 80)", hex "C0 80" },
    { "overlong 2-byte (C1 BF)", hex "C1 BF" },
    { "overlong 3-byte (E0 80 80)", hex "E0 80 80" },
    { "overlong 3-byte (E0 9F BF)", hex "E0 9F BF" },
    { "overlong 4-byte (F0 8F BF BF)", hex "F0 8F BF BF" },
    { "surrogate U+D800", hex "ED A0 80" },
    { "surrogate U+DFFF", hex "ED BF BF" },
    { "above U+10FFFF (F4 90 80 80)", hex "F4 90 80 80" },
    { "F5 lead byte", hex "F5 80 80 80" },
    { "FF byte", hex "FF" },
    { "FE byte", hex "FE" },
    { "truncated 2-byte", "a" .. hex "C3" },
    { "truncated 3-byte", hex "E2 82" },
    { "truncated 4-byte", hex "F0 9F 98" },
    { "bad continuation", hex "C3 28" },
    { "bad third byte", hex "E2 82 28" },
    { "Latin-1 é", "caf" .. hex "E9" },
  }
  for _, case in ipairs(invalid) do
    it("rejects " .. case[1], function()
      assert.is_false(testing.utf8_valid(case[2]))
    end)
  end
end)

describe("testing.parse_retry_after", function()
  -- Sun, 06 Nov 1994 08:49:37 GMT
  local NOW = 784111777

  local cases = {
    { "delta-seconds 1", "1", 1 },
    { "delta-seconds 0", "0", 0 },
    { "delta-seconds 120", "120", 120 },
    { "surrounding blanks", "  5 ", 5 },
    { "IMF-fixdate 10 s ahead", "Sun, 06 Nov 1994 08:49:47 GMT", 10 },
    { "IMF-fixdate a day ahead", "Mon, 07 Nov 1994 08:49:37 GMT", 86400 },
    { "RFC 850 date 10 s ahead", "Sunday, 06-Nov-94 08:49:47 GMT", 10 },
    { "asctime date 10 s ahead", "Sun Nov  6 08:49:47 1994", 10 },
    { "asctime date with a two-digit day", "Thu Nov 10 08:49:37 1994", 4 * 86400 },
    { "IMF-fixdate in the past", "Sun, 06 Nov 1994 08:49:27 GMT", 0 },
    { "IMF-fixdate long ago", "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { "RFC 850 date in the past", "Saturday, 05-Nov-94 08:49:37 GMT", 0 },
    { "asctime date in the past", "Sat Nov  5 08:49:37 1994", 0 },
    { "the same instant", "Sun, 06 Nov 1994 08:49:37 GMT", 0 },
    -- HTTP-dates are read by libcurl's curl_getdate, which also converts
    -- other zones (RFC 9110 wants GMT): the wait is still the right one.
    { "a date in another zone, converted", "Sun, 06 Nov 1994 09:49:47 CET", 10 },
  }
  for _, case in ipairs(cases) do
    it(("parses %s: %q -> %s"):format(case[1], case[2], case[3]), function()
      assert.equals(case[3], testing.parse_retry_after(case[2], NOW))
    end)
  end

  local rejected = {
    { "a negative number", "-1" },
    { "letters", "abc" },
    { "a fraction", "1.5" },
    { "digits then garbage", "10s" },
    { "an empty string", "" },
    { "blanks only", "   " },
    { "a date with a bad month", "Sun, 06 Foo 1994 08:49:47 GMT" },
    { "a date with a bad day", "Sun, 32 Nov 1994 08:49:47 GMT" },
    { "a date with a bad time", "Sun, 06 Nov 1994 25:49:47 GMT" },
    { "an ISO 8601 date", "1994-11-06T08:49:47Z" },
  }
  for _, case in ipairs(rejected) do
    it(("returns nil for %s (%q)"):format(case[1], case[2]), function()
      assert.is_nil(testing.parse_retry_after(case[2], NOW))
    end)
  end

  it("returns nil for an absent value", function()
    assert.is_nil(testing.parse_retry_after(nil, NOW))
  end)

  it("resolves the two-digit RFC 850 year near now (1994 with a 1994 clock)", function()
    assert.equals(10, testing.parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", NOW))
  end)

  it("resolves the two-digit RFC 850 year near now (2025 with a 2025 clock)", function()
    -- Wed, 01 Jan 2025 00:00:00 GMT
    local now2025 = 1735689600
    assert.equals(60, testing.parse_retry_after("Wednesday, 01-Jan-25 00:01:00 GMT", now2025))
  end)

  it("caps huge delta-seconds instead of overflowing", function()
    local v = testing.parse_retry_after(("9"):rep(400), NOW)
    assert.is_number(v)
    assert.is_true(v > 0 and v < math.huge)
  end)
end)
