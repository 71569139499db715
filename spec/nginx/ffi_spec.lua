-- The cosocket transport's FFI twins (csrc/lua/lua_call.c's cosocket_ffi,
-- lkombo.c's framing_ffi: what lua/kombo/cosocket.lua calls through
-- LuaJIT's FFI) give what the classic methods give: the same request head
-- and target key, the same body bytes, the same outcome once an attempt is
-- reported, the same framing.  In this process (no nginx); on LuaJIT only
-- (the busted lane that runs on LuaJIT, as nginx's Lua module does).
local has_ffi, ffi = pcall(require, "ffi")
local kombo = require "kombo"
local core = require "kombo.core"
local call_mod = require "kombo.call"
require "kombo.cosocket" -- (declares the structs)

local describe_ffi = has_ffi and describe or pending

describe_ffi("the cosocket transport's FFI functions", function()
  local client, p, op
  setup(function()
    client = kombo.new { api_key = "k", server_url = "http://127.0.0.1:9/base", integration_id = "i",
                         transport = "curl", retries = false }
    p = require("kombo.client").state(client, "attach_to_candidate")
    op = call_mod.OPERATIONS.attach_to_candidate
  end)
  teardown(function() client:close() end)

  local function new_call(size)
    local bytes = ("\1\2\3abc"):rep(math.ceil(size / 6)):sub(1, size)
    return assert(call_mod.prepare(client, p, op, { candidate_id = "c-" .. size,
      body = { attachment = { name = "a.pdf", type = "CV", content_type = "application/pdf", bytes = bytes } } },
      "attach_to_candidate", 2))
  end
  local function fns(call)
    return ffi.cast("const kombo_cosocket_ffi *", getmetatable(call).cosocket_ffi)
  end

  it("request_head and read: the bytes of call:request_head() and call:body()", function()
    local buf, out, last = ffi.new("char[65536]"), ffi.new("double[5]"), ffi.new("int[1]")
    for _, size in ipairs { 1, 2, 3, 100, 1024, 5000, 70000 } do
      local c = new_call(size)
      local f = fns(c)
      local head, base, length, max_body, timeout, connect_timeout = c:request_head()
      local n = f.request_head(c, buf, 65536, out)
      assert.equals(head, ffi.string(buf, n))
      assert.equals(base, ffi.string(buf + n, out[0]))
      assert.same({ length, max_body, timeout, connect_timeout }, { out[1], out[2], out[3], out[4] })
      assert.equals(-1, f.request_head(c, buf, #head, out)) -- too small: the classic call instead
      local whole, parts = c:body(), {}
      for _ = 1, 1000 do
        local got = f.read(c, buf, 777, last)
        assert.is_true(got >= 0)
        if got == 0 then break end
        parts[#parts + 1] = ffi.string(buf, got)
        if last[0] ~= 0 then
          assert.equals(0, f.read(c, buf, 777, last)) -- told with the last chunk
          break
        end
      end
      assert.equals(whole, table.concat(parts))
      -- call:read(max, true, true) says the same
      c:rewind()
      parts = {}
      for _ = 1, 1000 do
        local chunk, err, l = c:read(777, true, true)
        assert.is_nil(err)
        if not chunk then break end
        parts[#parts + 1] = chunk
        if l then
          assert.is_nil(c:read(777, true, true))
          break
        end
      end
      assert.equals(whole, table.concat(parts))
      c:close()
      -- a closed call: the classic call is made (and raises)
      assert.equals(-1, f.request_head(c, buf, 65536, out))
      assert.equals(-1, f.read(c, buf, 10, last))
      assert.equals(-1, f.next(c, 0, out))
    end
  end)

  -- Its read would run Lua (an FFI call must never re-enter Lua): the
  -- classic call:read instead, which hands a source function to Lua.
  it("read declines a body that could call Lua: on_progress, on_written, a source function", function()
    local buf, last = ffi.new("char[4096]"), ffi.new("int[1]")
    local function args(over)
      local a = { candidate_id = "c-lua", body = { attachment = { name = "a.pdf", type = "CV",
        content_type = "application/pdf", bytes = "%PDF-1.4 some bytes" } } }
      for k, v in pairs(over or {}) do a[k] = v end
      return a
    end
    local plain = assert(call_mod.prepare(client, p, op, args(), "attach_to_candidate", 2))
    assert.is_true(fns(plain).read(plain, buf, 4096, last) > 0) -- (the plain body: read)
    plain:close()
    local progress = assert(call_mod.prepare(client, p, op, args { on_progress = function() end },
      "attach_to_candidate", 2))
    assert.equals(-1, fns(progress).read(progress, buf, 4096, last))
    progress:close()
    local written = assert(call_mod.prepare(client, p, op, args(), "attach_to_candidate", 2))
    written:on_written(function() end)
    assert.equals(-1, fns(written).read(written, buf, 4096, last))
    written:close()
    local sent = false
    local sourced = assert(call_mod.prepare(client, p, op, { candidate_id = "c-src", body = { attachment = {
      name = "a.txt", type = "CV", size = 5,
      source = function() if sent then return nil end sent = true return "hello" end } } },
      "attach_to_candidate", 2))
    assert.equals(-1, fns(sourced).read(sourced, buf, 4096, last))
    sourced:close()
  end)

  it("report and next: the outcome call:complete and call:next give", function()
    local delay = ffi.new("double[1]")
    local headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 56\r\n\r\n"
    local cases = {
      { phase = "done", status = 200, headers = headers, body = '{"status":"success","data":{"id":"a"},"warnings":[]}' },
      { phase = "done", status = 503, headers = headers, body = "oops" },
      { phase = "waiting", error = "network", message = "closed" },
      { phase = "sending", error = "timeout", message = "send timed out" },
      { phase = "receiving", status = 200, headers = headers, error = "too_large" },
    }
    local PHASE = { connect = 0, sending = 1, waiting = 2, receiving = 3, done = 4 }
    local ERR = { network = 1, timeout = 2, too_large = 3, aborted = 4, resources = 5, headers = 6 }
    for _, r in ipairs(cases) do
      local a, b = new_call(10), new_call(10)
      local now = core.now()
      assert.equals("send", a:next(now))
      assert.equals(0, fns(b).next(b, now, delay)) -- send
      a:complete(r, now, 1e9)
      local s1, d1 = a:next(now)
      local h, body = r.headers, r.body
      local code = fns(b).report(b, PHASE[r.phase], r.status or 0, h, h and #h or 0, body, body and #body or 0,
        r.error and ERR[r.error] or 0, r.message, now, 1e9, nil, delay)
      assert.equals(s1, ({ [0] = "send", "sleep", "done" })[code])
      if s1 == "sleep" then assert.equals(d1, delay[0]) end
      local ra, rb = a:result(), b:result()
      assert.equals(type(ra.header_block), type(rb.header_block))
      ra.elapsed, rb.elapsed, ra.header_block, rb.header_block = nil, nil, nil, nil
      assert.same(ra, rb)
      a:close()
      b:close()
    end
  end)

  it("framing: core.framing's values", function()
    local f = ffi.cast("const kombo_framing_ffi *", core.framing_ffi).framing
    local out = ffi.new("int[7]")
    local blocks = {
      "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 56\r\n\r\n",
      "HTTP/1.1 200 OK\r\nconnection: CLOSE\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n",
    }
    for _, block in ipairs(blocks) do
      local connection, te, length, differ = core.framing(block)
      f(block, #block, out)
      local conn = connection or ""
      assert.equals(conn:find("close", 1, true) ~= nil, out[0] ~= 0, block)
      assert.equals(conn:find("keep-alive", 1, true) ~= nil, out[1] ~= 0, block)
      assert.equals(te ~= nil and te:find("chunked", 1, true) ~= nil, out[2] ~= 0, block)
      assert.equals(length, out[3] >= 0 and block:sub(out[3] + 1, out[3] + out[4]) or nil, block)
      assert.equals(differ, out[5] ~= 0, block)
      assert.equals(length ~= nil and length:match("^%d+$") ~= nil, out[6] ~= 0, block)
    end
  end)
end)
