-- Client options, environment defaults, the default client and keeping the
-- API key out of everything printable.  os.getenv is stubbed (h.with_env)
-- and restored after each use; captured calls are never sent.
local kombo = require "kombo"
local h = require "unit.helpers"

local KEY = h.API_KEY
local ENV_KEY = "kombo_sk_live_env0000111122223333444455556666"

local function new_with_env(env, opts)
  local client
  h.with_env(env, function() client = kombo.new(opts) end)
  return client
end

-- Runs fn, asserts it raised at kombo.new naming an option; returns the message.
local function raises_option(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected kombo.new to raise")
  err = tostring(err)
  assert.matches("bad argument #1 to 'new' (option '", err, 1, true)
  return err
end

local function header(rec, name)
  return h.header_map(rec.headers)[name]
end

describe("options", function()
  describe("server", function()
    it("defaults to eu: https://api.kombo.dev/v1", function()
      local client = new_with_env({}, { api_key = KEY })
      assert.matches("(https://api.kombo.dev/v1,", tostring(client), 1, true)
    end)

    it("eu is https://api.kombo.dev/v1", function()
      local client = new_with_env({}, { api_key = KEY, server = "eu" })
      assert.matches("(https://api.kombo.dev/v1,", tostring(client), 1, true)
    end)

    it("us is https://api.us.kombo.dev/v1", function()
      local client = new_with_env({}, { api_key = KEY, server = "us" })
      assert.matches("(https://api.us.kombo.dev/v1,", tostring(client), 1, true)
    end)

    it("kombo.SERVERS lists eu and us", function()
      assert.are.same({ eu = "https://api.kombo.dev/v1", us = "https://api.us.kombo.dev/v1" }, kombo.SERVERS)
    end)

    it("server_url overrides server", function()
      local client = new_with_env({}, { api_key = KEY, server = "us", server_url = "http://127.0.0.1:9/custom" })
      local rec = h.send(client, "attach_to_candidate", h.args { integration_id = "i" })
      assert.equals("http://127.0.0.1:9/custom/ats/candidates/cand-1/attachments", rec.url)
    end)

    it("an invalid server_url raises at kombo.new", function()
      local msg = raises_option(function() new_with_env({}, { api_key = KEY, server_url = "127.0.0.1:9/v1", integration_id = "i" }) end)
      assert.matches("option 'server_url'", msg, 1, true)
    end)
  end)

  describe("environment", function()
    local ENV = { KOMBO_SERVER_URL = "http://127.0.0.1:9/from-env", KOMBO_API_KEY = ENV_KEY,
                  KOMBO_INTEGRATION_ID = "env-int" }

    it("KOMBO_SERVER_URL, KOMBO_API_KEY and KOMBO_INTEGRATION_ID are used when options are absent", function()
      local rec = h.send(new_with_env(ENV), "attach_to_candidate", h.args())
      assert.equals("http://127.0.0.1:9/from-env/ats/candidates/cand-1/attachments", rec.url)
      assert.equals("Bearer " .. ENV_KEY, header(rec, "authorization"))
      assert.equals("env-int", header(rec, "x-integration-id"))
    end)

    it("is used with an empty options table", function()
      local rec = h.send(new_with_env(ENV, {}), "attach_to_candidate", h.args())
      assert.equals("Bearer " .. ENV_KEY, header(rec, "authorization"))
    end)

    it("is read when the client is created, not when it is used", function()
      local client = new_with_env(ENV)
      local rec
      h.with_env({ KOMBO_API_KEY = "kombo_sk_live_other999988887777666655554444" }, function()
        rec = h.send(client, "attach_to_candidate", h.args())
      end)
      assert.equals("Bearer " .. ENV_KEY, header(rec, "authorization"))
    end)

    it("explicit options beat the environment", function()
      local client = new_with_env(ENV, { api_key = KEY, integration_id = "opt-int",
                                         server_url = "http://127.0.0.1:9/from-opts" })
      local rec = h.send(client, "attach_to_candidate", h.args())
      assert.equals("http://127.0.0.1:9/from-opts/ats/candidates/cand-1/attachments", rec.url)
      assert.equals("Bearer " .. KEY, header(rec, "authorization"))
      assert.equals("opt-int", header(rec, "x-integration-id"))
    end)

    it("an explicit server option beats KOMBO_SERVER_URL", function()
      local client = new_with_env(ENV, { api_key = KEY, server = "us" })
      assert.matches("(https://api.us.kombo.dev/v1,", tostring(client), 1, true)
    end)

    it("an explicit bad server option still raises when KOMBO_SERVER_URL is set", function()
      local ok = pcall(new_with_env, ENV, { api_key = KEY, server = "mars" })
      assert.is_false(ok)
    end)

    it("an empty KOMBO_SERVER_URL falls back to eu", function()
      local client = new_with_env({ KOMBO_SERVER_URL = "" }, { api_key = KEY })
      assert.matches("(https://api.kombo.dev/v1,", tostring(client), 1, true)
    end)

    it("no api key anywhere raises at kombo.new, naming api_key", function()
      local msg = raises_option(function() new_with_env({}, { server_url = h.OFFLINE_URL, integration_id = "i" }) end)
      assert.matches("option 'api_key'", msg, 1, true)
    end)

    local bad_keys = {
      { "empty", "" },
      { "with CR LF (header injection)", KEY .. "\r\nX-Evil: 1" },
      { "with a NUL (refused, not truncated)", KEY .. "\0tail" },
    }
    for _, case in ipairs(bad_keys) do
      it("an api key " .. case[1] .. " raises at kombo.new, naming api_key", function()
        local msg = raises_option(function()
          new_with_env({}, { api_key = case[2], server_url = h.OFFLINE_URL, integration_id = "i" })
        end)
        assert.matches("option 'api_key'", msg, 1, true)
      end)
    end

    it("an integration_id option with a NUL is refused, not truncated", function()
      local msg = raises_option(function() new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "int\0x" }) end)
      assert.matches("option 'integration_id'", msg, 1, true)
    end)

    it("a server_url option with a NUL is refused, not truncated", function()
      local msg = raises_option(function() new_with_env({}, { api_key = KEY, server_url = "http://127.0.0.1:9/v1\0.evil", integration_id = "i" }) end)
      assert.matches("option 'server_url'", msg, 1, true)
    end)
  end)

  describe("kombo.configure", function()
    it("changes the default client used by kombo.attach_to_candidate", function()
      h.with_env({}, function()
        kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "first" }
      end)
      local rec1 = h.send_call(function() return kombo.attach_to_candidate(h.args()) end)
      assert.equals("first", header(rec1, "x-integration-id"))

      h.with_env({}, function()
        kombo.configure { api_key = KEY, server_url = "http://127.0.0.1:9/second", integration_id = "second" }
      end)
      local rec2 = h.send_call(function() return kombo.attach_to_candidate(h.args()) end)
      assert.equals("second", header(rec2, "x-integration-id"))
      assert.equals("http://127.0.0.1:9/second/ats/candidates/cand-1/attachments", rec2.url)
    end)

    it("changes the default client used by kombo.attach_to_application", function()
      h.with_env({}, function()
        kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "app-int" }
      end)
      local rec = h.send_call(function() return kombo.attach_to_application(h.args({}, "application")) end)
      assert.equals("http://127.0.0.1:9/v1/ats/applications/cand-1/attachments", rec.url)
      assert.equals("app-int", header(rec, "x-integration-id"))
    end)

    it("returns the new default client", function()
      local client
      h.with_env({}, function() client = kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL } end)
      assert.equals(client, kombo.default_client())
    end)

    it("closes the previous default client", function()
      local old, new
      h.with_env({}, function()
        old = kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL }
        new = kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL }
      end)
      assert.are_not.equal(old, new)
      assert.has_error(function() old:attach_to_candidate(h.args()) end)
    end)

    it("validation through the default client reports problems", function()
      h.with_env({}, function() kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL } end)
      local res, err = kombo.attach_to_candidate(h.args { candidate_id = "" })
      assert.is_nil(res)
      assert.equals("validation", err.kind)
      assert.are.same({ "candidate_id", "integration_id" }, h.paths(err.problems), h.dump(err.problems))
    end)

    it("merges its options over the environment", function()
      h.with_env({ KOMBO_INTEGRATION_ID = "env-int", KOMBO_SERVER_URL = h.OFFLINE_URL }, function()
        kombo.configure { api_key = KEY }
      end)
      local rec = h.send_call(function() return kombo.attach_to_candidate(h.args()) end)
      assert.equals("env-int", header(rec, "x-integration-id"))
    end)
  end)

  describe("retries", function()
    it("false is accepted", function()
      local client = new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i",
                                        retries = false })
      local rec = h.send(client, "attach_to_candidate", h.args())
      assert.is_not_nil(rec)
    end)

    it("a table of retry options is accepted", function()
      local client = new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i",
        retries = { max_attempts = 5, initial_interval = 0.1, max_interval = 2, exponent = 2,
                    max_elapsed = 10, retry_unsafe = true } })
      assert.is_not_nil(h.send(client, "attach_to_candidate", h.args()))
    end)

    for _, bad in ipairs { 0, 1.5, -1 } do
      it("max_attempts = " .. bad .. " raises at kombo.new, naming the option", function()
        local msg = raises_option(function()
          new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i",
                             retries = { max_attempts = bad } })
        end)
        assert.matches("option 'retries.max_attempts' must be a whole number", msg, 1, true)
      end)
    end

    it("a negative interval raises at kombo.new, naming the option", function()
      local msg = raises_option(function()
        new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i",
                           retries = { initial_interval = -1 } })
      end)
      assert.matches("option 'retries.initial_interval'", msg, 1, true)
    end)

    it("max_response_bytes < 0 raises at kombo.new", function()
      local msg = raises_option(function()
        new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, max_response_bytes = -1 })
      end)
      assert.matches("option 'max_response_bytes'", msg, 1, true)
    end)

    it("connect_timeout <= 0 raises at kombo.new", function()
      local msg = raises_option(function()
        new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, connect_timeout = -5 })
      end)
      assert.matches("option 'connect_timeout' must be a positive number", msg, 1, true)
    end)

    it("a ca_file that cannot be read raises at kombo.new", function()
      local msg = raises_option(function()
        new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, ca_file = "/nonexistent/ca.pem" })
      end)
      assert.matches("option 'ca_file' cannot be read", msg, 1, true)
    end)

    it("timeout = 0 raises at kombo.new", function()
      local msg = raises_option(function() new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i", timeout = 0 }) end)
      assert.matches("option 'timeout'", msg, 1, true)
    end)
  end)

  describe("the api key", function()
    it("is not in tostring(client), which says <redacted>", function()
      local client = new_with_env({}, { api_key = KEY, integration_id = "i" })
      local s = tostring(client)
      assert.is_nil(s:find(KEY, 1, true))
      assert.matches("api_key=<redacted>", s, 1, true)
    end)

    it("is not in tostring(client) when it comes from KOMBO_API_KEY", function()
      local s = tostring(new_with_env({ KOMBO_API_KEY = ENV_KEY }))
      assert.is_nil(s:find(ENV_KEY, 1, true))
      assert.matches("<redacted>", s, 1, true)
    end)

    it("tostring(client) of a closed client says it is closed", function()
      local client = new_with_env({}, { api_key = KEY })
      client:close()
      assert.equals("kombo.client (closed)", tostring(client))
    end)

    it("is not reachable with pairs() on the client", function()
      local client = new_with_env({}, { api_key = KEY })
      for k, v in pairs(client) do
        assert.is_nil(tostring(k):find(KEY, 1, true))
        assert.is_nil(tostring(v):find(KEY, 1, true))
      end
    end)

    it("is not in a closed client's tostring", function()
      local client = new_with_env({}, { api_key = KEY })
      client:close()
      assert.is_nil(tostring(client):find(KEY, 1, true))
    end)

    local leaky = {
      { "many problems", { candidate_id = "", integration_id = "x\n",
        body = { attachment = { name = "", type = "X", data = "@", content_type = "pdf" } } } },
      { "the key given as the type", h.args { body = { attachment = h.attachment { type = KEY } } } },
      { "the key given as the candidate id with a newline", h.args { candidate_id = KEY .. "\n" } },
      { "the key given as the integration id with a newline", h.args { integration_id = KEY .. "\n" } },
      { "the key in a remote_fields value that is NaN", h.args { body = { attachment = h.attachment(),
        remote_fields = { [KEY] = 0 / 0 } } } },
    }
    for _, case in ipairs(leaky) do
      it("is not in tostring(err) or err.message for a validation error: " .. case[1], function()
        local client = new_with_env({}, { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i" })
        local err = h.validation_error(client, "attach_to_candidate", case[2])
        assert.is_nil(tostring(err):find(KEY, 1, true), tostring(err))
        assert.is_nil(err.message:find(KEY, 1, true), err.message)
        for _, p in ipairs(err.problems) do
          assert.is_nil(p.message:find(KEY, 1, true), p.message)
        end
      end)
    end

    it("is not in the error raised about the key itself", function()
      local bad = KEY .. "\r\nX-Evil: 1"
      local msg = raises_option(function()
        new_with_env({}, { api_key = bad, server_url = h.OFFLINE_URL, integration_id = "i" })
      end)
      assert.is_nil(msg:find(KEY, 1, true), msg)
      assert.is_nil(msg:find("X-Evil", 1, true), msg)
    end)
  end)
end)

-- issue 18 (9, 10): options that say what to fix.
describe("options: mistakes named plainly", function()
  local base = { api_key = KEY, server_url = h.OFFLINE_URL, integration_id = "i" }

  local function new_raises(over, env)
    local ok, err = pcall(new_with_env, env or {}, over and h.merge(base, over) or nil)
    assert.is_false(ok, "expected kombo.new to raise")
    return tostring(err)
  end

  it("an unknown option suggests the nearest one", function()
    assert.matches("unknown option 'timout' (did you mean 'timeout'?)", new_raises { timout = 5 }, 1, true)
    assert.matches("unknown option 'retries.max_atempts' (did you mean 'max_attempts'?)",
      new_raises { retries = { max_atempts = 2 } }, 1, true)
  end)

  for _, case in ipairs {
    { "retries.max_interval = 0", { retries = { max_interval = 0 } }, "option 'retries.max_interval' must be a positive" },
    { "timeout = math.huge", { timeout = math.huge }, "option 'timeout' must be a finite number of seconds" },
    { "connect_timeout = math.huge", { connect_timeout = math.huge }, "option 'connect_timeout' must be a finite number" },
    { "user_agent = \"\"", { user_agent = "" }, "option 'user_agent' must not be empty" },
    { "ca_file = \"/etc/passwd\"", { ca_file = "/etc/passwd" }, "option 'ca_file' is not a PEM bundle" },
    { "ca_file = a directory", { ca_file = "/etc" }, "option 'ca_file' is not a regular file" },
  } do
    it(case[1] .. " is refused at kombo.new", function()
      local msg = new_raises(case[2])
      assert.matches("bad argument #1 to 'new' (", msg, 1, true)
      assert.matches(case[3], msg, 1, true)
    end)
  end

  it("ca_file = a FIFO is refused without blocking on it", function()
    local fifo = os.tmpname()
    os.remove(fifo)
    assert(os.execute("mkfifo " .. fifo))
    local msg = new_raises { ca_file = fifo }
    os.remove(fifo)
    assert.matches("option 'ca_file' is not a regular file", msg, 1, true)
  end)

  it("ca_file = a PEM bundle is accepted", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("# a comment first\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    f:close()
    local ok, err = pcall(new_with_env, {}, h.merge(base, { ca_file = path }))
    os.remove(path)
    assert.is_true(ok, tostring(err))
  end)

  it("a value from the environment names its variable", function()
    local msg = new_raises(nil, { KOMBO_API_KEY = KEY, KOMBO_SERVER_URL = "localhost:8080" })
    assert.matches("KOMBO_SERVER_URL", msg, 1, true)
    assert.matches("must be an absolute http(s) URL", msg, 1, true)
    msg = new_raises(nil, { KOMBO_API_KEY = KEY, KOMBO_INTEGRATION_ID = ".." })
    assert.matches("KOMBO_INTEGRATION_ID", msg, 1, true)
  end)

  it("an empty KOMBO_INTEGRATION_ID is unset", function()
    local client = new_with_env({ KOMBO_API_KEY = KEY, KOMBO_INTEGRATION_ID = "" }, { server_url = h.OFFLINE_URL })
    assert.matches("integration_id=nil", tostring(client), 1, true)
  end)

  it("no key anywhere: kombo.new names KOMBO_API_KEY (an empty one counts as none)", function()
    for _, env in ipairs { {}, { KOMBO_API_KEY = "" } } do
      local msg = new_raises({ api_key = h.NONE }, env)
      assert.matches("bad argument #1 to 'new' (option 'api_key' is required: pass api_key or set KOMBO_API_KEY)",
        msg, 1, true)
    end
  end)

  it("kombo.check_api_key() with no key: a clean error naming KOMBO_API_KEY, at the caller's line", function()
    local ok, msg
    h.with_env({}, function()
      kombo.configure { api_key = KEY, server_url = h.OFFLINE_URL } -- (then drop it)
    end)
    package.loaded.kombo = nil
    local fresh = require "kombo"
    h.with_env({}, function() ok, msg = pcall(function() local r = fresh.check_api_key(); return r end) end)
    package.loaded.kombo = kombo
    assert.is_false(ok)
    msg = tostring(msg)
    assert.matches("option 'api_key' is required", msg, 1, true)
    assert.matches("KOMBO_API_KEY", msg, 1, true)
    assert.is_nil(msg:find("kombo/init.lua", 1, true), msg)
    assert.is_nil(msg:find("bad argument #1 to 'default_client'", 1, true), msg)
    assert.matches("options_spec.lua:%d+:", msg)
  end)
end)
