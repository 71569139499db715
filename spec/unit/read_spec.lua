-- call:read(max): the body in batches of the size a transport asks for (the
-- cosocket transport sends 64 KiB at a time), not of LUAL_BUFFERSIZE.
local h = require "unit.helpers"

describe("call:read", function()
  local function call_with(bytes)
    return assert(h.new_call(nil, { attachment = { name = "big.bin", type = "CV", bytes = bytes } }))
  end

  it("returns up to 64 KiB per read by default, and exactly what was asked for", function()
    local call = call_with(("x"):rep(200000))
    local _, _, length = call:request()
    assert.equals(65536, #call:read())
    assert.equals(65536, #call:read(65536))
    assert.equals(1000, #call:read(1000))
    local total = 65536 * 2 + 1000
    for _ = 1, 100 do
      local chunk = call:read(65536)
      if not chunk then break end
      total = total + #chunk
    end
    assert.equals(length, total)
    call:close()
  end)

  it("the batches join into call:body()", function()
    local call = call_with(("y"):rep(70000))
    local whole = call:body()
    local parts = {}
    for _ = 1, 10 do
      local chunk = call:read(65536)
      if not chunk then break end
      parts[#parts + 1] = chunk
    end
    assert.equals(whole, table.concat(parts))
    call:close()
  end)
end)

describe("a call outlives the close of its client", function()
  it("a closed client stays alive for the call objects that point into it", function()
    local core = require "kombo.core"
    local handle = assert(core.client(h.config()))
    local op, args = h.call_args(h.request())
    local call = assert(handle:prepare(op, args))
    handle:close() -- e.g. kombo.configure() while an upload waits on a cosocket
    local url, headers = call:request()
    assert.equals(h.OFFLINE_URL .. "/ats/candidates/cand-1/attachments", url)
    assert.equals("Authorization: Bearer " .. h.API_KEY, headers[1])
    assert.is_string(call:body())
    call:close()
    assert.has_error(function() handle:prepare(op, args) end, "kombo client is closed")
  end)
end)
