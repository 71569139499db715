-- A success's header block (csrc/lua/lua_call.c, push_header_block): a bare
-- userdata kept for res.http, holding the answer's header block without its
-- first status line and its closing blank line (no reading of the block takes
-- a field from either).  What res.http gives of it must be what the whole
-- block gives: its headers, redacted, and its limits.
local h = require "unit.helpers"
local core = require "kombo.core"
local errors = require "kombo.errors"

local SUCCESS = '{"status":"success","data":{"id":"att_1"},"warnings":[]}'

-- A success answered with the raw header block `block`, dressed as the
-- library dresses it; also what the store holds for it.
local function success_with(block)
  local call = assert(h.new_call())
  local raw = h.drive(call, { { status = 200, headers = block, body = SUCCESS, phase = "done" } })
  call:close()
  assert.equals("ok", raw.kind)
  local res = errors.from_result(raw, h.API_KEY)
  return res, core.success_store[res]
end

local BLOCKS = {
  plain = "HTTP/1.1 200 OK\r\nServer: nginx\r\nConcurrency-Limit: 3\r\nX-Id: a\r\n\r\n",
  continue = "HTTP/1.1 100 Continue\r\nConcurrency-Limit: 9\r\n\r\n"
    .. "HTTP/1.1 200 OK\r\nConcurrency-Limit: 3\r\nX-Id: b\r\n\r\n",
  lf_only = "HTTP/1.1 200 OK\nRateLimit-Remaining: 7\nX-Id: c\n\n",
  no_blank_line = "HTTP/1.1 200 OK\r\nX-Id: d",
  no_status_line = "X-Id: e\r\nRateLimit-Reset: 4\r\n\r\n",
  status_line_only = "HTTP/1.1 200 OK\r\n\r\n",
  key_echoed = "HTTP/1.1 200 OK\r\nX-Echo: " .. h.API_KEY .. "\r\n\r\n",
}

describe("a success's header block", function()
  for name, block in pairs(BLOCKS) do
    it("gives res.http what the whole block gives (" .. name .. ")", function()
      local res = success_with(block)
      assert.same(core.parse_headers(errors.redact(block, h.API_KEY)), res.http.headers)
      assert.same(core.limits(block), res.http.limits)
      assert.equals(200, res.http.status)
      assert.equals(1, res.http.attempts)
    end)
  end

  it("keeps the block without its status line and closing blank line", function()
    local _, stored = success_with(BLOCKS.plain)
    assert.equals("userdata", type(stored))
    assert.is_nil(getmetatable(stored)) -- (none set per call)
    local bytes, status, attempts, elapsed = core.header_block_read(stored)
    assert.equals("Server: nginx\r\nConcurrency-Limit: 3\r\nX-Id: a\r\n", bytes)
    assert.equals(200, status)
    assert.equals(1, attempts)
    assert.is_number(elapsed)
    -- an earlier block stays (its fields are not the final answer's)
    _, stored = success_with(BLOCKS.continue)
    assert.equals("Concurrency-Limit: 9\r\n\r\nHTTP/1.1 200 OK\r\nConcurrency-Limit: 3\r\nX-Id: b\r\n",
      (core.header_block_read(stored)))
    _, stored = success_with(BLOCKS.lf_only)
    assert.equals("RateLimit-Remaining: 7\nX-Id: c\n", (core.header_block_read(stored)))
    _, stored = success_with(BLOCKS.no_status_line)
    assert.equals("X-Id: e\r\nRateLimit-Reset: 4\r\n", (core.header_block_read(stored)))
  end)

  it("is read only from a userdata without a metatable", function()
    for _, v in ipairs { "HTTP/1.1 200 OK\r\n\r\n", {}, 1, io.stdout } do
      assert.has_error(function() core.header_block_read(v) end)
    end
    assert.has_error(function() core.header_block_read() end)
  end)
end)
