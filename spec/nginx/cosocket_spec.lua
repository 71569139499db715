-- The cosocket transport in a real nginx (Debian nginx + libnginx-mod-http-lua,
-- LuaJIT): a one-worker test app (app.conf.in, app.lua) uploads through
-- kombo-lua to the local Kombo stand-in.  Results are compared with the curl
-- transport running the same scenario in this busted process.
local S = require "nginx.support"
local cjson = require "cjson"
local kombo = require "kombo"
local describe_result = require "nginx.describe"

local STANDIN, APP
local run_id = ("%d"):format(math.floor(S.now() * 1000) % 1000000000)
local function integration(name) return ("ngx-%s-%s"):format(name, run_id) end

-- The same upload as app.lua's upload_args.
local function args(candidate, integ)
  return {
    candidate_id = candidate or "cand-1", integration_id = integ,
    body = { attachment = { name = "cv.txt", content_type = "text/plain", type = "CV",
                            data = kombo.base64("Frank Doe, software engineer.\n") } },
  }
end

-- Through the app (cosocket transport): the described result of one upload.
local function via_cosocket(opts, candidate, integ)
  local r = S.json("POST", APP.url .. "/upload",
    { opts = opts or {}, candidate = candidate, integration = integ }, 60)
  return r.results[1]
end

-- In this process (curl transport).
local function via_curl(opts, candidate, integ)
  local o = { api_key = "test-key", server_url = STANDIN, transport = "curl", integration_id = "app" }
  for k, v in pairs(opts or {}) do o[k] = v end
  local c = kombo.new(o)
  local d = describe_result(c:attach_to_candidate(args(candidate, integ)))
  c:close()
  return cjson.decode(cjson.encode(d)) -- same JSON round trip as the app's answer
end

local function tail_note(msg)
  msg = msg and msg:gsub("; the upload may have landed: check with attachment_exists before sending it again$", "")
  return msg and msg:match("%(([^()]*)%)$")
end

-- What must be identical between the transports.
local function comparable(d)
  if d.ok then
    return { ok = true, status = d.status, candidate_id = d.data and d.data.candidate_id,
             name = d.data and d.data.name, size_bytes = d.data and d.data.size_bytes,
             warnings = d.warnings and #d.warnings, http_status = d.http.status,
             attempts = d.http.attempts, content_type = d.http.content_type }
  end
  local e = assert(d.err, "not an error object: " .. cjson.encode(d))
  local c = { ok = false, kind = e.kind, outcome = e.outcome, status = e.status, code = e.code,
              title = e.title, retry_after = e.retry_after, attempts = e.attempts,
              content_type = e.content_type, has_log_url = e.log_url ~= nil }
  if e.kind == "network" or e.kind == "timeout" then
    -- transports word their own failures; the phase note comes from the core
    c.phase_note = tail_note(e.message)
  else
    c.message = e.message and e.message:gsub("standin%-%d+%-%d+", "standin-N")
  end
  return c
end

local function same(opts, candidate, name)
  local a = via_cosocket(opts, candidate, integration(name .. "-cosocket"))
  local b = via_curl(opts, candidate, integration(name .. "-curl"))
  assert.same(comparable(b), comparable(a))
  return a, b
end

