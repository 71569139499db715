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

  -- A finalizer can run inside any allocation.  One that closes the client
  -- while prepare allocates its call object (before the call counts as
  -- alive) left prepare going on with the freed core client: a crash.
  -- The collector always running (pause 0) and a varying number of small
  -- allocations before each prepare land the finalizer on that allocation
  -- in some rounds (about 1 in 200 on Lua 5.4, where this failed with a
  -- segmentation fault before the fix; on 5.3 the finalizer mostly runs
  -- before prepare starts, and 5.1 runs no finalizer of a table).
  it("a finalizer that closes the client while prepare allocates: 'closed', never the freed client", function()
    local core = require "kombo.core"
    local op, args = h.call_args(h.request())
    local made, refused = 0, 0
    local pause = collectgarbage("setpause", 0) -- (5.1 to 5.4; deprecated in 5.4, still there)
    local ok, err = pcall(function()
      for round = 1, 5000 do
        local handle = assert(core.client(h.config()))
        setmetatable({}, { __gc = function() handle:close() end })
        for _ = 1, round % 41 do local _ = {} end
        local called, call = pcall(handle.prepare, handle, op, args)
        if called then
          made = made + 1
          call:close()
        else
          assert.matches("kombo client is closed", tostring(call), 1, true)
          refused = refused + 1
        end
      end
    end)
    collectgarbage("setpause", pause)
    collectgarbage()
    assert(ok, err)
    assert.equals(5000, made + refused)
  end)
end)
