-- Results round-trip: the answer is decoded once, in C, from the core's own
-- scan, and a result re-encodes as the answer it came from.
local servers = require "support.servers"
local kombo = require "kombo"
local testing = require "kombo.testing"
local cjson = require "cjson"

local has_integer_type = math.type ~= nil -- Lua 5.3+

describe("results round-trip #integration", function()
  it("kombo.encode_json(res) gives back the positive response, warnings as [] and integers as integers", function()
    local client = servers.client()
    local res, err = client:attach_to_candidate {
      candidate_id = "cand-rt", body = { attachment = servers.attachment() },
    }
    assert.is_nil(err, err and tostring(err))
    local text = assert(kombo.encode_json(res))
    assert.truthy(text:find('"warnings":[]', 1, true), text)
    assert.is_nil(text:find('"http"', 1, true), "res.http is not part of the answer: " .. text)
    -- the same value, decoded again
    assert.same(res, testing.decode_json(text))
    if has_integer_type then
      assert.equals("integer", math.type(res.data.size_bytes))
      assert.equals("integer", math.type(res.http.status))
    end
    assert.equals(kombo.null, res.data.remote_id)
    assert.equals("table", type(res.warnings))
    assert.equals(0, #res.warnings)
  end)

  it("cjson.encode(res) keeps [] where lua-cjson has array_mt (OpenResty's), never adds fields", function()
    local client = servers.client()
    local res = assert(client:attach_to_candidate {
      candidate_id = "cand-rt2", body = { attachment = servers.attachment() },
    })
    local text = cjson.encode(res)
    assert.is_nil(text:find('"http"', 1, true), text)
    if cjson.array_mt then
      assert.truthy(text:find('"warnings":[]', 1, true), text)
    else
      -- Debian's lua-cjson 2.1.0 writes every empty table as {}: README says so.
      assert.truthy(text:find('"warnings":{}', 1, true), text)
    end
  end)
end)

-- A client's successes share one metatable, and each finds its own
-- res.http (its header block, then the table built from it) in a store
-- keyed by the result: nothing of one call may show in another's.
describe("res.http of several results of one client #integration", function()
  for _, hooked in ipairs { false, true } do
    it(("each gives its own exchange, read in any order%s"):format(hooked and " (hooks: dressed in Lua)" or ""),
      function()
        local client = servers.client { hooks = hooked and { after_response = function() end } or nil }
        local function upload(id)
          return assert(client:attach_to_candidate { candidate_id = id, body = { attachment = servers.attachment() } })
        end
        local retried, plain = upload("scenario-503-once"), upload("cand-http")
        assert.equals(1, plain.http.attempts)
        assert.equals(2, retried.http.attempts)
        assert.equals(getmetatable(plain), getmetatable(retried))
        assert.are_not.equal(plain.http, retried.http)
        assert.equals(plain.http, plain.http)
        assert.equals(200, retried.http.status)
        assert.is_nil(rawget(plain, "http"))
        assert.is_nil(next(getmetatable(plain), next(getmetatable(plain)))) -- __index alone
        client:close()
      end)
  end
end)

describe("the successes' shared metatables #integration", function()
  -- Each refers to its key (its __index): with weak keys only, Lua 5.1 and
  -- LuaJIT (no ephemerons) would keep one for every client ever made.
  it("are not kept for clients that are gone", function()
    local shared = debug.getregistry()["kombo.header_block"][2]
    local function entries()
      collectgarbage()
      collectgarbage()
      local n = 0
      for _ in pairs(shared) do n = n + 1 end
      return n
    end
    local before = entries()
    for _ = 1, 3 do
      local client = servers.client()
      assert(client:attach_to_candidate { candidate_id = "cand-gone", body = { attachment = servers.attachment() } })
      client:close()
    end
    assert.is_true(entries() <= before)
  end)
end)

describe("kombo.encode_json", function()
  local cases = {
    '{"status":"success","data":{"results":[]},"warnings":[]}',
    '{"a":[1,2,3],"b":{"c":[{"d":null}]},"e":true,"f":false}',
    '{"n":9007199254740993,"m":-42,"x":0.5}',
    '[]', '[[],[{}]]', '"text"', '12', 'null',
  }
  for _, text in ipairs(cases) do
    it("re-encodes " .. text .. " as the same JSON value", function()
      local v = testing.decode_json(text)
      local again = assert(kombo.encode_json(v))
      assert.same(v, testing.decode_json(again))
      assert.equals(#text:gsub("%s", ""), #again, again)
    end)
  end

  it("refuses what JSON cannot hold, naming it", function()
    local v, msg = kombo.encode_json({ a = { f = print } })
    assert.is_nil(v)
    assert.matches("value.a.f cannot be sent as JSON", msg, 1, true)
  end)
end)