describe("cosocket transport in nginx", function()
  setup(function()
    S.ensure_lib51()
    STANDIN, APP = S.standin_and_app()
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
  end)

  describe("gives the same results and error objects as the curl transport", function()
    it("success", function()
      local a = same({ retries = false }, "abc", "ok")
      assert.is_true(a.ok)
      assert.equals("abc", a.data.candidate_id)
      assert.equals(1, a.http.attempts)
    end)

    it("success with warnings and a charset", function()
      same({ retries = false }, "scenario-ok-warnings", "okw")
      same({ retries = false }, "scenario-ok-charset", "okc")
    end)

    it("api error (409, Kombo's error JSON)", function()
      local a = same({ retries = false }, "scenario-error-409", "409")
      assert.equals("api", a.err.kind)
      assert.equals(409, a.err.status)
      assert.equals("ATS.APPLICATION_ALREADY_EXISTS", a.err.code)
      assert.equals("rejected", a.err.outcome)
    end)

    it("api errors 400, 401, 422 and the minimal error", function()
      for _, sc in ipairs{ "error-400", "error-401", "error-422", "error-minimal" } do
        local a = same({ retries = false }, "scenario-" .. sc, sc)
        assert.equals("api", a.err.kind)
      end
    end)

    it("http error (502 HTML page)", function()
      local a = same({ retries = false }, "scenario-502", "502")
      assert.equals("http", a.err.kind)
      assert.equals(502, a.err.status)
    end)

    it("decode error (200 with a body that is not JSON)", function()
      local a = same({ retries = false }, "scenario-not-json", "notjson")
      assert.equals("decode", a.err.kind)
      assert.equals("unknown", a.err.outcome)
      same({ retries = false }, "scenario-truncated", "truncated")
      same({ retries = false }, "scenario-empty-body", "empty")
    end)

    it("network error: connection refused (before sending, retried)", function()
      local port = S.free_port()
      local opts = { server_url = "http://127.0.0.1:" .. port,
                     retries = { max_attempts = 2, initial_interval = 0.05, max_interval = 0.1 } }
      local a = same(opts, "abc", "refused")
      assert.equals("network", a.err.kind)
      assert.equals("not_sent", a.err.outcome)
      assert.equals(2, a.err.attempts)
      assert.equals("before the request was sent", tail_note(a.err.message))
    end)

    it("network error: the server closes without an answer", function()
      local a = same({ retries = false }, "scenario-close", "close")
      assert.equals("network", a.err.kind)
      assert.equals("unknown", a.err.outcome)
    end)

    it("timeout while waiting for the answer", function()
      local a = same({ retries = false, timeout = 0.3 }, "scenario-slow-2", "timeout")
      assert.equals("timeout", a.err.kind)
      assert.equals("unknown", a.err.outcome)
      assert.equals("after the request was sent; it may have been processed", tail_note(a.err.message))
      assert.is_true(a.wall < 1.5, "took " .. a.wall)
    end)

    it("timeout covers the whole attempt (a body dripping 1 byte/s)", function()
      -- 0.7 s: the headers and a first byte arrive, the next byte only at 1 s
      local a = same({ retries = false, timeout = 0.7 }, "scenario-drip", "drip")
      assert.equals("timeout", a.err.kind)
      assert.equals("while the response was arriving; the request may have been processed",
        tail_note(a.err.message))
      assert.is_true(a.wall < 1.7, "took " .. a.wall)
    end)

    it("response larger than max_response_bytes (Content-Length and chunked)", function()
      local a = same({ retries = false }, "scenario-huge", "huge")
      assert.equals("http", a.err.kind)
      assert.matches("max_response_bytes", a.err.message)
      same({ retries = false }, "scenario-huge-chunked", "hugechunked")
    end)

    it("a redirect is not followed", function()
      local a = same({ retries = false }, "scenario-redirect", "redirect")
      assert.equals("http", a.err.kind)
      assert.equals(302, a.err.status)
    end)
  end)

  describe("retries", function()
    it("waits for Retry-After (429 once, Retry-After: 1) and then succeeds", function()
      local a = same({}, "scenario-429-once", "429once")
      assert.is_true(a.ok)
      assert.equals(2, a.http.attempts)
      assert.is_true(a.http.elapsed >= 0.95, "elapsed " .. a.http.elapsed)
    end)

    it("503 once with Retry-After: 0", function()
      local a = same({}, "scenario-503-once", "503once")
      assert.is_true(a.ok)
      assert.equals(2, a.http.attempts)
    end)

    it("gives up at once with the 429 when Retry-After is longer than max_interval", function()
      -- Retry-After: 1 > max_interval 0.1: not shortened, not retried
      local a = same({ retries = { max_attempts = 2, max_interval = 0.1 } }, "scenario-429", "429always")
      assert.equals("api", a.err.kind)
      assert.equals(429, a.err.status)
      assert.equals(1, a.err.attempts)
      assert.equals(1, a.err.retry_after)
    end)
  end)

  it("reads chunked responses", function()
    local a = via_cosocket({ server_url = APP.url .. "/chunked", retries = false }, "chunky", integration("chunked"))
    assert.is_true(a.ok, cjson.encode(a))
    assert.equals("att_chunked", a.data.id)
    assert.equals("chunky", a.data.candidate_id)
  end)

  describe("TLS", function()
    it("verifies the server against lua_ssl_trusted_certificate (SNI set)", function()
      local url = ("https://127.0.0.1:%d"):format(APP.tls_port)
      local a = via_cosocket({ server_url = url, retries = false }, "tls-ok", integration("tls"))
      assert.is_true(a.ok, cjson.encode(a))
      local b = via_curl({ server_url = url, retries = false, ca_file = APP.dir .. "/certs/ca.pem" },
        "tls-ok", integration("tls-curl"))
      assert.same(comparable(b), comparable(a))
    end)

    it("refuses an untrusted certificate before sending anything", function()
      local url = ("https://127.0.0.1:%d"):format(APP.badtls_port)
      local a = via_cosocket({ server_url = url, retries = false }, "tls-bad", integration("badtls"))
      assert.equals("network", a.err.kind)
      assert.equals("not_sent", a.err.outcome)
      assert.matches("certificate", a.err.message)
      local b = via_curl({ server_url = url, retries = false, ca_file = APP.dir .. "/certs/ca.pem" },
        "tls-bad", integration("badtls-curl"))
      assert.same(comparable(b), comparable(a))
    end)
  end)

  it("the User-Agent names nginx's Lua module and nginx, not libcurl", function()
    local integ = integration("ua")
    local seq = S.standin_seq(STANDIN)
    local r = via_cosocket({}, "cand-ua", integ)
    assert.is_true(r.ok, cjson.encode(r))
    local rec = S.standin_records(STANDIN, seq, integ)[1]
    local ua = rec.headers["user-agent"]
    assert.matches("^kombo%-lua/[%d.]+ %(.-; ngx_lua/%d+%.%d+%.%d+; nginx/%d+%.%d+%.%d+%)$", ua)
    assert.is_nil(ua:find("libcurl", 1, true), ua)
  end)

  it("read operations over cosockets: listing, attachment_exists, restrictions, preflight, check_api_key", function()
    local integ = integration("readback")
    local status = S.request("POST", ("%s/_restrictions?integration=%s&target=candidate"):format(STANDIN, integ),
      cjson.encode { types = { CV = { is_supported = true, max_file_size_bytes = cjson.null,
        accepted_mime_types = cjson.null }, COVER_LETTER = { is_supported = false },
        OTHER = { is_supported = true, max_file_size_bytes = cjson.null, accepted_mime_types = cjson.null } } })
    assert.equals(200, status)
    local r = S.json("POST", APP.url .. "/readback", { integration = integ })
    assert.equals(false, r.before[1])
    assert.is_true(r.upload.ok)
    assert.equals("validation", r.too_early) -- the attempt could still be in flight
    assert.same({ true }, r.after)
    assert.equals(1, r.listed)
    assert.truthy(r.empty_json:find('"results":[]', 1, true), r.empty_json)
    assert.is_true(r.restrictions)
    assert.is_string(r.api_key)
    assert.equals("body.attachment.type", r.preflight)
  end)

  it("keeps the connection alive: one stand-in connection for many sequential uploads", function()
    local integ = integration("keepalive")
    local seq = S.standin_seq(STANDIN)
    -- 10 uploads in one request, then 5 requests with one upload each
    local r = S.json("POST", APP.url .. "/upload", { n = 10, candidate = "ka", integration = integ })
    for _, x in ipairs(r.results) do assert.is_true(x.ok, cjson.encode(x)) end
    for _ = 1, 5 do
      local one = S.json("POST", APP.url .. "/upload", { n = 1, candidate = "ka", integration = integ })
      assert.is_true(one.results[1].ok)
    end
    local records = S.standin_records(STANDIN, seq, integ)
    assert.equals(15, #records)
    local connections, last = {}, nil
    for _, rec in ipairs(records) do
      connections[rec.connection] = true
      if last then assert.equals(last + 1, rec.connection_requests) end
      last = rec.connection_requests
    end
    local n = 0
    for _ in pairs(connections) do n = n + 1 end
    print(("\n[keepalive] 15 uploads -> %d stand-in connection(s), connection_requests %d..%d")
      :format(n, records[1].connection_requests, records[15].connection_requests))
    assert.equals(1, n)
  end)

  it("sends every byte whether the head and the body go out as one string or not", function()
    -- (cosocket.lua's send_request: a body read at once after the head in the
    -- FFI's 64 KiB buffer goes out in one string with it; one whose JSON
    -- fits one read but not beside the head, and one of several reads, do not)
    local integ = integration("joined")
    local seq = S.standin_seq(STANDIN)
    local opts = { api_key = "test-key", server_url = STANDIN, integration_id = integ, retries = false }
    local sizes = { 30, 49020, 150000 } -- the JSON: ~150 bytes, 65,4xx (under 64 KiB), ~200 KB
    local tmp = ("%s/.tmp/joined-b64-%s"):format(S.ROOT, S.unique())
    for i, n in ipairs(sizes) do
      local bytes = ("%d kombo "):format(i):rep(n):sub(1, n)
      local r = S.json("POST", APP.url .. "/call_options", { method = "attach_to_candidate", opts = opts,
        args = { candidate_id = "joined-" .. i, body = { attachment = { name = "cv.txt", type = "CV",
          content_type = "text/plain", bytes = bytes } } } }, 60)
      assert.is_true(r.ok, cjson.encode(r))
      local recs = S.standin_records(STANDIN, seq, integ)
      assert.equals(i, #recs)
      local b64 = kombo.base64(bytes)
      S.write_file(tmp, b64)
      local p = assert(io.popen(("sha1sum '%s'"):format(tmp)))
      local sha1 = p:read("*l"):match("^%x+")
      p:close()
      assert.equals(#b64, recs[i].attachment.data_length, "size " .. n)
      assert.equals(sha1, recs[i].attachment.data_sha1, "size " .. n)
    end
    os.remove(tmp)
  end)

  -- (a blocked worker answers after the uploads' 3 s; 0.5 s leaves room for a loaded machine's scheduling)
  it("does not block the worker: >= 100 other requests answered in < 500 ms each while uploads wait 3 s", function()
    local integ = integration("nonblocking")
    local seq = S.standin_seq(STANDIN)
    local fired = S.json("POST", APP.url .. "/fire",
      { n = 5, candidate = "scenario-slow-3", integration = integ, wait = true, opts = { retries = false } })
    assert.equals(5, fired.in_flight)
    local t0 = S.now()
    local max, count, saw_in_flight = 0, 150, 0
    for _ = 1, count do
      local dt, status, body = S.timed_get("127.0.0.1", APP.port, "/ping")
      assert.equals("HTTP/1.1 200 OK", status)
      if dt > max then max = dt end
      if cjson.decode(body).in_flight == 5 then saw_in_flight = saw_in_flight + 1 end
    end
    local burst = S.now() - t0
    print(("\n[non-blocking] %d requests in %.3f s while 5 uploads were in flight: max latency %.1f ms")
      :format(count, burst, max * 1000))
    assert.equals(count, saw_in_flight) -- every answer came while all 5 uploads were pending
    assert.is_true(max < 0.5, ("max latency %.1f ms"):format(max * 1000))
    -- the uploads themselves completed, each after ~3 s
    local status
    for _ = 1, 50 do
      status = S.json("GET", APP.url .. "/fired")
      if status.done == 5 then break end
      S.sleep(0.1)
    end
    assert.equals(5, status.done)
    for _, x in ipairs(status.results) do
      assert.is_true(x.ok, cjson.encode(x))
      assert.is_true(x.wall >= 2.95, "upload took " .. x.wall)
    end
    assert.equals(5, #S.standin_records(STANDIN, seq, integ))
  end)

  it("(control) the same measurement does see a blocking upload (curl transport inside nginx)", function()
    local integ = integration("blocking")
    local t0 = S.now()
    S.json("POST", APP.url .. "/fire",
      { n = 1, candidate = "scenario-slow-1", integration = integ, opts = { transport = "curl", retries = false } })
    local max = S.now() - t0
    for _ = 1, 20 do
      local dt = S.timed_get("127.0.0.1", APP.port, "/ping")
      if dt > max then max = dt end
    end
    print(("\n[control] with a blocking libcurl upload the max latency is %.0f ms"):format(max * 1000))
    assert.is_true(max > 0.5)
    for _ = 1, 30 do
      if S.json("GET", APP.url .. "/fired").done == 1 then break end
      S.sleep(0.1)
    end
  end)

  it("runs 50 concurrent uploads (ngx.thread.spawn): all succeed, none sent twice", function()
    local integ = integration("concurrent")
    local seq = S.standin_seq(STANDIN)
    local t0 = S.now()
    local r = S.json("POST", APP.url .. "/concurrent", { n = 50, integration = integ, candidate_prefix = "conc-" }, 60)
    local took = S.now() - t0
    local ok = 0
    for _, x in ipairs(r.results) do if x.ok then ok = ok + 1 end end
    local records = S.standin_records(STANDIN, seq, integ)
    local ids, distinct, conns, nconns = {}, 0, {}, 0
    for _, rec in ipairs(records) do
      if not ids[rec.path_id] then ids[rec.path_id] = true; distinct = distinct + 1 end
      if not conns[rec.connection] then conns[rec.connection] = true; nconns = nconns + 1 end
    end
    print(("\n[concurrent] 50 uploads in %.3f s: %d succeeded; stand-in recorded %d requests, %d distinct ids, %d connections")
      :format(took, ok, #records, distinct, nconns))
    assert.equals(50, #r.results)
    assert.equals(50, ok)
    assert.equals(50, #records)
    assert.equals(50, distinct)
    for i = 1, 50 do assert.is_true(ids["conc-" .. i]) end
  end)

  describe("fails fast where cosockets are unavailable", function()
    local function check(phase)
      local r = S.json("GET", APP.url .. "/phase/result?name=" .. phase)
      assert.is_string(r.message, "no result for phase " .. phase)
      assert.matches("nginx's '" .. phase .. "' phase", r.message, 1, true)
      assert.matches("ngx.timer.at", r.message, 1, true)
      assert.is_true(r.ms < 50, "took " .. tostring(r.ms) .. " ms")
    end

    it("set_by_lua*", function()
      local status, body = S.request("GET", APP.url .. "/phase/set")
      assert.equals(200, status)
      assert.matches("cannot upload in nginx's 'set' phase", body, 1, true)
      check("set")
    end)

    it("header_filter, body_filter and log", function()
      local status = S.request("GET", APP.url .. "/phase/filters")
      assert.equals(200, status)
      S.sleep(0.1) -- the log phase runs after the answer
      check("header_filter")
      check("body_filter")
      check("log")
    end)

    it("init_by_lua* and init_worker_by_lua*", function()
      check("init")
      check("init_worker")
    end)

    it("and nothing was sent", function()
      local list = S.json("GET", STANDIN .. "/_requests?since=0")
      for _, rec in ipairs(list) do
        assert.is_not.equals("phase-check", rec.headers and rec.headers["x-integration-id"])
      end
    end)
  end)

  it("transport = \"cosocket\" outside nginx is an error at kombo.new", function()
    assert.has_error(function() kombo.new{ api_key = "k", transport = "cosocket" } end)
    local ok, err = pcall(kombo.new, { api_key = "k", transport = "cosocket" })
    assert.is_false(ok)
    assert.matches("ngx.socket.tcp", err, 1, true)
    assert.has_error(function() kombo.new{ api_key = "k", transport = "carrier-pigeon" } end)
  end)

  it("left nothing alarming in the app's error log", function()
    local log = S.error_log(APP)
    assert.is_nil(log:match("%[alert%]"), log)
    assert.is_nil(log:match("%[emerg%]"), log)
    assert.is_nil(log:match("runtime error"), log)
  end)
end)
