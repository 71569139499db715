-- call:digest() (the SHA-256 of the raw content as the body read it out)
-- and call:on_written(fn) (run once per attempt just before the bytes that
-- complete the body), driven through call:read() as the cosocket transport
-- pulls the body: no network.
local h = require "unit.helpers"
local core = require "kombo.core"
local files = require "support.files"

local function call_with(attachment)
  return assert(h.new_call(nil, { attachment = h.merge({ name = "blob.bin", type = "CV" }, attachment) }))
end

-- The cosocket pull loop: call:read() until the end; returns the body, or
-- nil and the message of a failed body.
local function pull(call, max)
  local parts = {}
  for _ = 1, 100000 do
    local chunk, err = call:read(max or 65536)
    if chunk == nil then
      if err then return nil, err end
      return table.concat(parts)
    end
    parts[#parts + 1] = chunk
  end
  error("call:read() never ended")
end

local function pieces(data, size)
  local pos = 1
  return function()
    if pos > #data then return nil end
    local s = data:sub(pos, pos + size - 1)
    pos = pos + size
    return s
  end
end

describe("call:digest()", function()
  -- The digest is made for a call with an on_written hook (a journal asks
  -- for it there); a plain upload does not hash its file.
  local plain_call_with = call_with
  local function call_with(att) -- luacheck: ignore 431 (shadows the outer helper)
    local call = plain_call_with(att)
    call:on_written(function() return true end)
    return call
  end
  local dir
  before_each(function() dir = files.tmpdir() end)
  after_each(function() files.rmtree(dir) end)

  it("is nil before the body was read, the content's SHA-256 once it was read whole", function()
    local bytes = files.random_bytes(200001)
    local call = call_with { bytes = bytes }
    assert.is_nil(call:digest())
    assert.is_string(pull(call))
    assert.equals(core.sha256(bytes), call:digest())
    call:close()
  end)

  it("hashes a file, a source and bytes alike, in any read size", function()
    local bytes = files.random_bytes(3 * 65536 + 2)
    local path = files.write(dir .. "/f.bin", bytes)
    for _, att in ipairs {
      { file = path },
      { bytes = bytes },
      { source = pieces(bytes, 1000), size = #bytes },
    } do
      local call = call_with(att)
      assert.is_string(pull(call, 7777))
      assert.equals(core.sha256(bytes), call:digest())
      call:close()
    end
  end)

  it("is nil for a body cut short, and restarts with a rewind", function()
    local bytes = files.random_bytes(300000)
    local call = call_with { bytes = bytes }
    assert.is_string(call:read(65536))
    assert.is_nil(call:digest()) -- only part of the content was read
    assert(call:rewind())
    assert.is_string(pull(call))
    assert.equals(core.sha256(bytes), call:digest())
    assert(call:rewind())
    assert.is_nil(call:digest()) -- the last attempt (none yet) read nothing
    call:close()
  end)

  it("is not made for a call without an on_written hook", function()
    local bytes = files.random_bytes(100000)
    local call = plain_call_with { bytes = bytes }
    assert.is_string(pull(call))
    assert.is_nil(call:digest())
    call:close()
  end)

  it("is nil for a source that fails, and for data / data_url attachments", function()
    local call = call_with { source = function() error("boom") end, size = 10 }
    local body, err = pull(call)
    assert.is_nil(body)
    assert.truthy(err:find("boom", 1, true), err)
    assert.is_nil(call:digest())
    call:close()
    call = assert(h.new_call(nil, { attachment = h.attachment() })) -- data (base64)
    assert.is_string(pull(call))
    assert.is_nil(call:digest())
    call:close()
    call = assert(h.new_call(nil, { attachment = h.url_attachment() }))
    assert.is_string(pull(call))
    assert.is_nil(call:digest())
    call:close()
  end)
end)

describe("call:on_written(fn)", function()
  it("runs once per read-out, before the last bytes, with sent < length", function()
    local bytes = files.random_bytes(150000)
    local call = call_with { bytes = bytes }
    local _, _, length = call:request()
    local seen = {}
    call:on_written(function(sent, total)
      local s, t = call:sent()
      seen[#seen + 1] = { sent = sent, total = total, s = s, t = t }
      return true
    end)
    local body = pull(call, 4096)
    assert.equals(length, #body)
    assert.equals(1, #seen)
    assert.equals(length, seen[1].total)
    assert.equals(length, seen[1].t)
    assert.equals(seen[1].s, seen[1].sent)
    assert.truthy(seen[1].sent < length)
    assert.truthy(seen[1].sent > length - 4096 - 1)
    assert.equals(length, (call:sent()))
    -- a second attempt: once more
    assert(call:rewind())
    assert.equals(length, #pull(call))
    assert.equals(2, #seen)
    call:close()
  end)

  it("a raising fn stops the last bytes: the read fails with its message", function()
    local call = call_with { bytes = ("z"):rep(100000) }
    local _, _, length = call:request()
    call:on_written(function() error("journal is full", 0) end)
    local body, err = pull(call)
    assert.is_nil(body)
    assert.equals("on_written raised: journal is full", err)
    assert.truthy((call:sent()) < length)
    assert.is_nil(call:digest())
    call:close()
  end)

  it("false/nil with a message refuses; nothing true refuses too", function()
    local call = call_with { bytes = "abc" }
    call:on_written(function() return nil, "not now" end)
    local body, err = pull(call)
    assert.is_nil(body)
    assert.equals("on_written refused: not now", err)
    call:close()
    call = call_with { bytes = "abc" }
    call:on_written(function() end)
    body, err = pull(call)
    assert.is_nil(body)
    assert.equals("on_written refused: it returned no true value", err)
    call:close()
  end)

  it("fires in push mode (call:read(n, true) / call:feed) before the bytes after the source ends", function()
    local bytes = files.random_bytes(100000)
    local call = call_with { source = pieces(bytes, 30000), size = #bytes }
    local src = assert(call:source())
    local fired = 0
    call:on_written(function(sent, total) fired = fired + 1; assert(sent < total); return true end)
    local parts = {}
    for _ = 1, 1000 do
      local chunk, err = call:read(65536, true)
      assert.is_nil(err)
      if chunk == false then call:feed(src())
      elseif chunk == nil then break
      else parts[#parts + 1] = chunk end
    end
    local _, _, length = call:request()
    assert.equals(length, #table.concat(parts))
    assert.equals(1, fired)
    assert.equals(core.sha256(bytes), call:digest())
    call:close()
  end)

  it("can be removed with nil; refuses a non-function; cannot close the call from inside", function()
    local call = call_with { bytes = "abc" }
    call:on_written(function() return false end)
    call:on_written(nil)
    assert.is_string(pull(call))
    assert.has_error(function() call:on_written(42) end)
    assert(call:rewind())
    call:on_written(function() call:close(); return true end)
    local body, err = pull(call)
    assert.is_nil(body)
    assert.truthy(err:find("close() from its own on_written function", 1, true), err)
    call:close()
  end)

  it("cannot yield: a yield inside it stops the bytes", function()
    local call = call_with { bytes = "abc" }
    call:on_written(function() coroutine.yield(); return true end)
    local co = coroutine.create(function() return pull(call) end)
    local ok, body, err = coroutine.resume(co)
    assert.is_true(ok)
    assert.is_nil(body)
    assert.truthy(err:find("on_written raised", 1, true), err)
    call:close()
  end)

  it("is released with the call (no reference kept)", function()
    local call = call_with { bytes = "abc" }
    local probe = setmetatable({}, { __mode = "k" })
    local fn = function() return true end
    probe[fn] = true
    call:on_written(fn)
    fn = nil -- luacheck: ignore
    call:close()
    call = nil -- luacheck: ignore
    collectgarbage(); collectgarbage()
    assert.is_nil(next(probe))
  end)
end)
