-- The core's JSON scan and header parser into Lua values (csrc/lua_json.c),
-- through the test-only module kombo.testing: the body is decoded once, by
-- the same scanner that classified it, and integers and [] survive.
local testing = require "kombo.testing"
local h = require "unit.helpers"

local decode = testing.decode_json
local has_integers = math.type ~= nil -- Lua 5.3+

describe("testing.decode_json", function()
  local NULL, ARRAY_MT = { "null" }, { __name = "json array" }
  local saved_null, saved_mt

  before_each(function()
    saved_null, saved_mt = testing.set_sentinels(NULL, ARRAY_MT)
  end)
  after_each(function()
    testing.set_sentinels(saved_null, saved_mt) -- kombo.core's values, for the other specs
  end)

  it("decodes nested objects and arrays", function()
    local v = decode [=[ {"status":"success","data":{"id":"a1","tags":["x",{"k":[1,2,[]]}]},"warnings":[]} ]=]
    assert.equals("success", v.status)
    assert.equals("a1", v.data.id)
    assert.equals("x", v.data.tags[1])
    assert.equals(2, v.data.tags[2].k[2])
    assert.equals(0, #v.data.tags[2].k[3])
    assert.equals(2, #v.data.tags)
  end)

  -- The scan reads a string's plain ASCII eight bytes at a time (json.c):
  -- each byte it must stop at, at every offset of an eight-byte step.
  it("finds a string's end, escapes, control bytes and non-ASCII at every offset", function()
    for at = 0, 19 do
      local pad = ("a"):rep(at)
      assert.same({ pad, "z" }, decode('["' .. pad .. '","z"]'), at)
      assert.equals(pad .. "\n" .. pad, decode('"' .. pad .. '\\n' .. pad .. '"'), at)
      assert.equals(pad .. "\127~ " .. pad, decode('"' .. pad .. '\127~ ' .. pad .. '"'), at)
      assert.equals(pad .. "\195\169" .. pad, decode('"' .. pad .. '\195\169' .. pad .. '"'), at)
      for _, bad in ipairs { "\0", "\1", "\31", "\n", "\255", "\195" } do
        assert.is_nil(decode('"' .. pad .. bad .. pad .. 'bcdefgh"'), at .. " " .. bad:byte())
      end
      assert.is_nil(decode('"' .. pad), at) -- unterminated
    end
  end)

  it("gives every array, empty ones included, the registry's kombo.array_mt", function()
    local v = decode [[ {"warnings":[],"list":[1],"obj":{}} ]]
    assert.equals(ARRAY_MT, getmetatable(v.warnings))
    assert.equals(ARRAY_MT, getmetatable(v.list))
    assert.is_nil(getmetatable(v.obj))
    assert.is_nil(next(v.warnings))
  end)

  it("gives arrays no metatable when kombo.array_mt is unset", function()
    testing.set_sentinels(NULL, nil)
    assert.is_nil(getmetatable(decode "[]"))
  end)

  it("turns null into the registry's kombo.null", function()
    local v = decode [[ {"a":null,"b":[null,1]} ]]
    assert.equals(NULL, v.a)
    assert.equals(NULL, v.b[1])
    assert.equals(1, v.b[2])
    assert.equals(NULL, decode "null")
  end)

  it("turns null into a NULL light userdata (cjson.null) when kombo.null is unset", function()
    testing.set_sentinels(nil, ARRAY_MT)
    local v = decode "[null]"
    assert.equals("userdata", type(v[1]))
    local ok, cjson = pcall(require, "cjson")
    if ok then assert.equals(cjson.null, v[1]) end
  end)

  it("decodes true, false, and keeps the last of duplicate keys", function()
    local v = decode [[ {"t":true,"f":false,"k":1,"k":2} ]]
    assert.is_true(v.t)
    assert.is_false(v.f)
    assert.equals(2, v.k)
  end)

  it("keeps integers integers on Lua 5.3+", function()
    local v = decode "[0, 1, -1, 42, 9007199254740993, 9223372036854775807, -9223372036854775808]"
    assert.equals(0, v[1])
    assert.equals(-1, v[3])
    assert.equals(42, v[4])
    if has_integers then
      for i = 1, #v do assert.equals("integer", math.type(v[i]), "element " .. i) end
      assert.equals(9007199254740993, v[5]) -- not representable as a double
      assert.equals(math.maxinteger, v[6])
      assert.equals(math.mininteger, v[7])
    end
  end)

  it("makes integers beyond lua_Integer floats", function()
    local v = decode "[9223372036854775808, -9223372036854775809, 100000000000000000000000]"
    assert.equals(2 ^ 63, v[1])
    assert.equals(-(2 ^ 63), v[2])
    assert.equals(1e23, v[3])
    if has_integers then
      for i = 1, #v do assert.equals("float", math.type(v[i]), "element " .. i) end
    end
  end)

  it("decodes fractions and exponents as floats", function()
    local v = decode "[1.5, -0.25, 1e3, 2E-2, 1.0, -0]"
    assert.equals(1.5, v[1])
    assert.equals(-0.25, v[2])
    assert.equals(1000, v[3])
    assert.equals(0.02, v[4])
    assert.equals(1, v[5])
    assert.equals(0, v[6])
    assert.equals(-math.huge, 1 / v[6]) -- "-0" keeps its sign
    if has_integers then
      for i = 1, #v do assert.equals("float", math.type(v[i]), "element " .. i) end
    end
  end)

  it("reads floats the same under a decimal-comma locale", function()
    local old = os.setlocale(nil, "numeric")
    local set
    for _, name in ipairs { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "nl_NL.UTF-8" } do
      set = os.setlocale(name, "numeric")
      if set then break end
    end
    if not set then
      pending("no decimal-comma locale installed")
      return
    end
    local ok, v = pcall(decode, "[1.5, 2.25e1]")
    os.setlocale(old, "numeric")
    assert.is_true(ok)
    assert.same({ 1.5, 22.5 }, setmetatable(v, nil))
  end)

  it("decodes escapes", function()
    local v = decode [[ ["a\"b\\c\/d", "\b\f\n\r\t", "\u0041\u00e9\u20ac", "nul\u0000byte"] ]]
    assert.equals('a"b\\c/d', v[1])
    assert.equals("\b\f\n\r\t", v[2])
    assert.equals("A" .. h.hex "C3 A9" .. h.hex "E2 82 AC", v[3])
    assert.equals("nul\0byte", v[4])
  end)

  it("decodes surrogate pairs and raw UTF-8", function()
    local v = decode([[ ["\ud83d\ude00", "]] .. h.hex "F0 9F 98 80" .. [["] ]])
    assert.equals(h.hex "F0 9F 98 80", v[1])
    assert.equals(h.hex "F0 9F 98 80", v[2])
  end)

  it("decodes escaped keys and long strings", function()
    local long = ("x"):rep(5000)
    local v = decode('{"k\\u0065y":"' .. long .. '\\n","' .. long .. '":1}')
    assert.equals(long .. "\n", v.key)
    assert.equals(1, v[long])
  end)

  it("decodes nesting up to the scanner's limit (64)", function()
    local v = decode(("["):rep(64) .. ("]"):rep(64))
    for _ = 1, 63 do v = v[1] end
    assert.same({}, setmetatable(v, nil))
    assert.is_nil(decode(("["):rep(65) .. ("]"):rep(65)))
  end)

  -- Members wait on the Lua stack until their container ends (one pass,
  -- tables made at their size); Lua 5.1 and LuaJIT give a C function about
  -- 8,000 slots, which 40 levels of 255 members would pass.
  it("decodes deep nesting with many members in every level (Lua 5.1's C stack)", function()
    local arrays = ("[" .. ("1,"):rep(255)):rep(40) .. "7" .. ("]"):rep(40)
    local v = decode(arrays)
    for _ = 1, 39 do
      assert.equals(256, #v)
      v = v[256]
    end
    assert.equals(7, v[256])
    local member = {}
    for i = 1, 300 do member[i] = ('"k%d":%d'):format(i, i) end
    local objects = ("{" .. table.concat(member, ",") .. ',"z":'):rep(30) .. "1" .. ("}"):rep(30)
    local o = decode(objects)
    for _ = 1, 29 do
      assert.equals(300, o.k300)
      o = o.z
    end
    assert.equals(1, o.z)
    assert.equals(17, o.k17)
  end)

  it("keeps the last of duplicate keys across more than 256 members", function()
    local member = { '"dup":1' }
    for i = 1, 600 do member[#member + 1] = ('"m%d":%d'):format(i, i) end
    member[#member + 1] = '"dup":2'
    local o = decode("{" .. table.concat(member, ",") .. "}")
    assert.equals(2, o.dup)
    assert.equals(600, o.m600)
  end)

  -- A string's end and its first escape are looked for 8 bytes a step.
  it("finds a string's end and its escapes wherever they fall", function()
    for len = 0, 20 do
      local plain = ("a"):rep(len)
      assert.equals(plain, decode('["' .. plain .. '"]')[1])
      assert.equals("\195\169" .. plain, decode('["\195\169' .. plain .. '"]')[1]) -- bytes >= 0x80
      for i = 0, len do
        local head, tail = plain:sub(1, i), plain:sub(i + 1)
        assert.equals(head .. "\n" .. tail, decode('["' .. head .. '\\n' .. tail .. '"]')[1])
        assert.equals(head .. '"' .. tail, decode('{"k":"' .. head .. '\\"' .. tail .. '"}').k)
      end
      local v = decode('{"' .. plain .. 'k":"' .. plain .. '\\u00e9x"}')
      assert.equals(plain .. "\195\169x", v[plain .. "k"])
    end
  end)

  -- The scan records the first 16 containers up to 6 deep with their sizes,
  -- and those are made at their size before they are read; the others wait
  -- on the stack until they end.  Both must give the same values.
  it("decodes containers the scan recorded and those past its record alike", function()
    local parts = {}
    for i = 1, 20 do parts[i] = ('{"i":0,"a":[%d,{"d":[[[[[%d]]]]]}],"i":%d}'):format(i, i, i) end
    local v = decode("[" .. table.concat(parts, ",") .. "]")
    assert.equals(20, #v)
    for i = 1, 20 do
      local o = v[i]
      assert.equals(i, o.i, "the last of a repeated key, object " .. i)
      local n = 0
      for _ in pairs(o) do n = n + 1 end
      assert.equals(2, n)
      assert.equals(2, #o.a)
      assert.equals(i, o.a[1])
      assert.equals(i, o.a[2].d[1][1][1][1][1])
      assert.equals(ARRAY_MT, getmetatable(o.a))
      assert.equals(ARRAY_MT, getmetatable(o.a[2].d[1][1][1][1]))
      assert.is_nil(getmetatable(o))
    end
  end)

  local invalid = {
    "", " ", "{", "[1,]", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[+1]", "[NaN]", "tru", "nul",
    "'x'", "[\"\\x\"]", "[\"\\ud800\"]", "[\"\\udc00x\"]", "[\"a\nb\"]", "{a:1}", "[1] [2]", "[1]x",
    "[\"" .. h.hex "C3" .. "\"]", "[\"" .. h.hex "ED A0 80" .. "\"]",
  }
  for _, text in ipairs(invalid) do
    it(("returns nil, \"invalid JSON\" for %q"):format(text), function()
      local v, err = decode(text)
      assert.is_nil(v)
      assert.equals("invalid JSON", err)
    end)
  end

  it("accepts surrounding whitespace", function()
    assert.equals(1, decode " \t\r\n1\n ")
  end)
end)

describe("testing.parse_headers", function()
  local parse = testing.parse_headers

  it("lower-cases names and trims values", function()
    assert.same({ ["content-type"] = "application/json", ["retry-after"] = "5", ["x-empty"] = "" },
      parse "Content-Type: application/json\r\nRETRY-AFTER:   5 \t\r\nX-Empty:\r\n\r\n")
  end)

  it("joins repeated fields with \", \" in order", function()
    assert.same({ vary = "a, b, c" }, parse "Vary: a\r\nVARY: b\r\nvary:c\r\n")
  end)

  it("keeps only the final answer's block after 100 Continue", function()
    local raw = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" ..
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n\r\n"
    assert.same({ ["retry-after"] = "7" }, parse(raw))
  end)

  it("skips the status line, obs-fold continuations and garbage lines", function()
    local raw = "HTTP/1.1 200 OK\r\nA: 1\r\n  folded continuation\r\n\tb: tab\r\nno colon here\r\n" ..
      "Bad Name: x\r\nBad : x\r\n: no name\r\nC: 2\n\r\n"
    assert.same({ a = "1", c = "2" }, parse(raw))
  end)

  it("keeps colons and inner blanks of values", function()
    assert.same({ location = "https://x.test:8443/a b" }, parse "Location: https://x.test:8443/a b\r\n")
  end)

  it("gives an empty table for an empty block", function()
    assert.same({}, parse "")
  end)
end)
