-- The proxy option: checked once at kombo.new (the core's kombo_proxy_parse),
-- never echoing the URL; its credentials among the secrets a client redacts;
-- no_proxy as the cosocket transport reads it.  (Calls through a proxy, both
-- transports: spec/nginx/proxy_spec.lua.)
local kombo = require "kombo"
local core = require "kombo.core"
local errors = require "kombo.errors"
local client_mod = require "kombo.client"
local cosocket = require "kombo.cosocket"
local h = require "unit.helpers"

local PASSWORD = "Zq7xW2vLk9pR4tYh"

local function raises(opts)
  local ok, err = pcall(kombo.new, opts)
  assert.is_false(ok, "expected kombo.new to raise")
  return tostring(err)
end

describe("the proxy option", function()
  it("takes an http:// URL, with or without port and credentials, and false", function()
    for _, p in ipairs { "http://127.0.0.1:3128", "http://proxy.example", "http://u:" .. PASSWORD .. "@proxy:8080/",
                         "HTTP://[::1]:3128", "http://u%40corp:p%3Ass@proxy:1", false } do
      local c = h.client { proxy = p }
      assert.is_nil(tostring(c):find(PASSWORD, 1, true))
      c:close()
    end
  end)

  it("the port defaults to 1080, libcurl's", function()
    assert.equals(1080, core.proxy("http://proxy.example").port)
    assert.equals("proxy.example:1080", core.proxy("http://proxy.example").authority)
  end)

  for _, case in ipairs {
    { "https://proxy:443", "HTTPS proxies are not supported" },
    { "socks5://proxy:1080", "must be an http:// URL" },
    { "proxy:3128", "must be an http:// URL" },
    { "http://", "has no host" },
    { "http://proxy:0", "has a bad port" },
    { "http://proxy:65536", "has a bad port" },
    { "http://proxy:", "has a bad port" },
    { "http://proxy:80/path", "without a path, query or fragment" },
    { "http://proxy:80?x=1", "without a path, query or fragment" },
    { "http://u:" .. PASSWORD .. " x@proxy:80", "must not contain spaces" },
    { "http://:" .. PASSWORD .. "@proxy:80", "without a user name" },
    { "http://u:" .. PASSWORD .. "%zz@proxy:80", "a bad %XX" },
    { "http://[zz]:80", "bad IPv6 address" },
    { "http://pro/xy:80", "without a path" },
    { true, "must be an http:// URL or false" },
  } do
    it(("refuses %s, naming the option and never quoting the value"):format(tostring(case[1])), function()
      local msg = raises { api_key = h.API_KEY, proxy = case[1] }
      assert.matches("bad argument #1 to 'new' (option 'proxy' ", msg, 1, true)
      assert.matches(case[2], msg, 1, true)
      assert.is_nil(msg:find(PASSWORD, 1, true), msg)
    end)
  end

  it("a number is the wrong type", function()
    assert.matches("option 'proxy' must be a string or boolean, got number",
      raises { api_key = h.API_KEY, proxy = 3128 }, 1, true)
  end)
end)

describe("proxy credentials are secrets", function()
  it("the client's secrets: the key, user:password, the password, the Basic token", function()
    local s = client_mod.secrets_of { api_key = h.API_KEY, proxy = "http://alice:" .. PASSWORD .. "@p:1" }
    assert.same({ h.API_KEY, "alice:" .. PASSWORD, PASSWORD, kombo.base64("alice:" .. PASSWORD) }, s)
    -- percent-encoded in the URL: the decoded forms (the redactor finds encoded echoes itself)
    s = client_mod.secrets_of { api_key = h.API_KEY, proxy = "http://alice:Zq7x%40W2vLk9pR4tYh@p:1" }
    assert.equals("Zq7x@W2vLk9pR4tYh", s[3])
    assert.same({ h.API_KEY }, client_mod.secrets_of { api_key = h.API_KEY, proxy = false })
  end)

  it("without the option, those of the environment's proxy variables", function()
    local original = os.getenv
    os.getenv = function(name) -- luacheck: ignore 122
      if name == "https_proxy" then return "http://bob:" .. PASSWORD .. "@p:1" end
      if name == "ALL_PROXY" then return "carol:Hn4kT8sW2qLx9vBz@p2:1" end -- no scheme: http://, as libcurl
      return original(name)
    end
    local ok, s = pcall(client_mod.secrets_of, { api_key = h.API_KEY })
    os.getenv = original -- luacheck: ignore 122
    assert.is_true(ok, s)
    local set = {}
    for _, v in ipairs(s) do set[v] = true end
    assert.is_true(set[PASSWORD])
    assert.is_true(set["bob:" .. PASSWORD])
    assert.is_true(set["Hn4kT8sW2qLx9vBz"])
  end)

  it("the kombo commands' printer redacts the environment's proxy credentials", function()
    local original = os.getenv
    os.getenv = function(name) -- luacheck: ignore 122
      if name == "https_proxy" then return "http://bob:" .. PASSWORD .. "@p:1" end
      return original(name)
    end
    local ok, put = pcall(require("kombo.cli.common").printer, nil)
    os.getenv = original -- luacheck: ignore 122
    assert.is_true(ok, put)
    local out = {}
    local stream = { write = function(_, s) out[#out + 1] = s end }
    put(stream, "proxy said " .. PASSWORD .. "\n")
    put(stream, '{"m":"' .. PASSWORD .. '"}', true)
    assert.same({ "proxy said <redacted>\n", '{"m":"<redacted>"}' }, out)
  end)

  it("an error echoing them (plain, percent-encoded, as the Basic token) is redacted", function()
    local s = client_mod.secrets_of { api_key = h.API_KEY, proxy = "http://alice:" .. PASSWORD .. "@p:1" }
    local echo = ("407: got alice:%s, Basic %s, pw=%s"):format(PASSWORD, kombo.base64("alice:" .. PASSWORD),
      PASSWORD:gsub("x", "%%78"))
    local _, err = errors.from_result({ kind = "http", outcome = "rejected", message = echo, body = echo,
                                     status = 407, attempts = 1 }, s)
    for _, v in ipairs { err.message, err.body, tostring(err) } do
      assert.is_nil(v:find(PASSWORD, 1, true), v)
      assert.is_nil(v:find("Zq7%78W2", 1, true), v)
      assert.is_nil(v:find(kombo.base64("alice:" .. PASSWORD), 1, true), v)
      assert.matches("<redacted>", v, 1, true)
    end
  end)
end)

describe("no_proxy (the cosocket transport's reading, libcurl's rule)", function()
  local m = cosocket.no_proxy_matches
  it("matches names, their subdomains, IP addresses and *", function()
    assert.is_true(m("*", "api.kombo.dev"))
    assert.is_true(m("kombo.dev", "api.kombo.dev"))
    assert.is_true(m(".kombo.dev", "api.kombo.dev"))
    assert.is_true(m("localhost, 127.0.0.1", "127.0.0.1"))
    assert.is_true(m("example.com API.Kombo.dev", "api.kombo.dev"))
    assert.is_true(m("::1", "[::1]"))
    assert.is_false(m("ombo.dev", "api.kombo.dev"))
    assert.is_false(m("api.kombo.dev.evil", "api.kombo.dev"))
    assert.is_false(m("", "api.kombo.dev"))
  end)
end)
