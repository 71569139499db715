-- Proxies, both transports: uploads to the TLS stand-in (the test app's TLS
-- port, in front of the Kombo stand-in) through a local CONNECT proxy
-- (spec/support/connect_proxy.js), with the cosocket transport inside nginx
-- (the test app, started with `env https_proxy;` and https_proxy set) and
-- with libcurl in this process (and in a child, for the environment).
local S = require "nginx.support"
local sys = require "support.sys"
local proxy = require "support.proxy"
local cjson = require "cjson"
local kombo = require "kombo"
local describe_result = require "nginx.describe"

-- Long and word-free, so that the redaction of an echo is what is tested
-- (the redactor skips secrets under 8 bytes).
local USER, PASSWORD = "kombo-proxy-user", "Zq7xW2vLk9pR4tYh"
local WRONG = "Mv3nB8cX1zQ6wE5r"

local STANDIN, APP, PX, TLS_URL, CA
local run_id = ("%d"):format(math.floor(S.now() * 1000) % 1000000000)
local function integration(name) return ("px-%s-%s"):format(name, run_id) end

local function args(candidate, integ)
  return {
    candidate_id = candidate, integration_id = integ,
    body = { attachment = { name = "cv.txt", content_type = "text/plain", type = "CV",
                            data = kombo.base64("Frank Doe, software engineer.\n") } },
  }
end

-- n uploads with the cosocket transport in the app: their described results.
local function via_cosocket(opts, candidate, integ, n)
  local o = { server_url = TLS_URL, retries = false }
  for k, v in pairs(opts) do o[k] = v end
  return S.json("POST", APP.url .. "/upload", { opts = o, candidate = candidate, integration = integ, n = n or 1 },
    60).results
end

-- n uploads with libcurl in this process, on one client.
local function via_curl(opts, candidate, integ, n)
  local o = { api_key = "test-key", server_url = TLS_URL, ca_file = CA, retries = false, transport = "curl" }
  for k, v in pairs(opts) do o[k] = v end
  local c = kombo.new(o)
  local out = {}
  for i = 1, n or 1 do
    local res, err = c:attach_to_candidate(args(candidate, integ))
    out[i] = describe_result(res, err)
    out[i].client = tostring(c)
  end
  c:close()
  return cjson.decode(cjson.encode(out))
end

local TRANSPORTS = { cosocket = via_cosocket, curl = via_curl }

local function count(name) return PX:stats(name) end

