-- Push mode (the cosocket transport): call:read(max, true) does not call the
-- attachment's source function; it answers false when the source must be
-- called, and call:feed() hands over what the source returned.  The core
-- base64-encodes each chunk, carrying 0-2 bytes to the next one.
local h = require "unit.helpers"

-- A source giving `data` in pieces of the sizes in `sizes` (cycled).
local function pieces(data, sizes)
  local pos, i = 1, 0
  return function()
    if pos > #data then return nil end
    i = i % #sizes + 1
    local piece = data:sub(pos, pos + sizes[i] - 1)
    pos = pos + #piece
    return piece
  end
end

local function call_with(source, size)
  return assert(h.new_call(nil, { attachment = { name = "s.bin", type = "CV",
    content_type = "application/octet-stream", source = source, size = size } }))
end

-- Drives a call's body in push mode: returns the body, or nil and the
-- message call:read gave, and how often the source was asked.
local function pushed(call, max)
  local src = call:source()
  local parts, asked = {}, 0
  for _ = 1, 1000000 do
    local chunk, err = call:read(max or 65536, true)
    if chunk == false then
      asked = asked + 1
      local ok, piece, perr = pcall(src)
      if ok then call:feed(piece, perr) else call:feed(nil, "source raised: " .. tostring(piece)) end
    elseif chunk then
      parts[#parts + 1] = chunk
    elseif err then
      return nil, err, asked
    else
      return table.concat(parts), nil, asked
    end
  end
  error("did not end")
end

describe("call:read in push mode", function()
  local data = {}
  for i = 1, 100003 do data[i] = string.char((i * 7 + math.floor(i / 3)) % 256) end
  data = table.concat(data)

  it("gives the same body as the pulled source, whatever the chunk sizes (carry of 0-2 bytes)", function()
    local want = call_with(pieces(data, { 65536 }), #data):body()
    for _, sizes in ipairs { { 1 }, { 2 }, { 4 }, { 1, 2, 3, 5, 7 }, { 49151, 1 }, { 65537 }, { 200000 } } do
      local call = call_with(pieces(data, sizes), #data)
      local got, err, asked = pushed(call, 1000)
      assert.is_nil(err)
      assert.equals(want, got, table.concat(sizes, ","))
      assert.is_true(asked >= 2)
      call:close()
    end
  end)

  it("never calls the source itself", function()
    local calls = 0
    local call = call_with(function() calls = calls + 1; return "abc" end, 3)
    assert.is_string(call:read(65536, true)) -- the JSON before the data
    assert.is_false(call:read(65536, true))
    assert.equals(0, calls)
    call:feed("abc")
    assert.is_string(call:read(65536, true)) -- "YWJj"
    assert.is_false(call:read(65536, true))  -- is there more? ask the source
    call:feed(nil)
    assert.equals('"}}', call:read(65536, true))
    assert.is_nil(call:read(65536, true))
    call:close()
  end)

  it("a source that ends short, runs long, fails, raises or returns a non-string aborts", function()
    local cases = {
      { pieces(data:sub(1, 1000), { 100 }), "ended before its announced size" },
      { pieces(data:sub(1, 3000), { 100 }), "longer than its announced size" },
      { function() return nil, "client went away" end, "client went away" },
      { function() error("boom") end, "source raised: .*boom" },
      { function() return 42 end, "source returned a number, not a string" },
      { function() return "" end, "only empty chunks" },
    }
    for _, c in ipairs(cases) do
      local call = call_with(c[1], 2000)
      local got, err = pushed(call)
      assert.is_nil(got)
      assert.matches(c[2], err)
      call:close()
    end
  end)

  it("feeding out of turn raises", function()
    local call = call_with(pieces("abcdef", { 6 }), 6)
    assert.is_string(call:read(65536, true))
    assert.is_false(call:read(65536, true))
    call:feed("abcdef")
    assert.has_error(function() call:feed("more") end, "call:feed(): the last chunk is not used up yet (call:read() first)")
    call:close()
    local no_source = assert(h.new_call(nil, { attachment = { name = "b", type = "CV", bytes = "xyz" } }))
    assert.is_nil(no_source:source())
    assert.has_error(function() no_source:feed("x") end, "call:feed(): the attachment has no source")
    no_source:close()
  end)
end)

-- issue 19: the source contract (what a source may return and what each
-- answer means) is one function in the binding (kombo_lua_source_take),
-- used by the pulled read and by call:feed(): the same returns, the same
-- outcome.
describe("a source, pulled or pushed", function()
  local function pulled(call)
    local parts = {}
    for _ = 1, 1000000 do
      local chunk, err = call:read(65536)
      if chunk then parts[#parts + 1] = chunk
      elseif err then return nil, err
      else return table.concat(parts) end
    end
    error("did not end")
  end

  -- A source answering the lists of returns in `script`, one per call.
  local function scripted(script)
    local i = 0
    return function()
      i = i + 1
      local r = script[i] or {}
      return r[1], r[2]
    end
  end

  local function empties(n, tail)
    local script = {}
    for i = 1, n do script[i] = { "" } end
    for _, r in ipairs(tail) do script[#script + 1] = r end
    return script
  end

  local cases = {
    { "chunks then nil", { { "ab" }, { "c" }, {} }, 3 },
    { "nil and a message", { { "ab" }, { nil, "went away" } }, 3 },
    { "nil and a number as the message", { { nil, 42 } }, 3 },
    { "nil and a table as the message", { { nil, {} } }, 3 },
    { "a number", { { 42 } }, 3 },
    { "a table", { { {} } }, 3 },
    { "false", { { false } }, 3 },
    { "1000 empty chunks, then content", empties(1000, { { "abc" }, {} }), 3 },
    { "1001 empty chunks", empties(1001, { { "abc" }, {} }), 3 },
    { "empty chunks between pieces", { { "" }, { "a" }, { "" }, { "bc" }, { "" }, {} }, 3 },
    { "too short", { { "ab" }, {} }, 3 },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. " means the same either way", function()
      local a = call_with(scripted(case[2]), case[3])
      local b = call_with(scripted(case[2]), case[3])
      local body_a, err_a = pulled(a)
      local body_b, err_b = pushed(b)
      a:close(); b:close()
      assert.are.same({ body_a, err_a }, { body_b, err_b })
    end)
  end
end)
