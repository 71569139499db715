-- core.fetch_sha256(url, opts): a plain GET of a download URL (an
-- attachment's data_url), digested as it streams, against the stand-in's
-- /_blob route, which logs what each request carried (/_blob_log).
local servers = require "support.servers"
local core = require "kombo.core"

local function blob_content(size, seed)
  local unit = "blob-" .. (seed or "0") .. "-"
  return unit:rep(math.ceil(size / #unit)):sub(1, size)
end

local function blob_url(key, query, host)
  local base = servers.standin_url()
  if host then base = base:gsub("127%.0%.0%.1", host) end
  return ("%s/_blob?key=%s&%s"):format(base, key, query)
end

local function blob_log(key)
  local status, _, body = servers.http("GET", servers.standin_url() .. "/_blob_log?key=" .. key)
  assert.equals(200, status)
  return servers.cjson.decode(body)
end

describe("integration: core.fetch_sha256 #integration", function()
  it("digests the download and sends no Kombo header", function()
    local key = servers.unique("blob"):gsub("[^%w]", "")
    local content = blob_content(100000, "a")
    local hex, size, ctype = core.fetch_sha256(blob_url(key, "size=100000&seed=a&type=application/pdf"))
    assert.equals(core.sha256(content), hex)
    assert.equals(100000, size)
    assert.equals("application/pdf", ctype)
    local log = blob_log(key)
    assert.equals(1, #log)
    assert.equals(servers.cjson.null, log[1].authorization)
    assert.equals(servers.cjson.null, log[1].integration_id)
  end)

  it("streams a 3 MiB download (no size cap)", function()
    local key = servers.unique("blob"):gsub("[^%w]", "")
    local n = 3 * 1024 * 1024 + 5
    local hex, size = core.fetch_sha256(blob_url(key, "size=" .. n .. "&seed=big"), { timeout = servers.TIMEOUT })
    assert.equals(core.sha256(blob_content(n, "big")), hex)
    assert.equals(n, size)
  end)

  it("follows redirects, digesting only the last body, and drops credentials on another host", function()
    local key = servers.unique("blob"):gsub("[^%w]", "")
    -- user:secret in the URL: Basic auth to 127.0.0.1 only; the redirects go to "localhost"
    local url = blob_url(key, "size=5000&seed=r&redirect=2&to=localhost"):gsub("^http://", "http://user:secret@")
    local hex, size = core.fetch_sha256(url)
    assert.equals(core.sha256(blob_content(5000, "r")), hex)
    assert.equals(5000, size)
    local log = blob_log(key)
    assert.equals(3, #log)
    assert.is_string(log[1].authorization) -- the URL's own credentials, to its own host
    assert.equals(servers.cjson.null, log[2].authorization)
    assert.equals(servers.cjson.null, log[3].authorization)
    assert.truthy(log[3].host:find("^localhost:"), log[3].host)
  end)

  it("follows at most 5 redirects", function()
    local key = servers.unique("blob"):gsub("[^%w]", "")
    local hex, msg = core.fetch_sha256(blob_url(key, "size=10&redirect=5"))
    assert.is_string(hex, msg)
    hex, msg = core.fetch_sha256(blob_url(key, "size=10&redirect=6&token=s3cr3t"))
    assert.is_nil(hex)
    assert.truthy(msg:find("redirect", 1, true), msg)
    assert.falsy(msg:find("s3cr3t", 1, true), msg)
  end)

  it("fails on a status >= 400, naming the status but not the query string", function()
    local key = servers.unique("blob"):gsub("[^%w]", "")
    local hex, msg = core.fetch_sha256(blob_url(key, "status=404&X-Amz-Signature=deadbeef"))
    assert.is_nil(hex)
    assert.equals("download of " .. servers.standin_url() .. "/_blob failed: HTTP status 404", msg)
    assert.falsy(msg:find("deadbeef", 1, true))
    hex, msg = core.fetch_sha256(blob_url(key, "status=503&sig=x"))
    assert.is_nil(hex)
    assert.truthy(msg:find("HTTP status 503", 1, true), msg)
  end)

  it("honours timeout and ca_file, and says why a connection failed", function()
    local hex, msg = core.fetch_sha256(("http://127.0.0.1:%d/x?tok=abc"):format(servers.free_port()), { timeout = 5 })
    assert.is_nil(hex)
    assert.truthy(msg:find("^download of http://127%.0%.0%.1:%d+/x failed: "), msg)
    assert.falsy(msg:find("tok=abc", 1, true), msg)
    -- ca_file is handed to libcurl: a missing bundle fails an https download before any byte
    hex, msg = core.fetch_sha256("https://127.0.0.1:1/x", { ca_file = "/nonexistent/ca.pem", timeout = 5 })
    assert.is_nil(hex)
    assert.is_string(msg)
    local t0 = core.now()
    hex, msg = core.fetch_sha256(blob_url("slow", "size=10&delay=3"), { timeout = 0.3 })
    assert.is_nil(hex)
    assert.truthy(msg:find("timed out", 1, true), msg)
    assert.truthy(core.now() - t0 < servers.bound(2))
    assert.has_error(function() core.fetch_sha256("http://x", { timeout = 0 }) end)
    assert.has_error(function() core.fetch_sha256("http://x", { timeout = "soon" }) end)
  end)
end)
