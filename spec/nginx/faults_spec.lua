-- Fault injection and secrets for the cosocket transport: the test
-- app (app.conf.in, rendered as in support.start_app) gets one more
-- location, /faults, whose handler is written into the runtime dir; it
-- uploads through kombo-lua (transport "cosocket") to the misbehaving
-- server (spec/support/badserver.lua) or to the stand-in, optionally with a
-- multi-MB bytes= attachment and the `debug` hook, and answers JSON.
local S = require "nginx.support"
local badserver = require "support.badserver"
local servers = require "support.servers"
local cjson = require "cjson"

local MiB = 1024 * 1024
local KEY = "kombo_sk_live_Zq8vN3rT6yW1pL4xC7bM0kH5jG2fD9sA"

local HANDLER = [=[
local cjson = require "cjson.safe"
local kombo = require "kombo"
local describe = require "describe"
local M = {}
function M.run()
  ngx.req.read_body()
  local q = cjson.decode(ngx.req.get_body_data() or "{}") or {}
  local lines = {}
  local o = { api_key = q.api_key or "test-key", server_url = q.server_url, transport = "cosocket",
              integration_id = q.integration or "faults", timeout = q.timeout or 10, retries = false,
              max_response_bytes = q.max_response_bytes }
  if type(q.retries) == "table" then o.retries = q.retries end
  if q.debug then o.debug = function(line) lines[#lines + 1] = line end end
  local c = kombo.new(o)
  local results = {}
  for i = 1, math.min(q.n or 1, 10) do
    if i > 1 and q.pause then ngx.sleep(q.pause) end
    local att = { name = "cv.pdf", type = "CV", content_type = "application/pdf", data = "JVBERi0xLjQK" }
    if q.size then att = { name = "big.bin", type = "CV", bytes = string.rep("K", q.size) } end
    if q.source_size then -- a one-shot source: it cannot be read a second time
      local left = q.source_size
      att = { name = "big.bin", type = "CV", content_type = "application/octet-stream", size = left,
              source = function()
                if left == 0 then return nil end
                local n = math.min(left, 8192)
                left = left - n
                return string.rep("S", n)
              end }
    end
    local t0 = ngx.now()
    local ok, res, err = pcall(c.attach_to_candidate, c,
      { candidate_id = q.candidate or "cand-ngx", body = { attachment = att } })
    ngx.update_time()
    local r = ok and describe(res, err) or { ok = false, raised = tostring(res) }
    if ok and type(err) == "table" then r.err.headers = err.headers end
    r.wall = ngx.now() - t0
    results[i] = r
  end
  local body = cjson.encode({ results = results, lines = lines, client = tostring(c) })
  ngx.header["Content-Type"] = "application/json"
  ngx.print(body)
end
return M
]=]

-- /raw/<mode>/...: answers with bytes written to the raw downstream
-- socket (ngx.req.socket(true)), for framing cases nginx itself would not
-- produce.  Every answer ends with Connection: close.
local RAW_HANDLER = [=[
local M = {}
local SUCCESS = '{"status":"success","data":{"id":"att_raw","remote_id":null,"candidate_id":"c",'
  .. '"name":"cv.pdf","content_type":"application/pdf","type":"CV","size_bytes":9},"warnings":[]}'
local function head(extra)
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n" .. extra
end
local ANSWERS = {
  -- Lua's tonumber() reads "0x37" as 55: the exact length of SUCCESS... were it digits
  ["cl-hex"] = head(("Content-Length: 0x%x\r\n\r\n"):format(#SUCCESS)) .. SUCCESS,
  -- 10500 header lines in 52 KiB (under max_header_bytes), the framing headers last
  ["many-headers"] = "HTTP/1.1 200 OK\r\n" .. ("a:1\r\n"):rep(10500)
    .. ("Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"):format(#SUCCESS)
    .. SUCCESS,
  -- a 70 KB header block (over max_header_bytes = 65536)
  ["huge-headers"] = head(("X-Filler: %s\r\n"):format(("f"):rep(1000)):rep(70)
    .. ("Content-Length: %d\r\n\r\n"):format(#SUCCESS)) .. SUCCESS,
  -- chunked with trailers, bare LF line ends in the head
  ["trailers"] = "HTTP/1.1 200 OK\nContent-Type: application/json\nTransfer-Encoding: chunked\n"
    .. "Connection: close\n\n"
    .. ("%x\r\n%s\r\n"):format(#SUCCESS - 10, SUCCESS:sub(1, -11))
    .. ("%x\r\n%s\r\n"):format(10, SUCCESS:sub(-10))
    .. "0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
}
function M.run()
  ngx.req.read_body()
  local mode = ngx.var.uri:match("^/raw/([^/]+)")
  if mode == "echo-head" then -- the request's head as the body
    local h = ngx.req.raw_header()
    ANSWERS[mode] = head(("Content-Length: %d\r\n\r\n"):format(#h)) .. h
  end
  local sock = assert(ngx.req.socket(true))
  local answer = ANSWERS[mode] or "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
  assert(sock:send(answer))
  return ngx.exit(444)
end
-- POST /fakecall {url=, method=}: cosocket.perform() on a stand-in for the
-- core's call object whose request() gives a 5th value, the method, and no
-- body; answers the response table.
function M.fake_call()
  ngx.req.read_body()
  local cjson = require "cjson.safe"
  local q = cjson.decode(ngx.req.get_body_data() or "{}") or {}
  local steps, resp = 0, nil
  local method = q.method ~= cjson.null and q.method or nil
  local call = {
    request = function() return q.url, { "X-Test: 1" }, 0, 65536, method end,
    read = function() return nil end,
    rewind = function() return true end,
    timeouts = function() return 5, 10 end, -- (the call's: cosocket.perform reads them there)
    next = function() steps = steps + 1; return steps == 1 and "attempt" or "done" end,
    -- (a copy, as the core makes: the transport reuses the table it gave)
    complete = function(_, r) resp = { status = r.status, body = r.body, error = r.error, message = r.message } end,
    result = function() return resp end,
  }
  local r = require("kombo.cosocket").perform(call, { timeout = 5 })
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode({ status = r.status, body = r.body, error = r.error or cjson.null,
                           message = r.message or cjson.null }))
end
return M
]=]

local APP, STANDIN, srv

local function start_app(standin)
  local dir = S.tmpdir("nginx-faults")
  S.make_certs(dir)
  S.write_file(dir .. "/faults_handler.lua", HANDLER)
  S.write_file(dir .. "/raw_handler.lua", RAW_HANDLER)
  local ports = { PORT = S.free_port(), TLS_PORT = S.free_port(), BADTLS_PORT = S.free_port() }
  local tpl = assert(S.read_file(S.ROOT .. "/spec/nginx/app.conf.in"))
  local subst = {
    PORT = ports.PORT, TLS_PORT = ports.TLS_PORT, BADTLS_PORT = ports.BADTLS_PORT,
    PREFIX = dir, ROOT = S.ROOT, STANDIN = standin,
    USER_DIRECTIVE = S.is_root() and "user root root;" or "",
  }
  local conf = tpl:gsub("@([A-Z_]+)@", function(k) return subst[k] and tostring(subst[k]) end)
  local n1, n2
  conf, n1 = conf:gsub('lua_package_path "', 'lua_package_path "' .. dir .. '/?.lua;', 1)
  conf, n2 = conf:gsub("(\n%s*location = /ping {)",
    "\n        location = /faults {\n            content_by_lua_block { require(\"faults_handler\").run() }\n        }"
    .. "\n        location = /fakecall {"
    .. "\n            content_by_lua_block { require(\"raw_handler\").fake_call() }\n        }"
    .. "\n        location /raw/ {"
    .. "\n            content_by_lua_block { require(\"raw_handler\").run() }\n        }%1", 1)
  assert(n1 == 1 and n2 == 1, "app.conf.in changed: cannot add the /faults location")
  S.write_file(dir .. "/nginx.conf", conf)
  local inst = S.start_nginx(dir, dir .. "/nginx.conf", ("http://127.0.0.1:%d/ping"):format(ports.PORT))
  inst.url = "http://127.0.0.1:" .. ports.PORT
  return inst
end

local function faults(q)
  return S.json("POST", APP.url .. "/faults", q, 60)
end

local function since(mode, before)
  local all = badserver.requests(srv, mode)
  local mine = {}
  for i = before + 1, #all do mine[#mine + 1] = all[i] end
  return mine
end

local function err_of(r, i)
  local x = r.results[i or 1]
  assert.is_table(x.err, cjson.encode(x))
  return x.err
end

describe("cosocket transport: fault injection", function()
  setup(function()
    S.ensure_lib51()
    STANDIN = S.standin()
    srv = badserver.start(300)
    local ok, inst = pcall(start_app, STANDIN)
    if not ok then badserver.stop(srv); S.stop_standin(); error(inst, 0) end
    APP = inst
  end)

  teardown(function()
    S.stop_nginx(APP)
    badserver.stop(srv)
    S.stop_standin()
  end)

  it("reset before the status line: network, unknown, not retried by default", function()
    local before = #badserver.requests(srv, "reset-before-status")
    local e = err_of(faults { server_url = badserver.url(srv, "reset-before-status"),
                              retries = { max_attempts = 3, initial_interval = 0.01 } })
    assert.equals("network", e.kind)
    assert.equals("unknown", e.outcome)
    assert.equals(1, e.attempts)
    assert.matches("after the request was sent", e.message, 1, true)
    assert.equals(1, #since("reset-before-status", before))
  end)

  it("reset before the status line with retry_unsafe: 3 attempts on 3 connections", function()
    local before = #badserver.requests(srv, "reset-before-status")
    local e = err_of(faults { server_url = badserver.url(srv, "reset-before-status"),
                              retries = { max_attempts = 3, initial_interval = 0.01, retry_unsafe = true } })
    assert.equals("network", e.kind)
    assert.equals(3, e.attempts)
    local mine = since("reset-before-status", before)
    assert.equals(3, #mine)
    assert.equals(3, badserver.connections(mine))
  end)

  it("reset while an 8 MiB bytes= body is being sent: network, unknown", function()
    local before = #badserver.requests(srv, "reset-during-body")
    local e = err_of(faults { server_url = badserver.url(srv, "reset-during-body"), size = 8 * MiB })
    assert.equals("network", e.kind)
    assert.equals("unknown", e.outcome)
    assert.equals(1, e.attempts)
    assert.matches("while the request was being sent", e.message, 1, true)
    local mine = since("reset-during-body", before)
    assert.equals(1, #mine)
    assert.is_true(mine[1].got < mine[1].length)
  end)

  it("reset in the response headers: network, unknown, 'while the response was arriving'", function()
    local e = err_of(faults { server_url = badserver.url(srv, "reset-in-headers") })
    assert.equals("network", e.kind)
    assert.equals("unknown", e.outcome)
    assert.matches("while the response was arriving", e.message, 1, true)
  end)

  it("a garbage status line after the whole request: network, unknown, sent once", function()
    local before = #badserver.requests(srv, "garbage-status")
    local e = err_of(faults { server_url = badserver.url(srv, "garbage-status"),
                              retries = { max_attempts = 3, initial_interval = 0.01 } })
    assert.equals("network", e.kind)
    assert.equals("unknown", e.outcome)
    assert.equals(1, #since("garbage-status", before))
  end)

  it("eleven 1xx answers before the 200: success, as with libcurl", function()
    local r = faults { server_url = badserver.url(srv, "interim-flood") }
    assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
    assert.equals(200, r.results[1].http.status)
  end)

  it("a connection is pooled only after a complete answer: the next upload gets its own", function()
    -- interim-flood then error-413 on the same host:port, so the same pool
    faults { server_url = badserver.url(srv, "interim-flood") }
    local e = err_of(faults { server_url = badserver.url(srv, "error-413") })
    assert.equals("api", e.kind)
    assert.equals(413, e.status)
  end)

  describe("response framing", function()
    local function raw(mode) return faults { server_url = APP.url .. "/raw/" .. mode } end

    it("a Content-Length that is not digits (0x37) is refused, not read as hex", function()
      local e = err_of(raw("cl-hex"))
      assert.equals("http", e.kind, cjson.encode(e))
      assert.equals("unknown", e.outcome)
      assert.matches("invalid Content-Length (digits only)", e.message, 1, true)
    end)

    it("10500 header lines within max_header_bytes: all read as headers (no line-count cap)", function()
      local r = raw("many-headers")
      assert.is_true(r.results[1].ok, cjson.encode(r.results[1]):sub(1, 2000))
      assert.equals("att_raw", r.results[1].data.id)
      assert.equals("application/json", r.results[1].http.content_type)
    end)

    it("a header block over the limit fails as http, naming the limit", function()
      local e = err_of(raw("huge-headers"))
      assert.equals("http", e.kind, cjson.encode(e))
      assert.equals("unknown", e.outcome)
      assert.matches("response headers larger than 65536 bytes (KOMBO_MAX_HEADER_BYTES)", e.message, 1, true)
    end)

    it("a 5th request() value, the method: GET without Content-Length, POST (or nil) with Content-Length: 0",
      function()
      local url = APP.url .. "/raw/echo-head/x"
      for _, case in ipairs { { "GET", "GET" }, { "POST", "POST" }, { cjson.null, "POST" } } do
        local r = S.json("POST", APP.url .. "/fakecall", { url = url, method = case[1] }, 30)
        assert.equals(200, r.status, cjson.encode(r))
        assert.equals(case[2] .. " /raw/echo-head/x HTTP/1.1\r\n", r.body:match("^[^\n]*\n"))
        assert.matches("\r\nX%-Test: 1\r\n", r.body)
        if case[2] == "GET" then
          assert.is_nil(r.body:lower():find("content-length", 1, true), r.body)
        else
          assert.matches("\r\nContent%-Length: 0\r\n", r.body)
        end
      end
    end)

    it("chunked with trailers, and a head with bare LF line ends", function()
      local r = raw("trailers")
      assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
      assert.equals("att_raw", r.results[1].data.id)
    end)
  end)

  it("max_response_bytes = 0 means the default cap, as in the core", function()
    local r = faults { server_url = badserver.url(srv, "ok"), max_response_bytes = 0 }
    assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
  end)

  it("a huge timeout (3e6 s) works (clamped for nginx), as with libcurl", function()
    local r = faults { server_url = badserver.url(srv, "ok"), timeout = 3e6 }
    assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
  end)

  it("an early 413 while the body is still being sent is the result (api, rejected), sent once", function()
    local before = #badserver.requests(srv, "early-413")
    local e = err_of(faults { server_url = badserver.url(srv, "early-413"), size = 8 * MiB })
    assert.equals("api", e.kind, cjson.encode(e))
    assert.equals("rejected", e.outcome)
    assert.equals(413, e.status)
    assert.equals(1, #since("early-413", before), badserver.log(srv))
  end)

  it("a pooled connection that dies 1.5 s after the request is not replayed: unknown", function()
    local before = #badserver.requests(srv, "keepalive-dies-late")
    local r = faults { server_url = badserver.url(srv, "keepalive-dies-late"), n = 2 }
    assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
    local e = err_of(r, 2)
    assert.equals("network", e.kind)
    assert.equals("unknown", e.outcome)
    assert.equals(2, #since("keepalive-dies-late", before), badserver.log(srv))
  end)

  it("a stale pooled connection with a one-shot source: the first try's outcome stands", function()
    -- the second upload goes out on the pooled connection, which the server
    -- then resets; the source cannot be read again for a fresh connection
    local before = #badserver.requests(srv, "keepalive-stale")
    local r = faults { server_url = badserver.url(srv, "keepalive-stale"), n = 2, source_size = 100000 }
    assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
    local e = err_of(r, 2)
    assert.equals("network", e.kind, cjson.encode(e))
    assert.equals("unknown", e.outcome)
    assert.equals(2, #since("keepalive-stale", before), badserver.log(srv))
  end)

  it("keepalive-close: a pooled connection the server closed is found dead; the next upload goes on a new one", function()
    local before = #badserver.requests(srv, "keepalive-close")
    local r = faults { server_url = badserver.url(srv, "keepalive-close"), n = 2, pause = 0.2 }
    for i = 1, 2 do
      assert.is_true(r.results[i].ok, cjson.encode(r.results[i]))
      assert.equals(1, r.results[i].http.attempts)
    end
    local mine = since("keepalive-close", before)
    assert.equals(2, #mine, badserver.log(srv))
    assert.equals(2, badserver.connections(mine))
    require("socket").sleep(0.2) -- the server closes the second one 50 ms after its answer: let nginx see it
  end)

  -- The outcome rule: the server read the whole upload and reset without
  -- answering; it may have acted on it, so it is not sent again.
  for _, mode in ipairs { "keepalive-stale", "keepalive-reset-300", "keepalive-reset-2000" } do
    for _, retries in ipairs { "none", "default" } do
      it(mode .. " (retries " .. retries .. "): unknown, the server saw the upload once", function()
        local before = #badserver.requests(srv, mode)
        local r = faults { server_url = badserver.url(srv, mode .. "." .. retries), n = 2,
                           retries = retries == "default" and { max_attempts = 3 } or nil }
        assert.is_true(r.results[1].ok, cjson.encode(r.results[1]))
        local e = err_of(r, 2)
        assert.equals("network", e.kind, cjson.encode(e))
        assert.equals("unknown", e.outcome)
        assert.equals(1, e.attempts)
        assert.truthy(e.message:find("attachment_exists", 1, true), e.message)
        assert.equals(2, #since(mode, before), badserver.log(srv))
      end)
    end
  end

  it("429 for ever: the budget (max_attempts = 4) ends with api 429 and attempts = 4", function()
    -- (Retry-After: 0; one longer than max_interval ends the call at once: below)
    local e = err_of(faults { server_url = STANDIN, candidate = "scenario-429-always-zero",
                              integration = servers.unique("ngx-faults-429"),
                              retries = { max_attempts = 4, initial_interval = 0.01, max_interval = 0.05 } })
    assert.equals("api", e.kind)
    assert.equals("rejected", e.outcome)
    assert.equals(429, e.status)
    assert.equals(4, e.attempts)
    assert.equals(0, e.retry_after)
  end)

  -- A Retry-After longer than max_interval is not shortened: one attempt.
  for _, w in ipairs { { "429-once-huge", 100000 }, { "429-once-date" } } do
    it(("Retry-After %s longer than max_interval 0.2: gives up at once"):format(w[1]), function()
      local e = err_of(faults { server_url = STANDIN, candidate = "scenario-" .. w[1],
                                integration = servers.unique("ngx-faults-" .. w[1]),
                                retries = { max_attempts = 3, initial_interval = 0.01, max_interval = 0.2 } })
      assert.equals(429, e.status)
      assert.equals(1, e.attempts)
      assert.is_true(e.retry_after > 0.2, tostring(e.retry_after))
      if w[2] then assert.equals(w[2], e.retry_after) end
      assert.is_true(e.elapsed < 1, "elapsed " .. e.elapsed)
    end)
  end

  -- The exact delays are checked on a fake clock (spec/unit/retry_spec.lua).
  local waits = {
    { "429-once-garbage", { initial_interval = 0.1, max_interval = 0.2 }, 0.045, 0.6 },
    { "429-once-negative", { initial_interval = 0.1, max_interval = 0.2 }, 0.045, 0.6 },
  }
  for _, w in ipairs(waits) do
    it(("Retry-After %s: waits %.2f..%.2f s, then succeeds"):format(w[1], w[3], w[4]), function()
      local retries = { max_attempts = 3, initial_interval = 0.01, max_interval = 0.05, max_elapsed = 10 }
      for k, v in pairs(w[2]) do retries[k] = v end
      local r = faults { server_url = STANDIN, candidate = "scenario-" .. w[1],
                         integration = servers.unique("ngx-faults-" .. w[1]), retries = retries }
      local x = r.results[1]
      assert.is_true(x.ok, cjson.encode(x))
      assert.equals(2, x.http.attempts)
      assert.is_true(x.http.elapsed >= w[3], "elapsed " .. x.http.elapsed)
      assert.is_true(x.http.elapsed <= w[4], "elapsed " .. x.http.elapsed)
    end)
  end

  describe("secrets", function()
    local function leaks(text)
      text = tostring(text)
      for i = 1, #KEY - 15 do
        if text:find(KEY:sub(i, i + 15), 1, true) then return true end
      end
      return false
    end

    for _, mode in ipairs { "reset-before-status", "echo-auth", "echo-auth-json" } do
      it(mode .. ": the key is in no error field, tostring, client or debug line", function()
        local r = faults { server_url = badserver.url(srv, mode), api_key = KEY, debug = true }
        local e = err_of(r)
        local found = {}
        local function check(label, v)
          if v ~= nil and v ~= cjson.null and leaks(v) then found[#found + 1] = label .. ": " .. tostring(v) end
        end
        for _, f in ipairs { "message", "tostring", "body", "code", "title", "log_url" } do check("err." .. f, e[f]) end
        for k, v in pairs(e.headers or {}) do check("err.headers." .. k, v) end
        check("tostring(client)", r.client)
        for i, line in ipairs(r.lines) do check("debug line " .. i, line) end
        assert.equals("", table.concat(found, "\n"))
        local joined = table.concat(r.lines, "\n")
        assert.matches("Authorization: Bearer <redacted>", joined, 1, true)
      end)
    end
  end)

  it("left nothing alarming in the app's error log", function()
    local log = S.error_log(APP)
    assert.is_nil(log:match("%[alert%]"), log)
    assert.is_nil(log:match("%[emerg%]"), log)
    assert.is_nil(log:match("runtime error"), log)
  end)

  -- The same bytes through both transports: identical kind, outcome and
  -- status (spec/support/badserver.lua's RAW cases).
  describe("both transports agree on odd answers", function()
    local kombo = require "kombo"
    local function curl_side(case)
      local client = kombo.new { api_key = "test-key", server_url = badserver.url(srv, "raw-" .. case),
                                 integration_id = "diff", retries = false, timeout = 10, transport = "curl" }
      local res, err = client:attach_to_candidate { candidate_id = "cand-diff",
        body = { attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf", data = "JVBERi0xLjQK" } } }
      client:close()
      if res then return { ok = true, status = res.http.status } end
      return { ok = false, kind = err.kind, outcome = err.outcome, status = err.status, message = err.message }
    end
    local function cosocket_side(case)
      local x = faults { server_url = badserver.url(srv, "raw-" .. case) }.results[1]
      if x.ok then return { ok = true, status = x.http.status } end
      return { ok = false, kind = x.err.kind, outcome = x.err.outcome, status = x.err.status, message = x.err.message }
    end
    local function comparable(r) return { ok = r.ok, kind = r.kind, outcome = r.outcome, status = r.status } end

    for _, case in ipairs(badserver.RAW_CASES) do
      it(case, function()
        local a, b = curl_side(case), cosocket_side(case)
        assert.same(comparable(a), comparable(b),
          "curl: " .. tostring(a.message) .. " | cosocket: " .. tostring(b.message))
      end)
    end

    it("the header limit is named the same way by both, and Content-Length takes digits only", function()
      for _, case in ipairs { "headers-9998", "headers-64k-over" } do
        assert.matches("larger than 65536 bytes (KOMBO_MAX_HEADER_BYTES)", curl_side(case).message, 1, true)
        assert.matches("larger than 65536 bytes (KOMBO_MAX_HEADER_BYTES)", cosocket_side(case).message, 1, true)
      end
      assert.is_false(curl_side("cl-hex").ok)
      assert.is_false(cosocket_side("cl-hex").ok)
    end)

    it("libcurl's side reads Content-Length and Transfer-Encoding in any case of their names", function()
      local dup = curl_side("cl-dup-diff-lower")
      assert.is_false(dup.ok)
      assert.matches("conflicting Content-Length headers", dup.message, 1, true)
      local te = curl_side("te-upper-cl-plus") -- chunked: the Content-Length is not read
      assert.is_true(te.ok, te.message)
    end)
  end)
end)
