-- Shared helpers for the integration and contract specs: where the local
-- Kombo stand-in and the Prism mock run, what the stand-in recorded, raw
-- HTTP for requests our client refuses to send, and clients with bounded
-- timeouts and small retry intervals.
--
-- The servers are started by scripts/test, which exports
--   KOMBO_TEST_STANDIN_URL  (scripts/standin start)
--   KOMBO_TEST_PRISM_URL    (scripts/prism start)
-- Under valgrind (KOMBO_TEST_UNDER_VALGRIND=1) everything is 20-50x slower:
-- use servers.bound() for upper time limits and servers.TIMEOUT for clients.
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local kombo = require "kombo"
local sys = require "support.sys"

local servers = {}

servers.cjson = cjson
servers.API_KEY = "test-key" -- the only key the stand-in accepts (unless STANDIN_API_KEY)
-- A realistic 40+ byte key the stand-in does NOT accept: used for the
-- "the key never shows up" checks (it must be sent, and never printed).
servers.LONG_KEY = "kombo_sk_live_4f9d2c7a1b8e6035d9c4a2f7e1b0c8d3"
-- "%PDF-1.4\n" as base64.
servers.PDF_B64 = "JVBERi0xLjQK"
servers.UNDER_VALGRIND = os.getenv("KOMBO_TEST_UNDER_VALGRIND") == "1"
-- Per-attempt client timeout for calls that are expected to be quick.
servers.TIMEOUT = servers.UNDER_VALGRIND and 60 or 10

--- An upper time limit, relaxed under valgrind.
function servers.bound(seconds)
  if servers.UNDER_VALGRIND then return seconds * 10 + 5 end
  return seconds
end

local HOW_TO = "run the suite with scripts/test, or start the servers yourself:\n"
  .. "  export KOMBO_TEST_STANDIN_URL=$(scripts/standin start) KOMBO_TEST_PRISM_URL=$(scripts/prism start)\n"
  .. "  (stop them afterwards with: scripts/standin stop; scripts/prism stop)"

local function url_from_env(name)
  local url = os.getenv(name)
  if url == nil or url == "" then
    error(name .. " is not set: " .. HOW_TO, 3)
  end
  return (url:gsub("/+$", ""))
end

--- Base URL of the local Kombo stand-in (no /v1; the stand-in accepts both).
function servers.standin_url() return url_from_env("KOMBO_TEST_STANDIN_URL") end

--- Base URL of the Prism mock (its paths have no /v1 prefix).
function servers.prism_url() return url_from_env("KOMBO_TEST_PRISM_URL") end

---------------------------------------------------------------- ids

local counter = 0
local process_tag
local function tag()
  if not process_tag then
    local f = io.open("/dev/urandom", "rb")
    local bytes = f and f:read(6) or tostring(os.time()) .. tostring(os.clock())
    if f then f:close() end
    process_tag = (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, 12)
  end
  return process_tag
end

--- A string unique to this test run, e.g. "spec:3f9a0c12b7e4-17" (for
--- integration ids: the stand-in keys its -once/-twice counters by them,
--- and the specs find their own records by them).
function servers.unique(prefix)
  counter = counter + 1
  return ("%s:%s-%d"):format(prefix or "spec", tag(), counter)
end

---------------------------------------------------------------- raw HTTP

