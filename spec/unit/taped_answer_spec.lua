-- A success's answer is built from the classifying scan's tape (every token
-- of a small answer: where it starts, where it ends or how many members it
-- holds; csrc/core/json.c), without reading the text again, and from the
-- text itself when the answer has more tokens than the tape holds.  Both
-- must give what the text decoder gives (testing.decode_json, specs in
-- decode_spec.lua), with every string redacted of the client's key.  Which
-- of the two built a result is told by testing.answer_json(body, true),
-- which builds it as a call does over a copy of body whose every byte the
-- tape does not read is spoiled: from the tape, that copy still gives the
-- right value; from the text, it cannot.  (answer_json pushes without the
-- call's string cache and redactor; which path is taken is decided below
-- both, in lua_json.c's push_value, the same for a call's answer.)
local h = require "unit.helpers"
local testing = require "kombo.testing"
local errors = require "kombo.errors"

local TAPE = 64 -- KOMBO_JSON_TAPE

-- The answer of one call answered `body`, as the library returns it.
local function result_of(body)
  local call = assert(h.new_call())
  local raw = h.drive(call, { { status = 200, headers = "HTTP/1.1 200 OK\r\n\r\n", body = body, phase = "done" } })
  call:close()
  assert.equals("ok", raw.kind, raw.message)
  return errors.from_result(raw, h.API_KEY)
end

-- Deep equality, with the arrays' metatables (and no other) compared too.
local function same(want, got, path)
  path = path or "res"
  assert.equals(type(want), type(got), path)
  if type(want) ~= "table" then
    assert.equals(want, got, path)
    if math.type then assert.equals(math.type(want), math.type(got), path) end
    return
  end
  if path ~= "res" then assert.equals(getmetatable(want), getmetatable(got), path .. "'s metatable") end
  for k, v in pairs(want) do same(v, got[k], path .. "." .. tostring(k)) end
  for k in pairs(got) do assert.is_not_nil(want[k], path .. "." .. tostring(k) .. " is extra") end
end

local function body_with(data, warnings)
  return '{"status":"success","data":' .. data .. ',"warnings":' .. (warnings or "[]") .. "}"
end

-- data with n members: 2 tokens each and its own (body_with adds 6).
local function members(n)
  local parts = {}
  for i = 1, n do parts[i] = ('"k%d":%d'):format(i, i) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- The tokens of valid JSON text, counted from the text (not by the scan
-- under test): each string, number and literal, and each opening bracket.
local function tokens(text)
  local n, i = 0, 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == '"' then
      i = i + 1
      while text:sub(i, i) ~= '"' do i = i + (text:sub(i, i) == "\\" and 2 or 1) end
      n, i = n + 1, i + 1
    elseif c:find "[%w%-]" then -- a number or a literal: its whole run
      n, i = n + 1, select(2, text:find("^[%w%-%+%.]+", i)) + 1
    else
      if c == "{" or c == "[" then n = n + 1 end
      i = i + 1
    end
  end
  return n
end

local BODIES = {
  plain = body_with '{"id":"att_1"}',
  scalars = body_with('{"i":42,"neg":-7,"big":9223372036854775807,"huge":92233720368547758080,'
    .. '"f":0.5,"e":1e3,"z":-0,"t":true,"no":false,"n":null,"s":""}'),
  nested = body_with '{"a":[1,[2,[3,[]]],{"b":{"c":[{"d":null}]}}],"o":{},"l":[]}',
  escapes = body_with '{"q\\"k":"a\\"b","u":"\\u00e9\\ud83d\\ude00","nl":"x\\ny","sl":"a\\/b\\\\c"}',
  utf8 = body_with('{"name":"' .. h.hex "C3 A9 E2 82 AC" .. '","' .. h.hex "C3 BC" .. '":1}'),
  repeated = body_with '{"id":"first","id":"second","x":1,"x":[2]}',
  spaced = ' \r\n{ "status" : "success" ,\t"data" : { "id" : [ 1 , 2 ] , "e" : { } } , "warnings" : [ ] } \n',
  warnings = body_with('{"id":"w"}', '[{"message":"careful","code":"W1"},{"message":"again"}]'),
  long_strings = body_with('{"text":"' .. ("long text "):rep(40) .. '","' .. ("k"):rep(300) .. '":"v"}'),
  tape_less_one = body_with(members(28)), -- 7 + 2 * 28 = 63 tokens
  tape_exact = body_with((members(28):gsub(":28}$", ":[28]}"))), -- 64: the tape's size
  tape_past_one = body_with((members(28):gsub("}$", ',"x":[]}'))), -- 65: no tape
  past_the_tape = body_with(members(TAPE)), -- no tape: read from the text
}

describe("a success's answer from the scan's tape", function()
  local NULL, ARRAY_MT = { "null" }, { __name = "json array" }
  local saved_null, saved_mt
  before_each(function() saved_null, saved_mt = testing.set_sentinels(NULL, ARRAY_MT) end)
  after_each(function() testing.set_sentinels(saved_null, saved_mt) end)

  for name, body in pairs(BODIES) do
    it("gives what the text decoder gives (" .. name .. ")", function()
      same(testing.decode_json(body), result_of(body))
    end)
  end

  it("has bodies on both sides of the tape's size, counted alike by the spec and the scan", function()
    assert.equals(TAPE - 1, tokens(BODIES.tape_less_one))
    assert.equals(TAPE, tokens(BODIES.tape_exact))
    assert.equals(TAPE + 1, tokens(BODIES.tape_past_one))
    assert.equals(TAPE - 1, select(2, testing.answer_json(BODIES.tape_less_one)))
    assert.equals(TAPE, select(2, testing.answer_json(BODIES.tape_exact)))
    assert.is_false(select(2, testing.answer_json(BODIES.tape_past_one)))
  end)

  for name, body in pairs(BODIES) do
    local n = tokens(body)
    if n <= TAPE then
      it(("reads no separator of a body on the tape (%s, %d tokens)"):format(name, n), function()
        local want = testing.decode_json(body)
        local got, taped = testing.answer_json(body, true)
        assert.equals(n, taped)
        same(want, got)
      end)
    else
      it(("reads the text of a body past the tape (%s, %d tokens)"):format(name, n), function()
        local want = testing.decode_json(body)
        local got, taped = testing.answer_json(body)
        assert.is_false(taped)
        same(want, got) -- right from the text as it is
        got = testing.answer_json(body, true)
        assert.is_false(pcall(same, want, got), "the spoiled text gave the right value")
      end)
    end
  end

  it("redacts the key wherever it stands, a key or a value, escaped or not", function()
    local key = h.API_KEY
    assert.is_true(#key >= 8)
    local escaped = key:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end)
    local body = body_with(('{"echo":"%s","%s":"as a key","esc":"x%sy","list":["%s"]}'):format(key, key, escaped, key))
    local res = result_of(body)
    local want = testing.decode_json(body)
    local function redacted(v)
      if type(v) == "string" then return (errors.redact(v, key)) end
      if type(v) ~= "table" then return v end
      local t = setmetatable({}, getmetatable(v))
      for k, x in pairs(v) do t[redacted(k)] = redacted(x) end
      return t
    end
    same(redacted(want), res)
    assert.equals("<redacted>", res.data.echo)
    assert.equals("x<redacted>y", res.data.esc)
    assert.equals("as a key", res.data["<redacted>"])
    assert.equals("<redacted>", res.data.list[1])
    for k, v in pairs(res.data) do
      assert.is_nil(tostring(k):find(key, 1, true))
      assert.is_nil(tostring(v):find(key, 1, true))
    end
  end)
end)