describe("proxies #proxy", function()
  setup(function()
    S.ensure_lib51()
    STANDIN = S.standin()
    PX = proxy.start { open = "open", env = "open", auth = ("auth:%s:%s"):format(USER, PASSWORD),
                       bad_gateway = "refuse:502", closer = "close" }
    local env = ("https_proxy='%s'"):format(PX:url("env"))
    local ok, inst = pcall(S.start_app, STANDIN, "env https_proxy;", env)
    if not ok then PX:stop(); S.stop_standin(); error(inst, 0) end
    APP = inst
    TLS_URL = ("https://127.0.0.1:%d"):format(APP.tls_port)
    CA = APP.dir .. "/certs/ca.pem"
  end)

  teardown(function()
    S.stop_nginx(APP)
    if PX then PX:stop() end
    S.stop_standin()
  end)

  for name, via in pairs(TRANSPORTS) do
    describe(name, function()
      it("uploads through the proxy (a CONNECT tunnel to the TLS server), and reuses the tunnel", function()
        local before = count("open")
        local integ = integration("open-" .. name)
        local seq = S.standin_seq(STANDIN)
        local r = via({ proxy = PX:url("open") }, "cand-px", integ, 3)
        for i = 1, 3 do assert.is_true(r[i].ok, cjson.encode(r[i])) end
        local after = count("open")
        assert.equals(1, after.connects - before.connects) -- three calls, one tunnel (kept alive)
        assert.equals(1, after.tunnels - before.tunnels)
        assert.equals(("127.0.0.1:%d"):format(APP.tls_port), after.targets[#after.targets])
        assert.equals(3, #S.standin_records(STANDIN, seq, integ))
      end)

      it("sends the URL's credentials as Proxy-Authorization, and never shows them", function()
        local before = count("auth")
        local integ = integration("auth-" .. name)
        local r = via({ proxy = PX:url("auth", USER .. ":" .. PASSWORD) }, "cand-px", integ)
        assert.is_true(r[1].ok, cjson.encode(r[1]))
        local after = count("auth")
        assert.equals(1, after.tunnels - before.tunnels)
        assert.equals("Basic " .. kombo.base64(USER .. ":" .. PASSWORD), after.authorizations[#after.authorizations])
        assert.is_nil(cjson.encode(r):find(PASSWORD, 1, true))
      end)

      it("a 407 (wrong password) is a clear not_sent error without the password; Kombo got nothing", function()
        local integ = integration("407-" .. name)
        local seq = S.standin_seq(STANDIN)
        local r = via({ proxy = PX:url("auth", USER .. ":" .. WRONG) }, "cand-px", integ)
        local e = assert(r[1].err, cjson.encode(r[1]))
        assert.equals("network", e.kind)
        assert.equals("not_sent", e.outcome)
        assert.is_nil(e.status)
        assert.matches("the proxy 127.0.0.1:" .. PX.port.auth .. " refused the tunnel: CONNECT answered HTTP 407 "
          .. "(proxy authentication required: check the proxy's user and password) (before the request was sent)",
          e.message, 1, true)
        local text = cjson.encode(r)
        assert.is_nil(text:find(WRONG, 1, true), text)
        assert.is_nil(text:find(kombo.base64(USER .. ":" .. WRONG), 1, true), text)
        assert.equals(0, #S.standin_records(STANDIN, seq, integ))
      end)

      it("a 502 from the proxy is not_sent and retried (nothing reached Kombo)", function()
        local before = count("bad_gateway")
        local integ = integration("502-" .. name)
        local seq = S.standin_seq(STANDIN)
        local r = via({ proxy = PX:url("bad_gateway"),
                        retries = { max_attempts = 2, initial_interval = 0.01, max_interval = 0.02 } },
          "cand-px", integ)
        local e = assert(r[1].err, cjson.encode(r[1]))
        assert.equals("not_sent", e.outcome)
        assert.equals(2, e.attempts)
        assert.matches("CONNECT answered HTTP 502 (bad gateway", e.message, 1, true)
        assert.equals(2, count("bad_gateway").refused - before.refused)
        assert.equals(0, #S.standin_records(STANDIN, seq, integ))
      end)

      it("a proxy that closes without answering CONNECT: not_sent (the request never left)", function()
        local integ = integration("close-" .. name)
        local seq = S.standin_seq(STANDIN)
        local r = via({ proxy = PX:url("closer") }, "cand-px", integ)
        local e = assert(r[1].err, cjson.encode(r[1]))
        assert.equals("network", e.kind)
        assert.equals("not_sent", e.outcome)
        assert.matches("(before the request was sent)", e.message, 1, true)
        assert.equals(0, #S.standin_records(STANDIN, seq, integ))
      end)
    end)
  end

  it("both transports give the same error for a refused tunnel", function()
    local a = via_cosocket({ proxy = PX:url("auth") }, "cand-px", integration("same-c"))[1].err
    local b = via_curl({ proxy = PX:url("auth") }, "cand-px", integration("same-l"))[1].err
    for _, k in ipairs { "kind", "outcome", "message", "attempts", "status" } do assert.same(b[k], a[k], k) end
  end)

  describe("the environment", function()
    it("inside nginx (env https_proxy;): followed without the option, ignored with proxy = false", function()
      local before = count("env")
      local r = via_cosocket({}, "cand-px", integration("env-c"))
      assert.is_true(r[1].ok, cjson.encode(r[1]))
      local mid = count("env")
      assert.equals(1, mid.tunnels - before.tunnels)
      r = via_cosocket({ proxy = false }, "cand-px", integration("env-off-c"), 1)
      assert.is_true(r[1].ok, cjson.encode(r[1]))
      -- and the option wins over the environment
      r = via_cosocket({ proxy = PX:url("open") }, "cand-px", integration("env-opt-c"), 1)
      assert.is_true(r[1].ok, cjson.encode(r[1]))
      assert.equals(mid.connects, count("env").connects)
    end)

    it("libcurl: https_proxy followed without the option; proxy = false ignores it; no_proxy honoured", function()
      local script = [[
        local kombo = require "kombo"
        local opts = { api_key = "test-key", server_url = arg[1], ca_file = arg[2], retries = false,
                       transport = "curl", integration_id = arg[3] }
        if arg[4] == "off" then opts.proxy = false end
        local c = kombo.new(opts)
        local res, err = c:attach_to_candidate { candidate_id = "cand-px", body = { attachment = {
          name = "cv.txt", content_type = "text/plain", type = "CV", data = kombo.base64("x") } } }
        print(res and "ok" or ("err " .. tostring(err)))
      ]]
      local refusing = ("https_proxy='%s'"):format(PX:url("bad_gateway"))
      local before = count("bad_gateway")
      local rc, out = sys.run_lua(script, { TLS_URL, CA, integration("env-l"), "" }, 30, refusing)
      assert.equals(0, rc, out)
      assert.matches("CONNECT answered HTTP 502", out, 1, true)
      assert.equals(1, count("bad_gateway").refused - before.refused)
      rc, out = sys.run_lua(script, { TLS_URL, CA, integration("env-off-l"), "off" }, 30, refusing)
      assert.equals(0, rc, out)
      assert.equals("ok\n", out)
      rc, out = sys.run_lua(script, { TLS_URL, CA, integration("env-np-l"), "" }, 30,
        refusing .. " no_proxy=localhost,127.0.0.1")
      assert.equals(0, rc, out)
      assert.equals("ok\n", out)
      assert.equals(1, count("bad_gateway").refused - before.refused)
    end)

    it("the environment's proxy credentials are redacted too (libcurl, 407)", function()
      local script = [[
        local kombo = require "kombo"
        local c = kombo.new { api_key = "test-key", server_url = arg[1], ca_file = arg[2], retries = false,
                              transport = "curl", debug = function(l) print("debug " .. l) end }
        local res, err = c:attach_to_candidate { candidate_id = "cand-px", integration_id = "px-env-cred",
          body = { attachment = { name = "cv.txt", content_type = "text/plain", type = "CV", data = "eA==" } } }
        print(tostring(c), res, tostring(err), err and err.outcome)
      ]]
      local rc, out = sys.run_lua(script, { TLS_URL, CA }, 30,
        ("https_proxy='%s'"):format(PX:url("auth", USER .. ":" .. WRONG)))
      assert.equals(0, rc, out)
      assert.matches("HTTP 407", out, 1, true)
      assert.matches("not_sent", out, 1, true)
      assert.is_nil(out:find(WRONG, 1, true), out)
    end)
  end)
end)