--- One raw HTTP request with luasocket (bypasses our client).
-- Returns status, headers (lower-case names), body; or nil, error.
function servers.http(method, url, headers, body)
  local chunks = {}
  local hdrs = {}
  for k, v in pairs(headers or {}) do hdrs[k] = v end
  if body then hdrs["content-length"] = tostring(#body) end
  local saved = http.TIMEOUT
  http.TIMEOUT = servers.TIMEOUT
  local ok, status, resp_headers = http.request {
    url = url, method = method, headers = hdrs,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  }
  http.TIMEOUT = saved
  if not ok then return nil, status end
  return status, resp_headers or {}, table.concat(chunks)
end

---------------------------------------------------------------- stand-in records

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- Every record the stand-in holds (GET /_requests), oldest first; only
--- those whose X-Integration-Id is `integration_id` when given (filtered by
--- the stand-in: the whole list grows to tens of MB over a suite run).
function servers.all_requests(integration_id)
  local url = servers.standin_url() .. "/_requests"
  if integration_id then url = url .. "?integration=" .. urlencode(integration_id) end
  local status, _, body = servers.http("GET", url)
  assert(status == 200, "GET /_requests failed: " .. tostring(status) .. " " .. tostring(body))
  return cjson.decode(body)
end

local function header_value(rec, name)
  local v = rec.headers and rec.headers[name]
  if type(v) == "table" then return v[1] end
  return v
end
servers.header_value = header_value

--- The stand-in's records that match `filter`:
--   a string:   records whose X-Integration-Id header is that string;
--   a function: records for which filter(rec) is true;
--   a table:    { integration_id =, route =, path_id = } (all given must match).
function servers.requests(filter)
  local out = {}
  local integ = type(filter) == "string" and filter
    or type(filter) == "table" and type(filter.integration_id) == "string" and filter.integration_id or nil
  for _, rec in ipairs(servers.all_requests(integ)) do
    local keep
    if type(filter) == "function" then
      keep = filter(rec)
    elseif type(filter) == "string" then
      keep = header_value(rec, "x-integration-id") == filter
    else
      keep = true
      for k, v in pairs(filter or {}) do
        local have = k == "integration_id" and header_value(rec, "x-integration-id") or rec[k]
        if have ~= v then keep = false end
      end
    end
    if keep then out[#out + 1] = rec end
  end
  return out
end

--- Clears the stand-in's records and scenario counters (POST /_reset).
-- The specs filter by unique integration ids instead, so that runs on
-- several Lua versions may share one stand-in; this is for manual use.
function servers.reset()
  local status, _, body = servers.http("POST", servers.standin_url() .. "/_reset", nil, "")
  assert(status == 200 or status == 204, "POST /_reset failed: " .. tostring(status) .. " " .. tostring(body))
end

---------------------------------------------------------------- ports

--- A TCP port on 127.0.0.1 where nothing listens (bound to port 0, read,
--- closed): connecting to it is refused.
servers.free_port = sys.free_port

---------------------------------------------------------------- clients

local merge = sys.merge
servers.merge = merge

-- Marks an option/field to remove from the defaults.
servers.NONE = sys.NONE

--- Runs fn with os.getenv answering only `vars` for KOMBO_* names (so that
--- a developer's KOMBO_API_KEY etc. cannot leak into a spec).
function servers.with_env(vars, fn)
  local original = os.getenv
  os.getenv = function(name)
    if type(name) == "string" and name:find("^KOMBO_") and not name:find("^KOMBO_TEST_") then
      return vars[name]
    end
    return original(name)
  end
  local ok, a, b = pcall(fn)
  os.getenv = original
  if not ok then error(a, 0) end
  return a, b
end

--- Retry options with tiny intervals (merged over `over`).
function servers.fast_retries(over)
  return merge({ max_attempts = 3, initial_interval = 0.01, max_interval = 0.05,
                 exponent = 1.5, max_elapsed = servers.bound(10) }, over)
end

--- A client for the stand-in: key "test-key", a fresh unique
--- integration_id (client.integration_id is not readable, so it is returned
--- as the second value), bounded timeouts, fast retries.
function servers.client(over)
  local integration_id = servers.unique("it")
  local opts = merge({
    api_key = servers.API_KEY, server_url = servers.standin_url(), integration_id = integration_id,
    timeout = servers.TIMEOUT, connect_timeout = 5, retries = servers.fast_retries(),
  }, over)
  local client = servers.with_env({}, function() return kombo.new(opts) end)
  return client, opts.integration_id
end

--- A client for Prism (any bearer key passes there).
function servers.prism_client(over)
  local integration_id = servers.unique("contract")
  local opts = merge({
    api_key = "prism-contract-key", server_url = servers.prism_url(), integration_id = integration_id,
    timeout = servers.TIMEOUT, connect_timeout = 5, retries = false,
  }, over)
  local client = servers.with_env({}, function() return kombo.new(opts) end)
  return client, opts.integration_id
end

--- A valid attachment with data (servers.NONE removes a field).
function servers.attachment(over)
  return merge({ name = "Frank Doe CV.pdf", content_type = "application/pdf", type = "CV",
                 data = servers.PDF_B64 }, over)
end

--- A valid attachment given by URL.
function servers.url_attachment(over)
  return merge({ name = "cv.pdf", type = "CV", data_url = "https://files.example.com/cv.pdf" }, over)
end

--- Deterministic dump of a value (sorted keys), for "never contains" checks.
function servers.dump(v, seen)
  seen = seen or {}
  if type(v) ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. servers.dump(v[k], seen) end
  seen[v] = nil
  return "{" .. table.concat(parts, ",") .. "}"
end

--- Sorted keys of a table.
function servers.keys(t)
  local list = {}
  for k in pairs(t or {}) do list[#list + 1] = k end
  table.sort(list, function(a, b) return tostring(a) < tostring(b) end)
  return list
end

return servers
