-- The headers and Content-Length of a prepared call (call:request()).
local kombo = require "kombo"
local core = require "kombo.core"
local h = require "unit.helpers"

local function request_of(request_over, config_over)
  local call, problems = h.prepare(request_over, config_over)
  assert(call, h.dump(problems))
  local url, headers, length = call:request()
  local body = call:body()
  call:close()
  return url, headers, length, body
end

describe("call:request() headers", function()
  it("are exactly Authorization, X-Integration-Id, Content-Type, Accept, User-Agent", function()
    local _, headers = request_of()
    table.sort(headers)
    assert.are.same({
      "Accept: application/json",
      "Authorization: Bearer " .. h.API_KEY,
      "Content-Type: application/json",
      "User-Agent: kombo-lua-spec",
      "X-Integration-Id: " .. h.INTEGRATION_ID,
    }, headers)
  end)

  it("carry the call's integration_id over the config's", function()
    local _, headers = request_of({ integration_id = "call-int" })
    assert.equals("call-int", h.header_map(headers)["x-integration-id"])
  end)

  it("carry the config's integration_id when the call has none", function()
    local _, headers = request_of({}, { integration_id = "cfg-int" })
    assert.equals("cfg-int", h.header_map(headers)["x-integration-id"])
  end)

  it("carry a UTF-8 integration_id unchanged", function()
    local id = "workday:" .. h.hex "C3 A9" .. " 1"
    local _, headers = request_of({ integration_id = id })
    assert.equals(id, h.header_map(headers)["x-integration-id"])
  end)

  it("are the same for applications", function()
    local _, headers = request_of({ target = "application" })
    local map, n = h.header_map(headers)
    assert.equals(5, n)
    assert.equals("Bearer " .. h.API_KEY, map.authorization)
  end)

  it("omit User-Agent when the config has none", function()
    local _, headers = request_of({}, { user_agent = h.NONE })
    local map, n = h.header_map(headers)
    assert.equals(4, n)
    assert.is_nil(map["user-agent"])
  end)

  it("have a Content-Length equal to #call:body()", function()
    local _, _, length, body = request_of()
    assert.equals(#body, length)
  end)

  it("have a Content-Length equal to #call:body() with remote_fields and data_url", function()
    local _, _, length, body = request_of { attachment = h.url_attachment(),
      remote_fields = { greenhouse = { post_headers = { ["On-Behalf-Of"] = "u" } }, n = 1.5 } }
    assert.equals(#body, length)
  end)

  it("have a Content-Length in bytes, not characters, for UTF-8", function()
    local _, _, length, body = request_of { attachment = h.attachment { name = h.hex "F0 9F 98 80" } }
    assert.equals(#body, length)
  end)

  it("give a Content-Length that prints as an integer (no \".0\")", function()
    local _, _, length, body = request_of()
    assert.equals(tostring(#body), tostring(length))
  end)
end)

describe("headers through the public API", function()
  local rec
  before_each(function()
    rec = h.send(h.client(), "attach_to_candidate", h.args())
  end)

  it("are exactly the five API headers", function()
    local map, n = h.header_map(rec.headers)
    assert.equals(5, n)
    assert.are.same({ "accept", "authorization", "content-type", "user-agent", "x-integration-id" },
      (function()
        local keys = {}
        for k in pairs(map) do keys[#keys + 1] = k end
        table.sort(keys)
        return keys
      end)())
  end)

  it("send Authorization: Bearer <key>", function()
    assert.equals("Bearer " .. h.API_KEY, h.header_map(rec.headers).authorization)
  end)

  it("send X-Integration-Id", function()
    assert.equals(h.INTEGRATION_ID, h.header_map(rec.headers)["x-integration-id"])
  end)

  it("send Content-Type: application/json", function()
    assert.equals("application/json", h.header_map(rec.headers)["content-type"])
  end)

  it("send Accept: application/json", function()
    assert.equals("application/json", h.header_map(rec.headers).accept)
  end)

  it("send User-Agent kombo-lua/0.1.0 (<Lua>; libcurl/<version>)", function()
    local ua = h.header_map(rec.headers)["user-agent"]
    assert.matches("^kombo%-lua/0%.1%.0 %(.+; libcurl/%d", ua)
    assert.matches(core.curl_version, ua, 1, true)
    assert.equals("0.1.0", kombo.VERSION)
  end)

  it("send a User-Agent naming the running Lua", function()
    local ua = h.header_map(rec.headers)["user-agent"]
    local lua_name = (type(jit) == "table" and jit.version) or _VERSION
    assert.matches("(" .. lua_name .. "; ", ua, 1, true)
  end)

  it("send the user_agent option instead when given", function()
    local r = h.send(h.client { user_agent = "my-app/2.0" }, "attach_to_candidate", h.args())
    assert.equals("my-app/2.0", h.header_map(r.headers)["user-agent"])
  end)

  it("give a Content-Length equal to the body's size", function()
    assert.equals(#rec.body, rec.length)
  end)
end)

-- issue 19: one place (the core, kombo_request_resolve) decides the
-- integration id: the call's, else the client's option, else
-- KOMBO_INTEGRATION_ID as read when the client was made.  The preflight
-- request and its cache ask the prepared call (call:integration_id()).
describe("the integration id, decided once", function()
  local function sent_ids(client, args)
    local records = h.capture(function() client:attach_to_candidate(args) end)
    local ids = {}
    for i, rec in ipairs(records) do ids[i] = h.header_map(rec.headers)["x-integration-id"] end
    return ids
  end

  local cases = {
    { "the call's over the client's", { integration_id = "opt-int" }, {}, { integration_id = "call-int" },
      "call-int" },
    { "the client's option", { integration_id = "opt-int" }, {}, {}, "opt-int" },
    { "the environment's, as read when the client was made", { integration_id = h.NONE },
      { KOMBO_INTEGRATION_ID = "env-int" }, {}, "env-int" },
  }
  for _, case in ipairs(cases) do
    it(("is %s, for the upload and its preflight alike"):format(case[1]), function()
      local client
      h.with_env(case[3], function()
        client = kombo.new(h.merge({ api_key = h.API_KEY, server_url = h.OFFLINE_URL, preflight = true },
          case[2]))
      end)
      h.with_env({ KOMBO_INTEGRATION_ID = "later-int" }, function()
        local ids = sent_ids(client, h.args(h.merge(case[4], { body = { attachment = h.attachment() } })))
        assert.are.same({ case[5], case[5] }, ids) -- the restrictions request, then the upload
      end)
      client:close()
    end)
  end

  it("is what call:integration_id() says; \"\" for an operation without one", function()
    local call = assert(h.prepare({ integration_id = "call-int" }))
    assert.equals("call-int", call:integration_id())
    call:close()
    call = assert(h.prepare({}, { integration_id = "cfg-int" }))
    assert.equals("cfg-int", call:integration_id())
    call:close()
    local handle = assert(core.client(h.config()))
    call = assert(handle:prepare("check_api_key", {}))
    assert.equals("", call:integration_id())
    call:close()
  end)
end)

-- issue 19: one rule finds a header by name (headers.c,
-- kombo_header_name_is): the whole name, ASCII letters in either case, a
-- name with a blank or control byte is no field.  The curl transport's
-- framing headers, core.header_values (the cosocket transport's) and the
-- result's headers (core.parse_headers) all go through it.
describe("a header name", function()
  local function block(line) return "HTTP/1.1 200 OK\r\n" .. line .. "\r\nOther: x\r\n\r\n" end
  local cases = {
    { "Content-Length: 5", "5" },
    { "content-length: 5", "5" },
    { "CONTENT-LENGTH:5", "5" },
    { "cOnTeNt-LeNgTh: \t5 \t", "5" },
    { "Content-Length : 5", nil },      -- a blank before the colon: no field
    { "Content-Length\t: 5", nil },
    { " Content-Length: 5", nil },      -- a continuation line (obs-fold)
    { "Content-Lengths: 5", nil },      -- the name is a prefix of another
    { "Content-Lengt: 5", nil },        -- ... or another is a prefix of the name
    { "X-Content-Length: 5", nil },
    { "Content_Length: 5", nil },
    { "Content-Length 5", nil },        -- no colon
    { "Content-Length: ", "" },
  }
  for _, case in ipairs(cases) do
    it(("%q is %s"):format(case[1], case[2] and "Content-Length" or "not Content-Length"), function()
      local b = block(case[1])
      assert.equals(case[2], core.header_values(b, "content-length")[1])
      assert.equals(case[2], core.header_values(b, "Content-Length")[1])
      assert.equals(case[2], core.parse_headers(b)["content-length"])
      assert.equals(case[2], (select(3, core.framing(b))))
    end)
  end

  it("gives every value of a repeated header, in order", function()
    local b = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\ncontent-length:  6\r\n\r\n"
    assert.are.same({ "5", "6" }, core.header_values(b, "content-length"))
    assert.are.same({}, core.header_values(b, "content-type"))
  end)

  it("is looked up in the final answer's block only", function()
    local b = "HTTP/1.1 100 Continue\r\nContent-Length: 9\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert.are.same({ "5" }, core.header_values(b, "content-length"))
    local connection, te, length, differ = core.framing(b)
    assert.is_nil(connection)
    assert.is_nil(te)
    assert.equals("5", length)
    assert.is_false(differ)
  end)

  it("core.framing: the cosocket transport's three framing headers in one call", function()
    local b = "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\ntransfer-encoding:  Gzip, CHUNKED \r\n"
      .. "Content-Length: 5\r\nConnection: close\r\ncontent-length: 5\r\n\r\n"
    local connection, te, length, differ = core.framing(b)
    assert.equals("keep-alive", connection) -- the first, ASCII lower-cased, trimmed
    assert.equals("gzip, chunked", te)
    assert.equals("5", length)
    assert.is_false(differ)                   -- the same value twice
    assert.is_true(select(4, core.framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n")))
    assert.is_true(select(4, core.framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: \r\n\r\n")))
    assert.equals("", (core.framing("HTTP/1.1 200 OK\r\nConnection:\r\n\r\n"))) -- present, empty
    -- ASCII letters only ("\195\137" is U+00C9, kept as sent)
    assert.equals("\195\137t\195\169", (core.framing("HTTP/1.1 200 OK\r\nConnection: \195\137T\195\169\r\n\r\n")))
    -- a value longer than the binding's 64-byte stack copy
    local long = ("Keep-Alive, "):rep(8)
    assert.equals(long:lower(), (core.framing("HTTP/1.1 200 OK\r\nConnection: " .. long .. "x\r\n\r\n"):sub(1, -2)))
  end)
end)

-- The cosocket transport's request head, rendered by the core in one call:
-- the same bytes as the Lua rendering of call:request()'s URL and headers
-- it replaces (request line, Host, headers, Content-Length, Connection).
describe("call:request_head()", function()
  local function lua_head(call)
    local url, headers, length, _, method = call:request()
    local authority, path = url:match("^https?://([^/]*)(.*)$")
    if path == "" then path = "/" end
    local t = { method, " ", path, " HTTP/1.1\r\nHost: ", authority, "\r\n" }
    for _, line in ipairs(headers) do t[#t + 1] = line .. "\r\n" end
    if length > 0 or method ~= "GET" then t[#t + 1] = ("Content-Length: %.0f\r\n"):format(length) end
    t[#t + 1] = "Connection: keep-alive\r\n\r\n"
    return table.concat(t), url:match("^(https?://[^/]*)")
  end

  local function check(call)
    local want_head, want_base = lua_head(call)
    local head, base, length, max_body, timeout, connect_timeout = call:request_head()
    local _, _, want_length, want_max = call:request()
    local want_timeout, want_connect = call:timeouts()
    assert.equals(want_head, head)
    assert.equals(want_base, base)
    assert.equals(want_length, length)
    assert.equals(want_max, max_body)
    assert.equals(want_timeout, timeout)
    assert.equals(want_connect, connect_timeout)
    call:close()
  end

  it("an upload (POST with a body)", function()
    check(assert(h.prepare()))
  end)

  it("a head larger than its first buffer (1 KiB): written again at its size", function()
    local call = assert(h.prepare())
    assert(call:set_headers { ["X-Trace"] = ("t"):rep(3000) })
    check(call)
  end)

  it("a finalizer that closes the call while a long head is rendered: an error, nothing read of the closed call", function()
    -- (the collector steps at every allocation: the head's buffer and its
    -- strings run the finalizers; under ASan and valgrind a read of the
    -- freed call fails the suite)
    local function pause(p)
      if _VERSION == "Lua 5.4" then collectgarbage("incremental", p, 100) else collectgarbage("setpause", p) end
    end
    local heads, refused = 0, 0
    for _ = 1, 200 do
      local call = assert(h.prepare())
      assert(call:set_headers { ["X-Trace"] = ("t"):rep(3000) })
      for _ = 1, 50 do setmetatable({}, { __gc = function() call:close() end }) end
      pause(1)
      local ok, head = pcall(call.request_head, call)
      pause(200)
      if ok then
        heads = heads + 1
        assert.equals("string", type(head))
      else
        refused = refused + 1
        assert.truthy(tostring(head):find("closed", 1, true), tostring(head))
      end
    end
    assert.equals(200, heads + refused)
  end)

  it("a GET: no Content-Length", function()
    local handle = assert(core.client(h.config()))
    check(assert(handle:prepare("get_candidate_attachments", { candidate_id = "c 1/x" })))
  end)

  it("a server URL with a port and a path, and one without a path", function()
    check(assert(h.prepare({}, { server_url = "http://127.0.0.1:8080/base/v1" })))
    local handle = assert(core.client(h.config { server_url = "https://example.com" }))
    check(assert(handle:prepare("check_api_key", {})))
  end)

  it("a head larger than the binding's 1 KiB stack buffer", function()
    check(assert(h.prepare({}, { server_url = "http://127.0.0.1:8080/" .. ("p"):rep(1500) })))
  end)

  it("core.framing_flags: what the transport decides from core.framing's values", function()
    local blocks = {
      "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 56\r\n\r\n",
      "HTTP/1.1 200 OK\r\nconnection: CLOSE\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:  5e1 \r\nConnection: keep-alive, close\r\n\r\n",
      "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n",
    }
    for _, block in ipairs(blocks) do
      local connection, te, length, differ = core.framing(block)
      connection = connection or ""
      assert.same({ connection:find("close", 1, true) ~= nil, connection:find("keep-alive", 1, true) ~= nil,
        te ~= nil and te:find("chunked", 1, true) ~= nil, length, differ,
        length ~= nil and length:match("^%d+$") ~= nil }, { core.framing_flags(block) }, block)
    end
  end)
end)
