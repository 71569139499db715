-- Local stand-in for the Kombo ATS attachment-upload endpoints.
--
-- Runs inside nginx + lua-nginx-module (see nginx.conf.in and scripts/standin).
-- Endpoints served:
--   POST|GET [/v1]/ats/candidates/{candidate_id}/attachments
--   POST|GET [/v1]/ats/applications/{application_id}/attachments
--   GET [/v1]/ats/actions/ats_add_candidate_attachment
--   GET [/v1]/ats/actions/ats_add_application_attachment
--   GET [/v1]/ats/actions/ats_create_candidate, ats_create_application
--   POST [/v1]/ats/jobs/{job_id}/applications (generic, with ALREADY_EXISTS)
--   GET [/v1]/ats/jobs (generic, with a seeded job)
--   GET [/v1]/check-api-key
--   every other operation of spec/contract/kombo-openapi.json, generically
-- plus the control endpoints /_health, /_requests, /_reset, /_restrictions,
-- /_concurrency and the redirect target /elsewhere.  See README.md next to
-- this file for the scenario list.

local cjson = require("cjson.safe")
local dkjson = require("dkjson")
local store = require("store") -- jobs, candidates, applications: real pages, creates stored

-- Strict JSON: reject NaN / Infinity / hex numbers, so that a body accepted
-- here is also accepted by any standards-conforming JSON parser.
cjson.decode_invalid_numbers(false)
cjson.encode_invalid_numbers(false)
cjson.encode_sparse_array(true)

local ngx = ngx
local null = cjson.null

local M = {}

local RECORDS = ngx.shared.standin_records
local COUNTERS = ngx.shared.standin_counters
local STATE = ngx.shared.standin_state        -- accepted uploads, restrictions, limits
local INFLIGHT = ngx.shared.standin_inflight  -- in-flight uploads per integration (not reset)

local BODY_STORE_LIMIT = 2 * 1024 * 1024   -- raw body kept in the record up to 2 MiB

local API_KEY = os.getenv("STANDIN_API_KEY")
if not API_KEY or API_KEY == "" then
  API_KEY = "test-key"
end

---------------------------------------------------------------------------
-- helpers
---------------------------------------------------------------------------

local function tohex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unescape(s)
  return ngx.unescape_uri(s)
end

local function json_encode(v)
  local s, err = cjson.encode(v)
  if not s then
    error("json encode failed: " .. tostring(err))
  end
  -- cjson escapes '/', which is legal but noisy
  return (s:gsub("\\/", "/"))
end

-- JSON object with the keys in the given order: ordered_json({{"k", v}, ...})
local function ordered_json(pairs_list)
  local parts = {}
  for i, kv in ipairs(pairs_list) do
    parts[i] = json_encode(kv[1]) .. ":" .. json_encode(kv[2])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- ISO 8601 UTC time with milliseconds, like JavaScript's toISOString()
local function iso_now()
  local t = ngx.now()
  local sec = math.floor(t)
  local ms = math.floor((t - sec) * 1000 + 0.5)
  if ms > 999 then ms = 999 end
  return os.date("!%Y-%m-%dT%H:%M:%S", sec) .. string.format(".%03dZ", ms)
end

local function interaction_id()
  local n = COUNTERS:incr("__interaction_seq", 1, 0)
  return string.format("standin-%d-%d", ngx.time(), n or 0)
end

local function log_url()
  return "https://app.kombo.dev/logs?interactionId=" .. interaction_id()
end

local function send(status, body, content_type, extra_headers)
  ngx.status = status
  ngx.header["Content-Type"] = content_type or "application/json"
  if extra_headers then
    for k, v in pairs(extra_headers) do
      ngx.header[k] = v
    end
  end
  if body then
    ngx.header["Content-Length"] = #body
    ngx.print(body)
  end
  return ngx.exit(status)
end

local TITLES = {
  ["PLATFORM.INPUT_INVALID"] = "Input invalid",
  ["PLATFORM.AUTHENTICATION_INVALID"] = "Authentication invalid",
  ["PLATFORM.IP_NOT_WHITELISTED"] = "IP not whitelisted",
  ["PLATFORM.INTEGRATION_NOT_FOUND"] = "Integration not found",
  ["PLATFORM.RATE_LIMIT_EXCEEDED"] = "Rate limit exceeded",
  ["PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"] = "Concurrency limit exceeded",
  ["PLATFORM.UNKNOWN_ERROR"] = "Unknown error",
  ["ATS.APPLICATION_ALREADY_EXISTS"] = "Application already exists",
  ["REMOTE.INPUT_INVALID"] = "Remote input invalid",
  ["REMOTE.SERVICE_UNAVAILABLE"] = "Remote service unavailable",
}

-- Kombo error body: {"status":"error","error":{"code","title","message","log_url"}}
local function error_body(code, message, minimal)
  local err
  if minimal then
    err = { code = null, title = null, message = message, log_url = null }
  else
    err = {
      code = code,
      title = TITLES[code] or code,
      message = message,
      log_url = log_url(),
    }
  end
  return json_encode({ status = "error", error = err })
end

local function send_error(status, code, message, extra_headers, minimal)
  return send(status, error_body(code, message, minimal), "application/json", extra_headers)
end

-- Kombo error body with code/title/message and log_url null (check-api-key,
-- concurrency limit).
local function plain_error_body(code, message)
  return '{"status":"error","error":' .. ordered_json({
    { "code", code }, { "title", TITLES[code] or code },
    { "message", message }, { "log_url", null },
  }) .. '}'
end

---------------------------------------------------------------------------
-- recording
---------------------------------------------------------------------------

-- Reads the request body whether nginx kept it in memory or spilled it to a
-- temp file.  Returns the body string ("" when there is none).
local function read_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then
    return data
  end
  local path = ngx.req.get_body_file()
  if path then
    local f = io.open(path, "rb")
    if f then
      data = f:read("*a")
      f:close()
      return data or ""
    end
  end
  return ""
end

-- Short description of the attachment in a parsed body (kept even when the
-- body itself is too large to store).
local function attachment_summary(doc)
  if type(doc) ~= "table" or type(doc.attachment) ~= "table" then
    return null
  end
  local a = doc.attachment
  local data = a.data
  return {
    name = a.name == nil and null or a.name,
    type = a.type == nil and null or a.type,
    content_type = a.content_type == nil and null or a.content_type,
    data_url = a.data_url == nil and null or a.data_url,
    data_length = type(data) == "string" and #data or null,
    data_sha1 = type(data) == "string" and tohex(ngx.sha1_bin(data)) or null,
    has_remote_fields = doc.remote_fields ~= nil,
  }
end

-- parse_body(body) -> ok, value   (strict JSON; ok=false when empty/invalid)
local function parse_body(body)
  if body == "" then return false, nil end
  local v, err = cjson.decode(body)
  if err then return false, nil end
  return true, v
end

local function record_request(body, parsed_ok, parsed, extra)
  local seq = RECORDS:incr("__seq", 1, 0)
  local headers = ngx.req.get_headers(200)   -- lower-case names; repeats -> array
  local rec = {
    seq = seq,
    time = ngx.now(),
    method = ngx.req.get_method(),
    uri = ngx.var.request_uri,
    path = ngx.var.uri,
    query = ngx.var.args or null,
    http_version = ngx.req.http_version(),
    headers = headers,
    raw_header = ngx.req.raw_header(),
    body_length = #body,
    body_sha1 = tohex(ngx.sha1_bin(body)),
    body_stored = #body <= BODY_STORE_LIMIT,
    body = (#body <= BODY_STORE_LIMIT) and body or null,
    connection = tonumber(ngx.var.connection),
    connection_requests = tonumber(ngx.var.connection_requests),
    remote_port = tonumber(ngx.var.remote_port),
    standin_key = headers["x-standin-key"] or null,
    attachment = attachment_summary(parsed),
  }
  for k, v in pairs(extra or {}) do
    rec[k] = v
  end
  local s = json_encode(rec)
  -- "json": the request body itself, spliced in verbatim when it parsed as
  -- strict JSON (so empty arrays/objects keep their exact form) and is small
  -- enough to be stored.
  if parsed_ok and #body <= BODY_STORE_LIMIT then
    s = s:sub(1, -2) .. ',"json":' .. body .. '}'
  else
    s = s:sub(1, -2) .. ',"json":null}'
  end
  local ok, err, forcible = RECORDS:set("req:" .. seq, s)
  -- The X-Integration-Id alone, so that GET /_requests?integration= can
  -- pick a spec's records without decoding everyone else's.
  local integ = headers["x-integration-id"]
  if type(integ) == "table" then integ = integ[1] end
  if ok and type(integ) == "string" then RECORDS:set("integ:" .. seq, integ) end
  if not ok then
    ngx.log(ngx.ERR, "standin: could not store request record ", seq, ": ", err)
  elseif forcible then
    ngx.log(ngx.WARN, "standin: records dict full, older records evicted")
  end
  ngx.ctx.standin_seq = seq
  return seq
end

-- Remember the response decision for the current recorded request.
local function note_response(status, scenario, reason)
  local seq = ngx.ctx.standin_seq
  if seq then
    RECORDS:set("resp:" .. seq, json_encode({ status = status, scenario = scenario or null,
      reason = reason }))
  end
end

---------------------------------------------------------------------------
-- request validation (the way Kombo would do it)
---------------------------------------------------------------------------

local VALID_TYPES = { CV = true, COVER_LETTER = true, OTHER = true }

local function jsontype(v)
  -- dkjson marks decoded tables with __jsontype = "object" | "array"
  if v == dkjson.null then return "null" end
  if type(v) ~= "table" then
    return type(v)
  end
  local mt = getmetatable(v)
  return (mt and mt.__jsontype) or "object"
end

-- Returns nil when valid, otherwise a message naming the problem.
-- On success also returns the decoded attachment summary.
local function validate_body(body)
  if body == "" then
    return "Request body is required."
  end
  if cjson.decode(body) == nil then
    return "Request body is not valid JSON."
  end
  local doc, _, err = dkjson.decode(body, 1, dkjson.null)
  if err then
    return "Request body is not valid JSON: " .. tostring(err)
  end
  if jsontype(doc) ~= "object" then
    return "Request body must be a JSON object."
  end
  local a = doc.attachment
  if a == nil then
    return "body.attachment: Required"
  end
  if jsontype(a) ~= "object" then
    return "body.attachment: Expected object, received " .. jsontype(a)
  end
  if a.name == nil then
    return "body.attachment.name: Required"
  end
  if type(a.name) ~= "string" then
    return "body.attachment.name: Expected string, received " .. jsontype(a.name)
  end
  if a.type == nil then
    return "body.attachment.type: Required"
  end
  if type(a.type) ~= "string" or not VALID_TYPES[a.type] then
    return "body.attachment.type: Invalid enum value. Expected 'CV' | 'COVER_LETTER' | 'OTHER', received "
      .. (type(a.type) == "string" and ("'" .. a.type .. "'") or jsontype(a.type))
  end
  local has_data = a.data ~= nil
  local has_url = a.data_url ~= nil
  if has_data and has_url then
    return "body.attachment: Exactly one of 'data' and 'data_url' must be provided, got both."
  end
  if not has_data and not has_url then
    return "body.attachment: Exactly one of 'data' and 'data_url' must be provided, got neither."
  end
  local size = null
  if has_data then
    if type(a.data) ~= "string" then
      return "body.attachment.data: Expected string, received " .. jsontype(a.data)
    end
    local d = a.data
    if #d % 4 ~= 0 or not ngx.re.find(d, [[^[A-Za-z0-9+/]*={0,2}$]], "jo") then
      return "body.attachment.data: Invalid base64 string."
    end
    local pad = 0
    if d:sub(-2) == "==" then pad = 2 elseif d:sub(-1) == "=" then pad = 1 end
    size = (#d / 4) * 3 - pad
  else
    if type(a.data_url) ~= "string" then
      return "body.attachment.data_url: Expected string, received " .. jsontype(a.data_url)
    end
    if not ngx.re.find(a.data_url, [[^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$]], "jo") then
      return "body.attachment.data_url: Invalid url"
    end
  end
  if a.content_type ~= nil then
    if type(a.content_type) ~= "string" then
      return "body.attachment.content_type: Expected string, received " .. jsontype(a.content_type)
    end
    if not ngx.re.find(a.content_type, [[^[\w.-]+/[\w.-]+$]], "jo") then
      return "body.attachment.content_type: Invalid content type '" .. a.content_type
        .. "' (must match ^[\\w.-]+/[\\w.-]+$)"
    end
  end
  if doc.remote_fields ~= nil and jsontype(doc.remote_fields) ~= "object" then
    return "body.remote_fields: Expected object, received " .. jsontype(doc.remote_fields)
  end
  return nil, {
    name = a.name,
    type = a.type,
    content_type = a.content_type or null,
    size_bytes = size,
    data_url = has_url and a.data_url or nil,
    data = has_data and a.data or nil, -- base64: kept for GET /_files/ (store_upload)
  }
end

---------------------------------------------------------------------------
-- scenarios
---------------------------------------------------------------------------

local RETRY_AFTER_MODES = {
  seconds = function() return "1" end,
  zero = function() return "0" end,
  date = function() return ngx.http_time(ngx.time() + 3) end,
  negative = function() return "-1" end,
  huge = function() return "100000" end,
  garbage = function() return "soon-ish" end,
  none = function() return nil end,
}

-- value of the Retry-After header for this request (nil = omit)
local function retry_after(mode, default_mode)
  local hdr = ngx.var.http_x_standin_retry_after
  if hdr and hdr ~= "" then
    if RETRY_AFTER_MODES[hdr] then
      return RETRY_AFTER_MODES[hdr]()
    end
    local n = hdr:match("^date%+(%d+)$")
    if n then
      return ngx.http_time(ngx.time() + tonumber(n))
    end
    return hdr   -- literal value, sent verbatim
  end
  return RETRY_AFTER_MODES[mode or default_mode]()
end

-- How many times this (scenario, key) has been hit, this hit included.
-- scenario is the full name (e.g. "429-once-date"); key is X-Standin-Key,
-- else X-Integration-Id.
local function bump(scenario)
  local key = ngx.var.http_x_standin_key
  if not key or key == "" then
    key = ngx.var.http_x_integration_id or ""
  end
  return COUNTERS:incr("hits:" .. scenario .. "|" .. key, 1, 0)
end

local ERROR_SCENARIOS = {
  ["error-400"] = { 400, "PLATFORM.INPUT_INVALID", "The request body is invalid (stand-in scenario error-400)." },
  ["error-401"] = { 401, "PLATFORM.AUTHENTICATION_INVALID", "The provided API key is invalid (stand-in scenario error-401)." },
  ["error-403"] = { 403, "PLATFORM.IP_NOT_WHITELISTED", "Your IP address is not whitelisted (stand-in scenario error-403)." },
  ["error-404"] = { 404, "PLATFORM.INTEGRATION_NOT_FOUND", "No integration found for the given X-Integration-Id (stand-in scenario error-404)." },
  ["error-409"] = { 409, "ATS.APPLICATION_ALREADY_EXISTS", "The application already exists (stand-in scenario error-409)." },
  ["error-422"] = { 422, "REMOTE.INPUT_INVALID", "The remote system rejected the input (stand-in scenario error-422)." },
  ["error-500"] = { 500, "PLATFORM.UNKNOWN_ERROR", "An unknown error occurred (stand-in scenario error-500)." },
}
ERROR_SCENARIOS["500"] = ERROR_SCENARIOS["error-500"]

-- Answers whose Kombo code, not their status, says what happened (the SDK
-- branches on the code): nothing done behind a status that alone would say
-- "maybe done" or "refused", and the setup codes.  "-once" after the name:
-- the first hit per counter key, then success.
local CODE_SCENARIOS = {
  ["remote-ratelimit"] = { 429, "REMOTE.RATE_LIMIT_EXCEEDED", "The remote system's rate limit was exceeded (stand-in)." },
  ["remote-unavailable-502"] = { 502, "REMOTE.SERVICE_UNAVAILABLE", "The remote system is temporarily unavailable (stand-in, as a 502)." },
  ["setup-incomplete"] = { 409, "INTEGRATION.SETUP_INCOMPLETE", "The integration's setup is not complete (stand-in)." },
  ["setup-sync-pending"] = { 409, "INTEGRATION.SETUP_SYNC_PENDING", "The integration's first sync has not finished (stand-in)." },
}

-- Key of the list of accepted uploads for (kind, integration, path id).
local function uploads_key(kind, integ, id)
  return kind .. ":" .. #integ .. ":" .. integ .. ":" .. id
end

local FILES = ngx.shared.standin_files -- uploaded bytes, served by GET /_files/<attachment id>
local FILE_STORE_LIMIT = 8 * 1024 * 1024

-- The listing's evidence for an integration (/_listing): "full" (default),
-- "none" (no data_url, no remote_created_at), "time" (no data_url), "url"
-- (no remote_created_at) or "unavailable" (the listing fails).
local function listing_mode(integ)
  return STATE:get("listing:" .. integ) or "full"
end

-- One listed attachment: the shape Kombo's GET .../attachments gives.
local function listed_item(kind, id, att_id, info, created_at, url)
  local ct = info.content_type
  if type(ct) ~= "string" then ct = "application/octet-stream" end
  return ordered_json({
    { "id", att_id },
    { "application_id", kind == "application" and id or null },
    { "candidate_id", kind == "candidate" and id or ("cand-of-" .. id) },
    { "type", info.type },
    { "remote_id", "remote-" .. att_id },
    { "data_url", url },
    { "file_name", info.name },
    { "content_type", ct },
    { "remote_created_at", created_at },
    { "remote_updated_at", created_at },
  })
end

local function push_item(kind, integ, id, item, att_id)
  local k = uploads_key(kind, integ, id)
  local n = STATE:incr("upn:" .. k, 1, 0)
  local ok, err = STATE:set("up:" .. k .. ":" .. n, item)
  if not ok then
    ngx.log(ngx.ERR, "standin: could not store upload ", att_id, ": ", err)
  end
end

-- Keeps an upload's bytes (up to FILE_STORE_LIMIT) and gives the URL that
-- serves them, like an ATS's download link; a placeholder otherwise.
local function file_url(att_id, bytes)
  if bytes and #bytes <= FILE_STORE_LIMIT and FILES:set(att_id, bytes) then
    return ngx.var.scheme .. "://" .. (ngx.var.http_host or ("127.0.0.1:" .. ngx.var.server_port))
      .. "/_files/" .. att_id
  end
  return "https://standin.invalid/files/" .. att_id
end

-- Remember an accepted upload, for GET .../attachments.
local function store_upload(kind, id, att_id, info)
  local integ = ngx.ctx.standin_integ
  if not integ then return end
  local bytes = info.data and ngx.decode_base64(info.data) or nil
  push_item(kind, integ, id, listed_item(kind, id, att_id, info, iso_now(), file_url(att_id, bytes)), att_id)
end

local function success_body(kind, id, info, warnings)
  local att_id = string.format("att_%06d", COUNTERS:incr("__attachment_seq", 1, 0))
  store_upload(kind, id, att_id, info)
  local data = {
    id = att_id,
    remote_id = null,
    name = info.name,
    content_type = info.content_type,
    type = info.type,
    size_bytes = info.size_bytes,
  }
  data[kind .. "_id"] = id
  local w = warnings or {}
  local s = json_encode({ status = "success", data = data, warnings = { 0 } })
  -- cjson cannot tell an empty array from an empty object: splice it in.
  local wjson = "[]"
  if #w > 0 then
    wjson = json_encode(w)
  end
  return (s:gsub('"warnings":%[0%]', function() return '"warnings":' .. wjson end))
end

-- The success answers of one operation:
--   op.success(warnings) -> body text of the 200 answer (warnings: array or nil)
--   op.missing_warnings() -> the same without the "warnings" member

-- POST .../attachments
local function upload_op(kind, id, info)
  return {
    success = function(warnings) return success_body(kind, id, info, warnings) end,
    missing_warnings = function()
      local t = cjson.decode(success_body(kind, id, info))
      t.warnings = nil
      return json_encode(t)
    end,
  }
end

local function warnings_json(warnings)
  if warnings and #warnings > 0 then
    return json_encode(warnings)
  end
  return "[]"
end

-- GET .../attachments: the accepted uploads for this integration and id.
local function list_op(kind, id, integ)
  local function results()
    local k = uploads_key(kind, integ, id)
    local n = STATE:get("upn:" .. k) or 0
    local items = {}
    local mode = listing_mode(integ)
    for i = 1, n do
      local item = STATE:get("up:" .. k .. ":" .. i)
      if item and mode ~= "full" then
        local t = cjson.decode(item)
        if mode == "none" or mode == "time" then
          item = item:gsub('"data_url":"[^"]*"', '"data_url":null')
        end
        if (mode == "none" or mode == "url") and t.remote_created_at ~= null then
          item = item:gsub('"remote_created_at":"[^"]*"', '"remote_created_at":null')
        end
      end
      if item then items[#items + 1] = item end
    end
    return '{"status":"success","data":{"results":[' .. table.concat(items, ",") .. ']}'
  end
  return {
    success = function(warnings) return results() .. ',"warnings":' .. warnings_json(warnings) .. '}' end,
    missing_warnings = function() return results() .. '}' end,
  }
end

-- Answers without a "warnings" member in the API description (actions,
-- check-api-key): ok-warnings adds one anyway.
local function data_op(data_json, always_warnings)
  local base = '{"status":"success","data":' .. data_json
  return {
    success = function(warnings)
      if always_warnings or warnings and #warnings > 0 then
        return base .. ',"warnings":' .. warnings_json(warnings) .. '}'
      end
      return base .. '}'
    end,
    missing_warnings = function() return base .. '}' end,
  }
end

local DEFAULT_RESTRICTIONS = '{"types":{'
  .. '"CV":{"is_supported":true,"max_file_size_bytes":null,"accepted_mime_types":null},'
  .. '"COVER_LETTER":{"is_supported":true,"max_file_size_bytes":null,"accepted_mime_types":null},'
  .. '"OTHER":{"is_supported":true,"max_file_size_bytes":null,"accepted_mime_types":null}}}'

-- The creates' (GET /ats/actions/ats_create_application, _candidate):
-- the example of Kombo's description, so that preflight has rules to apply
-- (a CV, PDF or Word, at most 10 MB, exactly one; any cover letters; no
-- OTHER; 20 MB in all).
local DEFAULT_CREATE_RESTRICTIONS = '{"total_size_bytes":20000000,"types":{'
  .. '"CV":{"is_supported":true,"min_amount":1,"max_amount":1,"max_file_size_bytes":10000000,'
  .. '"accepted_mime_types":["application/pdf","application/msword"]},'
  .. '"COVER_LETTER":{"is_supported":true,"min_amount":0,"max_amount":null,"max_file_size_bytes":null,'
  .. '"accepted_mime_types":null},'
  .. '"OTHER":{"is_supported":false}}}'

-- The targets of /_restrictions: the two uploads' and the two creates'.
local RESTRICTION_TARGETS = { "candidate", "application", "create_candidate", "create_application" }

local function restrictions_for(target, integ)
  return STATE:get("restr:" .. target .. ":" .. integ)
    or (target:match("^create_") and DEFAULT_CREATE_RESTRICTIONS or DEFAULT_RESTRICTIONS)
end

-- GET /ats/actions/ats_add_<target>_attachment, /ats/actions/ats_<target>
-- for the creates (late by the integration's /_restrictions delay, if one
-- is set)
local function actions_op(target, integ)
  local late = STATE:get("restr_delay:" .. target .. ":" .. integ)
  if late and late > 0 then ngx.sleep(late) end
  return data_op('{"attachment_restrictions":' .. restrictions_for(target, integ) .. '}')
end

local ENVIRONMENT_ID = "StandinEnvironment123456"   -- 24 chars, Kombo's id alphabet
local CUSTOMER_ID = "StandinCustomer123456789"

-- GET /check-api-key
local function check_op()
  return data_op(ordered_json({ { "environment_id", ENVIRONMENT_ID }, { "customer_id", CUSTOMER_ID } }))
end

local function send_ok(op, warnings, content_type, extra_headers)
  note_response(200, ngx.ctx.standin_scenario)
  return send(200, op.success(warnings), content_type or "application/json", extra_headers)
end

-- Run the scenario for operation `op` (see upload_op etc.).
local function run_scenario(sc, op)
  ngx.ctx.standin_scenario = sc

  local delay = tonumber(ngx.var.http_x_standin_delay or "")
  if delay and delay > 0 then
    ngx.sleep(delay)
  end

  if sc == "ok" then
    return send_ok(op)
  end

  if sc == "ok-warnings" then
    return send_ok(op, {
      { message = "The remote system ignored the content_type field." },
      { message = "Stand-in warning number two." },
    })
  end

  if sc == "ok-charset" then
    return send_ok(op, nil, "application/json; charset=utf-8")
  end

  local e = ERROR_SCENARIOS[sc]
  if e then
    note_response(e[1], sc)
    return send_error(e[1], e[2], e[3])
  end

  local cname, once = sc:match("^(.-)(%-once)$")
  local ce = CODE_SCENARIOS[cname or sc]
  if ce then
    if once and bump(sc) > 1 then
      return send_ok(op)
    end
    note_response(ce[1], sc)
    return send_error(ce[1], ce[2], ce[3])
  end

  if sc == "error-minimal" then
    note_response(400, sc)
    return send_error(400, nil, "Only the message is always present.", nil, true)
  end

  -- 429 / 503 / 500 families:  429[-once|-twice|-always|-<N>times][-<retry-after-mode>]
  -- (plain "500" is the error-500 alias above)
  local code, rest = sc:match("^(%d%d%d)(.*)$")
  if code == "429" or code == "503" or code == "500" then
    local times, mode = "always", nil
    local ok_parse = true
    if rest ~= "" then
      local parts = {}
      for p in rest:gmatch("-([^-]+)") do parts[#parts + 1] = p end
      local i = 1
      local p = parts[i]
      if p == "once" or p == "twice" or p == "always" or (p and p:match("^%d+times$")) then
        times = p
        i = i + 1
      end
      if parts[i] then
        if RETRY_AFTER_MODES[parts[i]] then
          mode = parts[i]
          i = i + 1
        end
      end
      if parts[i] or rest:gsub("-[^-]+", "") ~= "" then ok_parse = false end
    end
    if ok_parse then
      local limit
      if times == "once" then limit = 1
      elseif times == "twice" then limit = 2
      elseif times == "always" then limit = math.huge
      else limit = tonumber(times:match("^(%d+)")) end
      local n = bump(sc)
      if n <= limit then
        local ra
        if code == "429" then
          ra = retry_after(mode, "seconds")
        elseif code == "503" then
          ra = retry_after(mode, "zero")
        else
          ra = retry_after(mode, "none")
        end
        note_response(tonumber(code), sc)
        if code == "500" then
          return send_error(500, "PLATFORM.UNKNOWN_ERROR",
            "An unknown error occurred (stand-in scenario " .. sc .. ").", { ["Retry-After"] = ra })
        elseif code == "429" then
          return send_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED",
            "You have exceeded the rate limit. Please retry later.", { ["Retry-After"] = ra })
        else
          return send_error(503, "REMOTE.SERVICE_UNAVAILABLE",
            "The remote system is temporarily unavailable.", { ["Retry-After"] = ra })
        end
      end
      return send_ok(op)
    end
  end

  if sc == "502" or sc == "502-html" then
    note_response(502, sc)
    return send(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
      .. "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
      .. "</body>\r\n</html>\r\n", "text/html")
  end

  if sc == "504" or sc == "504-text" then
    note_response(504, sc)
    return send(504, "upstream request timeout", "text/plain")
  end

  local secs = sc:match("^slow%-(%d+%.?%d*)$")
  if sc == "slow" or secs then
    ngx.sleep(tonumber(secs or "2"))
    return send_ok(op)
  end

  -- hold-<ms>: like slow, in milliseconds (to make uploads overlap)
  local ms = sc:match("^hold%-(%d+)$")
  if ms then
    ngx.sleep(tonumber(ms) / 1000)
    return send_ok(op)
  end

  -- rate-limit / concurrency-limit headers
  if sc == "ratelimit" then
    return send_ok(op, nil, nil, {
      ["RateLimit-Limit"] = "100", ["RateLimit-Remaining"] = "99", ["RateLimit-Reset"] = "30",
    })
  end

  if sc == "ratelimit-429" then
    note_response(429, sc)
    return send_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED",
      "You have exceeded the rate limit. Please retry later.", {
        ["RateLimit-Limit"] = "100", ["RateLimit-Remaining"] = "0", ["RateLimit-Reset"] = "1",
        ["Retry-After"] = retry_after(nil, "seconds"),
      })
  end

  if sc == "limits-malformed" then
    -- nginx drops headers with an empty value, so this answer is written by
    -- hand on the raw connection (which nginx then closes: Connection: close).
    note_response(200, sc)
    local b = op.success()
    local sock, err = ngx.req.socket(true)
    if not sock then
      ngx.log(ngx.ERR, "standin: raw socket unavailable: ", err)
      return send(500, error_body("PLATFORM.UNKNOWN_ERROR", "raw socket unavailable: " .. tostring(err)))
    end
    local head = table.concat({
      "HTTP/1.1 200 OK",
      "Server: nginx",
      "Date: " .. ngx.http_time(ngx.time()),
      "Content-Type: application/json",
      "Content-Length: " .. #b,
      "Connection: close",
      "Concurrency-Limit: abc",
      "Concurrency-Remaining: -1",
      "RateLimit-Limit: 1.5",
      "RateLimit-Remaining: ",
      "RateLimit-Reset: 0x10",
    }, "\r\n")
    sock:send(head .. "\r\n\r\n" .. b)
    return ngx.exit(ngx.OK)
  end

  if sc == "ok-missing-data" then
    note_response(200, sc)
    return send(200, '{"status":"success"}')
  end

  -- JSON escapes in keys and values mean the same text (RFC 8259): a
  -- client must not need them written plainly.
  if sc == "ok-escaped-keys" then
    note_response(200, sc)
    return send(200, '{"st\\u0061tus":"succ\\u0065ss","d\\u0061ta":{"id":"att_\\u00e9"},'
      .. '"w\\u0061rnings":[{"m\\u0065ssage":"a\\nb"}]}')
  end

  if sc == "400-escaped-keys" then
    note_response(400, sc)
    return send(400, '{"st\\u0061tus":"error","\\u0065rror":{"c\\u006fde":"INTEGRATION.MODEL_NOT_AVAILABLE",'
      .. '"title":"Not \\u0061vailable","message":"The model is not available.","log_url":null}}')
  end

  if sc == "ok-missing-warnings" then
    note_response(200, sc)
    return send(200, op.missing_warnings())
  end

  if sc == "not-json" then
    note_response(200, sc)
    return send(200, "not json")
  end

  if sc == "empty-body" then
    note_response(200, sc)
    return send(200, "")
  end

  if sc == "truncated" then
    note_response(200, sc)
    local b = op.success()
    return send(200, b:sub(1, math.floor(#b / 2)))
  end

  if sc == "huge" or sc == "huge-chunked" then
    -- valid positive response, 3 MiB (> 2 MiB cap)
    note_response(200, sc)
    local pad = string.rep("x", 3 * 1024 * 1024)
    local b = op.success()
    b = b:gsub('"status":"success"', function() return '"padding":"' .. pad .. '","status":"success"' end, 1)
    ngx.status = 200
    ngx.header["Content-Type"] = "application/json"
    if sc == "huge" then
      ngx.header["Content-Length"] = #b
      ngx.print(b)
    else
      -- no Content-Length: chunked, sent in 64 KiB pieces
      for i = 1, #b, 65536 do
        ngx.print(b:sub(i, i + 65535))
        ngx.flush(true)
      end
    end
    return ngx.exit(200)
  end

  if sc == "short-body" then
    -- Content-Length promises more than is sent, then the connection is closed
    note_response(200, sc)
    local b = op.success()
    ngx.status = 200
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #b
    ngx.print(b:sub(1, 10))
    ngx.flush(true)
    return ngx.exit(ngx.ERROR)
  end

  if sc == "redirect" or sc == "redirect-302" or sc == "redirect-307" then
    local status = (sc == "redirect-307") and 307 or 302
    note_response(status, sc)
    local loc = "http://127.0.0.1:" .. ngx.var.server_port .. "/elsewhere"
    return send(status, error_body(nil, "Moved to " .. loc, true), "application/json",
      { Location = loc })
  end

  if sc == "drip" then
    -- status + headers at once, then the (valid, 44-byte) body 1 byte per
    -- interval (default 1 s, header X-Standin-Drip-Interval).
    note_response(200, sc)
    local b = '{"status":"success","data":{},"warnings":[]}'
    local interval = tonumber(ngx.var.http_x_standin_drip_interval or "") or 1
    ngx.status = 200
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #b
    ngx.send_headers()
    ngx.flush(true)
    for i = 1, #b do
      ngx.sleep(interval)
      local ok = ngx.print(b:sub(i, i))
      if not ok then return ngx.exit(ngx.ERROR) end
      ngx.flush(true)
    end
    return ngx.exit(200)
  end

  if sc == "close" then
    note_response(444, sc)
    return ngx.exit(444)
  end

  note_response(400, sc)
  return send_error(400, "PLATFORM.INPUT_INVALID",
    "Unknown stand-in scenario '" .. sc .. "' (see spec/standin/README.md).")
end

---------------------------------------------------------------------------
-- entry points
---------------------------------------------------------------------------

---------------------------------------------------------------------------
-- every other operation of Kombo's description (generic)
---------------------------------------------------------------------------

-- The description next to this file (spec/contract/kombo-openapi.json),
-- read once per worker on first use: each path becomes a pattern, each of
-- its methods an operation.  Such a route checks the key, the integration
-- id (when the operation takes one), and for a body its Content-Type and
-- strict JSON, then runs the scenario with Kombo's positive envelope
-- {"status":"success","data":{...},"warnings":[]}: data is
-- {"next":null,"results":[]} for a listing (its answer has data.results),
-- else {}.  The body itself is not validated against the description (the
-- stand-in answers what arrived; the SDK's own checks are the subject of
-- the specs).
local OPERATIONS -- { { pattern =, methods = { GET = { id =, integration =, listing = } } } }

local function description_path()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/[^/]*$") or "."
  return dir .. "/../contract/kombo-openapi.json"
end

local function resolve(doc, node)
  for _ = 1, 8 do
    if type(node) ~= "table" or type(node["$ref"]) ~= "string" then return node end
    local t = doc
    for part in node["$ref"]:gmatch("[^/#]+") do t = type(t) == "table" and t[part] or nil end
    node = t
  end
  return node
end

local function is_listing(doc, op)
  local ok = resolve(doc, op.responses and op.responses["200"])
  local content = type(ok) == "table" and ok.content and ok.content["application/json"]
  local schema = resolve(doc, content and content.schema)
  local data = resolve(doc, type(schema) == "table" and schema.properties and schema.properties.data)
  return type(data) == "table" and type(data.properties) == "table" and data.properties.results ~= nil
end

local function operations()
  if OPERATIONS then return OPERATIONS end
  OPERATIONS = {}
  local f = io.open(description_path(), "rb")
  if not f then
    ngx.log(ngx.ERR, "standin: cannot read ", description_path())
    return OPERATIONS
  end
  local doc = cjson.decode(f:read("*a"))
  f:close()
  for path, item in pairs(type(doc) == "table" and doc.paths or {}) do
    local route = { methods = {}, path = path, nparams = 0 }
    route.pattern = "^(?:/v1)?" .. path:gsub("[%.%-]", "\\%0"):gsub("{[^}]+}", function()
      route.nparams = route.nparams + 1
      return "([^/?]+)"
    end) .. "(?:\\?.*)?$"
    for method, op in pairs(item) do
      if type(op) == "table" and method:match("^%l+$") and method ~= "parameters" then
        local integration = false
        for _, param in ipairs(op.parameters or {}) do
          param = resolve(doc, param)
          if type(param) == "table" and param["in"] == "header" and param.name == "X-Integration-Id" then
            integration = true
          end
        end
        route.methods[method:upper()] = { id = op.operationId or null, integration = integration,
                                          listing = is_listing(doc, op) }
      end
    end
    OPERATIONS[#OPERATIONS + 1] = route
  end
  -- Fixed paths before templated ones (/ats/candidates/tags before /ats/candidates/{id}).
  table.sort(OPERATIONS, function(a, b)
    if a.nparams ~= b.nparams then return a.nparams < b.nparams end
    return a.path < b.path
  end)
  return OPERATIONS
end

local function find_operation(uri)
  for _, route in ipairs(operations()) do
    local m = ngx.re.match(uri, route.pattern, "jo")
    if m then return route, m[1] and unescape(m[1]) or nil end
  end
  return nil
end

local function operation_op(listing)
  return data_op(listing and '{"next":null,"results":[]}' or "{}", true)
end

-- An operation the store serves (store.serve): its data is made when a
-- success answer is, so that a create stores its records only then.
local function stored_op(make_data)
  return {
    success = function(warnings) return data_op(make_data(), true).success(warnings) end,
    missing_warnings = function() return data_op(make_data(), true).missing_warnings() end,
  }
end

-- POST /ats/jobs/{job_id}/applications.  The stand-in's own table of the
-- applications it accepted, keyed by integration, job and the candidate's
-- email_address (lower-cased): a second one is 409
-- ATS.APPLICATION_ALREADY_EXISTS, whatever the scenario.  Accepted (the
-- scenario's success, as for uploads): an answer in the shape of Kombo's
-- application, with ids of the stand-in's (app_000001, cand_000001: one
-- candidate per email_address and integration), and the attachments
-- listed under that candidate (GET /ats/candidates/{id}/attachments).
local function application_key(integ, job_id, email)
  return "app:" .. #integ .. ":" .. integ .. ":" .. #job_id .. ":" .. job_id .. ":" .. email
end

local function application_op(integ, job_id, doc, email)
  local data -- made once: the scenarios that break a success ask for it again
  local function accept()
    if data then return data end
    local c = type(doc.candidate) == "table" and doc.candidate or {}
    local cand_key = "cand:" .. #integ .. ":" .. integ .. ":" .. (email or "")
    local cand_id = email and STATE:get(cand_key)
    if not cand_id then
      cand_id = string.format("cand_%06d", COUNTERS:incr("__candidate_seq", 1, 0))
      if email then STATE:set(cand_key, cand_id) end
    end
    local app_id = string.format("app_%06d", COUNTERS:incr("__application_seq", 1, 0))
    if email then STATE:set(application_key(integ, job_id, email), app_id) end
    -- listed from now on (GET /ats/applications, /ats/candidates: store.lua)
    store.created("POST /ats/jobs/{job_id}/applications", integ, doc, job_id,
      { candidate = cand_id, application = app_id })
    local now = iso_now()
    for _, a in ipairs(type(doc.attachments) == "table" and doc.attachments or {}) do
      if type(a) == "table" and type(a.name) == "string" and type(a.type) == "string" then
        local att_id = string.format("att_%06d", COUNTERS:incr("__attachment_seq", 1, 0))
        local url = type(a.data_url) == "string" and a.data_url
        if not url then -- a large document is not kept (nor decoded)
          local small = type(a.data) == "string" and #a.data <= FILE_STORE_LIMIT * 4 / 3 + 4
          local bytes = small and ngx.decode_base64(a.data)
          url = file_url(att_id, bytes or nil)
        end
        push_item("candidate", integ, cand_id, listed_item("candidate", cand_id, att_id,
          { name = a.name, type = a.type, content_type = a.content_type }, now, url), att_id)
      end
    end
    local function str(v) return type(v) == "string" and v or null end
    data = json_encode({
      id = app_id, remote_id = "remote-" .. app_id, outcome = "PENDING", job_id = job_id,
      candidate_id = cand_id, current_stage_id = str(doc.stage_id), rejected_at = null,
      remote_created_at = now, remote_updated_at = now, changed_at = now, remote_deleted_at = null,
      job = { id = job_id },
      candidate = { id = cand_id, first_name = str(c.first_name), last_name = str(c.last_name),
                    email_addresses = { { email_address = str(c.email_address), type = null } } },
    })
    return data
  end
  local function answer(warnings, with_warnings)
    local b = '{"status":"success","data":' .. accept()
    if with_warnings then b = b .. ',"warnings":' .. warnings_json(warnings) end
    return b .. '}'
  end
  return {
    success = function(warnings) return answer(warnings, true) end,
    missing_warnings = function() return answer(nil, false) end,
  }
end

local function create_application(sc, integ, job_id, doc)
  local c = type(doc) == "table" and doc.candidate
  local email = type(c) == "table" and type(c.email_address) == "string" and c.email_address:lower() or nil
  local existing = email and STATE:get(application_key(integ, job_id, email))
  if existing then
    ngx.ctx.standin_scenario = sc
    note_response(409, sc, "already_exists")
    return send_error(409, "ATS.APPLICATION_ALREADY_EXISTS", ("The candidate %s has already applied to "
      .. "job %s (application %s)."):format(c.email_address, job_id, existing))
  end
  return run_scenario(sc, application_op(integ, job_id, type(doc) == "table" and doc or {}, email))
end

-- An operation of the description that none of the routes above serves.
-- A write (an upload, or a write of the generic route) counts as in flight
-- for its integration from here until the log phase (M.log).  Past the
-- /_concurrency limit it is answered 429 here, not counted, and false is
-- returned: the caller's handler ends.
local function admitted(integ, sc)
  local n = INFLIGHT:incr(integ, 1, 0)
  ngx.ctx.standin_inflight = integ
  local limit = STATE:get("conc:" .. integ)
  if not (limit and n and n > limit) then return true end
  INFLIGHT:incr(integ, -1, 0)
  ngx.ctx.standin_inflight = nil
  ngx.ctx.standin_scenario = sc
  note_response(429, sc, "concurrency_limit")
  send(429, plain_error_body("PLATFORM.CONCURRENCY_LIMIT_EXCEEDED",
    "Too many concurrent requests for this integration (limit " .. limit .. ")."),
    "application/json", { ["Concurrency-Limit"] = tostring(limit), ["Concurrency-Remaining"] = "0" })
  return false
end

local function generic(body, parsed_ok, parsed, route, id)
  local method = ngx.req.get_method()
  local op = route.methods[method]
  local sc = ngx.var.http_x_standin_scenario
  if not sc or sc == "" then
    sc = id and id:match("^scenario%-(.+)$") or "ok"
  end
  record_request(body, parsed_ok, nil, {
    route = "operation", operation = op and op.id or null, path_id = id or null, scenario = sc,
  })
  if not op then
    local allow = {}
    for m in pairs(route.methods) do allow[#allow + 1] = m end
    table.sort(allow)
    note_response(405, nil)
    return send_error(405, nil, "Method " .. method .. " not allowed.",
      { Allow = table.concat(allow, ", ") }, true)
  end
  local auth = ngx.req.get_headers()["authorization"]
  local key = type(auth) == "string" and auth:match("^[Bb][Ee][Aa][Rr][Ee][Rr] (.+)$")
  if key ~= API_KEY then
    note_response(401, nil)
    return send_error(401, "PLATFORM.AUTHENTICATION_INVALID", auth and "The provided API key is invalid."
      or "Missing Authorization header. Expected 'Authorization: Bearer <API key>'.")
  end
  local integ = ngx.req.get_headers()["x-integration-id"]
  if type(integ) == "string" and integ ~= "" then
    ngx.ctx.standin_integ = integ
  elseif op.integration then
    note_response(400, nil)
    return send_error(400, "PLATFORM.INPUT_INVALID", "Missing or invalid X-Integration-Id header.")
  end
  if body ~= "" then
    local ct = ngx.var.content_type
    if not ct or not ngx.re.find(ct, [[^application/json\s*(;.*)?$]], "joi") then
      note_response(400, nil)
      return send_error(400, "PLATFORM.INPUT_INVALID",
        "Content-Type must be application/json, got " .. (ct and ("'" .. ct .. "'") or "none") .. ".")
    end
    if not parsed_ok or type(parsed) ~= "table" then
      note_response(400, nil)
      return send_error(400, "PLATFORM.INPUT_INVALID", "The body is not a JSON object.")
    end
  end
  -- A write is an action: in flight (Kombo's concurrency limit) as an upload is.
  if method ~= "GET" and ngx.ctx.standin_integ and not admitted(ngx.ctx.standin_integ, sc) then return end
  if op.id == "PostAtsJobsJobIdApplications" then return create_application(sc, integ, id, parsed) end
  local stored = store.serve(route.path, method, ngx.ctx.standin_integ, parsed, id)
  if stored and stored.invalid then
    note_response(400, nil)
    return send_error(400, "PLATFORM.INPUT_INVALID", stored.invalid)
  elseif stored then
    return run_scenario(stored.scenario or sc, stored_op(stored.data))
  end
  return run_scenario(sc, operation_op(op.listing))
end

local ROUTE = [[^(?:/v1)?/ats/(candidates|applications)/([^/?]+)/attachments(?:\?.*)?$]]
local ACTION_ROUTE =
  [[^(?:/v1)?/ats/actions/ats_(add_candidate_attachment|add_application_attachment|create_candidate|create_application)(?:\?.*)?$]]
local CHECK_ROUTE = [[^(?:/v1)?/check-api-key(?:\?.*)?$]]

function M.api()
  local body = read_body()
  local parsed_ok, parsed = parse_body(body)
  local uri = ngx.var.request_uri
  local m = ngx.re.match(uri, ROUTE, "jo")
  local kind, id, route
  if m then
    kind = (m[1] == "candidates") and "candidate" or "application"
    id = unescape(m[2])
    route = kind .. "s"
  else
    local a = ngx.re.match(uri, ACTION_ROUTE, "jo")
    if a then
      kind = a[1]:match("^add_(%l+)_attachment$") or a[1] -- the restrictions' target
      route = "ats_" .. a[1]
    elseif ngx.re.find(uri, CHECK_ROUTE, "jo") then
      route = "check-api-key"
    end
  end

  if not route then
    local op_route, op_id = find_operation(uri)
    if op_route then return generic(body, parsed_ok, parsed, op_route, op_id) end
  end

  -- scenario: header wins, then the path id "scenario-<name>"
  local sc = ngx.var.http_x_standin_scenario
  if not sc or sc == "" then
    sc = id and id:match("^scenario%-(.+)$") or "ok"
  end

  record_request(body, parsed_ok, parsed, {
    route = route or null,
    path_id = id or null,
    scenario = route and sc or null,
  })

  if not route then
    note_response(404, nil)
    return send_error(404, nil, "Route " .. ngx.req.get_method() .. " "
      .. ngx.var.uri .. " not found.", nil, true)
  end

  local method = ngx.req.get_method()
  if method ~= "GET" and not (m and method == "POST") then
    note_response(405, nil)
    return send_error(405, nil, "Method " .. method .. " not allowed.",
      { Allow = m and "GET, POST" or "GET" }, true)
  end

  -- 1. authentication
  local auth = ngx.req.get_headers()["authorization"]
  local key = type(auth) == "string" and auth:match("^[Bb][Ee][Aa][Rr][Ee][Rr] (.+)$")
  if key ~= API_KEY then
    note_response(401, nil)
    local msg = auth and "The provided API key is invalid."
      or "Missing Authorization header. Expected 'Authorization: Bearer <API key>'."
    if route == "check-api-key" then
      return send(401, plain_error_body("PLATFORM.AUTHENTICATION_INVALID", msg))
    end
    return send_error(401, "PLATFORM.AUTHENTICATION_INVALID", msg)
  end

  -- 2. integration id (not needed by check-api-key)
  local integ = ngx.req.get_headers()["x-integration-id"]
  if type(integ) == "string" and integ ~= "" then
    ngx.ctx.standin_integ = integ   -- Concurrency-* headers (header_filter)
  end
  if route == "check-api-key" then
    return run_scenario(sc, check_op())
  end
  if type(integ) ~= "string" or integ == "" then
    note_response(400, nil)
    return send_error(400, "PLATFORM.INPUT_INVALID",
      "Missing or invalid X-Integration-Id header.")
  end

  if method == "GET" then
    if m then
      if listing_mode(integ) == "unavailable" then -- /_listing?evidence=unavailable
        note_response(400, "listing-unavailable")
        return send_error(400, "INTEGRATION.MODEL_NOT_AVAILABLE",
          "This integration cannot list attachments (stand-in /_listing?evidence=unavailable).")
      end
      return run_scenario(sc, list_op(kind, id, integ))
    end
    return run_scenario(sc, actions_op(kind, integ))
  end

  -- POST upload: counts as in flight from here until the log phase
  if not admitted(integ, sc) then return end

  -- 3. content type
  local ct = ngx.var.content_type
  if not ct or not ngx.re.find(ct, [[^application/json\s*(;.*)?$]], "joi") then
    note_response(400, nil)
    return send_error(400, "PLATFORM.INPUT_INVALID",
      "Content-Type must be application/json, got " .. (ct and ("'" .. ct .. "'") or "none") .. ".")
  end

  -- 4. body
  local problem, info = validate_body(body)
  if problem then
    note_response(400, nil)
    return send_error(400, "PLATFORM.INPUT_INVALID", problem)
  end

  return run_scenario(sc, upload_op(kind, id, info))
end

-- header_filter_by_lua of the API location: Concurrency-Limit /
-- Concurrency-Remaining on every answer for an integration with a limit
-- (unless the handler set them itself).
function M.header_filter()
  local integ = ngx.ctx.standin_integ
  if not integ then return end
  local limit = STATE:get("conc:" .. integ)
  if not limit or ngx.header["Concurrency-Limit"] ~= nil then return end
  local remaining = limit - (INFLIGHT:get(integ) or 0)
  if remaining < 0 then remaining = 0 end
  ngx.header["Concurrency-Limit"] = tostring(limit)
  ngx.header["Concurrency-Remaining"] = tostring(remaining)
end

-- log_by_lua of the API location: the upload is no longer in flight.  Runs
-- for every request that reached the handler (errors, 444, aborts included).
function M.log()
  local integ = ngx.ctx.standin_inflight
  if integ then
    ngx.ctx.standin_inflight = nil
    local v = INFLIGHT:incr(integ, -1, 0)
    if v and v < 0 then INFLIGHT:set(integ, 0) end
  end
end

-- GET /elsewhere: redirect target; recorded like an API request.
function M.elsewhere()
  local body = read_body()
  local auth = ngx.var.http_authorization
  local parsed_ok, parsed = parse_body(body)
  record_request(body, parsed_ok, parsed, {
    route = "elsewhere",
    authorization_received = auth ~= nil,
  })
  note_response(200, nil)
  local b = json_encode({
    status = "success",
    data = { elsewhere = true, authorization_received = auth ~= nil },
    warnings = { },
  }):gsub('"warnings":{}', '"warnings":[]')
  return send(200, b)
end

-- GET /_requests[?key=<X-Standin-Key>][&since=<seq>][&integration=<X-Integration-Id>]
--                                        -> JSON array of records (all given must match)
-- DELETE /_requests                      -> reset (same as POST /_reset)
function M.requests()
  local method = ngx.req.get_method()
  if method == "DELETE" then
    return M.reset()
  end
  if method ~= "GET" then
    return send(405, '{"error":"use GET or DELETE"}', "application/json", { Allow = "GET, DELETE" })
  end
  local args = ngx.req.get_uri_args()
  local want_key = args.key
  local want_integ = args.integration
  local since = tonumber(args.since or "") or 0
  local n = RECORDS:get("__seq") or 0
  local out = {}
  for i = since + 1, n do
    local s
    if want_integ == nil or RECORDS:get("integ:" .. i) == want_integ then
      s = RECORDS:get("req:" .. i)
    end
    if s then
      local keep = true
      if want_key then
        local r = cjson.decode(s)
        keep = r and r.standin_key == want_key
      end
      if keep then
        local resp = RECORDS:get("resp:" .. i)
        if resp then
          s = s:sub(1, -2) .. ',"response":' .. resp .. '}'
        else
          s = s:sub(1, -2) .. ',"response":null}'
        end
        out[#out + 1] = s
      end
    end
  end
  return send(200, "[" .. table.concat(out, ",") .. "]")
end

function M.reset()
  RECORDS:flush_all()
  RECORDS:flush_expired()
  COUNTERS:flush_all()
  COUNTERS:flush_expired()
  STATE:flush_all()       -- accepted uploads, restrictions, concurrency limits
  STATE:flush_expired()
  FILES:flush_all()
  FILES:flush_expired()
  -- INFLIGHT is not cleared: it counts requests that are really in flight.
  return send(200, '{"status":"reset"}')
end

local function control_error(status, message)
  return send(status, ordered_json({ { "status", "error" }, { "message", message } }))
end

local function integration_arg(args)
  local integ = args.integration
  if type(integ) ~= "string" or integ == "" then
    return nil
  end
  return integ
end

-- /_restrictions?integration=<id>[&target=<one of RESTRICTION_TARGETS>][&delay=S]
--   POST/PUT   body = the attachment_restrictions JSON value (sent verbatim by
--              GET /ats/actions/ats_add_<target>_attachment, or
--              /ats/actions/ats_<target> for the creates); no target = all.
--              delay=S: those GETs answer S seconds late (0 removes it); with
--              delay, an empty body leaves the value as it is
--   DELETE     back to the default
--   GET        the values the actions endpoints answer with
function M.restrictions()
  local method = ngx.req.get_method()
  local args = ngx.req.get_uri_args()
  local integ = integration_arg(args)
  if not integ then
    return control_error(400, "Query parameter integration=<X-Integration-Id> is required.")
  end
  local targets
  local target = args.target
  if target == nil or target == "" or target == true then
    targets = RESTRICTION_TARGETS
  else
    for _, t in ipairs(RESTRICTION_TARGETS) do
      if target == t then targets = { t } end
    end
    if not targets then
      return control_error(400, "target must be candidate, application, create_candidate or create_application "
        .. "(or absent for all four).")
    end
  end
  local delay = args.delay
  if delay ~= nil then
    delay = type(delay) == "string" and tonumber(delay)
    if not delay or delay < 0 or delay > 60 then
      return control_error(400, "delay must be a number of seconds from 0 to 60.")
    end
  end
  if (method == "POST" or method == "PUT") and delay then
    for _, t in ipairs(targets) do
      if delay > 0 then STATE:set("restr_delay:" .. t .. ":" .. integ, delay)
      else STATE:delete("restr_delay:" .. t .. ":" .. integ) end
    end
  end
  local body = (method == "POST" or method == "PUT") and read_body()
  if body and delay and body:match("^%s*$") then body = nil end -- only the delay
  if body then
    local ok = parse_body(body)
    if not ok then
      return control_error(400, "Body must be strict JSON: the attachment_restrictions value "
        .. "(an object {\"types\":{...}} or null).")
    end
    body = body:match("^%s*(.-)%s*$")
    for _, t in ipairs(targets) do
      STATE:set("restr:" .. t .. ":" .. integ, body)
    end
  elseif method == "DELETE" then
    for _, t in ipairs(targets) do
      STATE:delete("restr:" .. t .. ":" .. integ)
      STATE:delete("restr_delay:" .. t .. ":" .. integ)
    end
  elseif method ~= "GET" and not (method == "POST" or method == "PUT") then
    return send(405, '{"status":"error","message":"use GET, POST, PUT or DELETE"}',
      "application/json", { Allow = "GET, POST, PUT, DELETE" })
  end
  local parts = { '"status":"ok"', '"integration":' .. json_encode(integ) }
  for _, t in ipairs(targets) do
    parts[#parts + 1] = json_encode(t) .. ":" .. restrictions_for(t, integ)
  end
  return send(200, "{" .. table.concat(parts, ",") .. "}")
end

-- /_concurrency?integration=<id>[&limit=N]
--   POST/PUT   set the limit (limit=0 or absent: remove it)
--   DELETE     remove it
--   GET        show it
-- All answer {"status":"ok","integration":..,"limit":N|null,"in_flight":n}.
function M.concurrency()
  local method = ngx.req.get_method()
  local args = ngx.req.get_uri_args()
  local integ = integration_arg(args)
  if not integ then
    return control_error(400, "Query parameter integration=<X-Integration-Id> is required.")
  end
  if method == "POST" or method == "PUT" then
    local raw = args.limit
    local limit = 0
    if type(raw) == "string" and raw ~= "" then
      limit = tonumber(raw)
      if not limit or limit < 0 or limit ~= math.floor(limit) or not raw:match("^%d+$") then
        return control_error(400, "limit must be a non-negative integer.")
      end
    elseif raw ~= nil and raw ~= "" then
      return control_error(400, "limit must be a non-negative integer.")
    end
    if limit == 0 then
      STATE:delete("conc:" .. integ)
    else
      STATE:set("conc:" .. integ, limit)
    end
  elseif method == "DELETE" then
    STATE:delete("conc:" .. integ)
  elseif method ~= "GET" then
    return send(405, '{"status":"error","message":"use GET, POST, PUT or DELETE"}',
      "application/json", { Allow = "GET, POST, PUT, DELETE" })
  end
  local limit = STATE:get("conc:" .. integ)
  return send(200, ordered_json({
    { "status", "ok" }, { "integration", integ },
    { "limit", limit or null }, { "in_flight", INFLIGHT:get(integ) or 0 },
  }))
end

-- GET /_files/<attachment id>: the bytes of an upload (store_upload), as an
-- ATS's download link would give them; records whether the request carried
-- an Authorization or X-Integration-Id header (it must not: the host of a
-- data_url is not Kombo).
function M.files()
  local att_id = ngx.var.uri:match("^/_files/([%w_]+)$")
  local h = ngx.req.get_headers()
  if h["authorization"] or h["x-integration-id"] then
    COUNTERS:incr("__files_with_credentials", 1, 0)
  end
  COUNTERS:incr("__files_served", 1, 0)
  local bytes = att_id and FILES:get(att_id)
  if not bytes then return send(404, '{"status":"error","message":"no such file"}') end
  ngx.header["Content-Type"] = "application/octet-stream"
  ngx.header["Content-Length"] = #bytes
  ngx.print(bytes)
end

-- /_listing?integration=<id>&evidence=full|none|time|url|unavailable: what
-- the attachment listings of the integration show (listing_mode;
-- "unavailable" answers 400 INTEGRATION.MODEL_NOT_AVAILABLE).
-- /_listing?integration=<id>&seed=candidate|application&id=<id>&name=&type=&age=<s>&content=<text>:
-- adds an attachment uploaded `age` seconds ago (an older file of the same
-- name), whose data_url serves `content`.
-- GET /_listing: {"files_served": n, "files_with_credentials": n}
function M.listing()
  local args = ngx.req.get_uri_args()
  if ngx.req.get_method() == "GET" and not args.integration then
    return send(200, ordered_json({ { "files_served", COUNTERS:get("__files_served") or 0 },
      { "files_with_credentials", COUNTERS:get("__files_with_credentials") or 0 } }))
  end
  local integ = integration_arg(args)
  if not integ then return control_error(400, "integration= is required") end
  if args.evidence then
    local m = args.evidence
    if m ~= "full" and m ~= "none" and m ~= "time" and m ~= "url" and m ~= "unavailable" then
      return control_error(400, "evidence must be full, none, time, url or unavailable")
    end
    STATE:set("listing:" .. integ, m)
  end
  if args.seed then
    local kind = args.seed
    if (kind ~= "candidate" and kind ~= "application") or not args.id or not args.name or not args.type then
      return control_error(400, "seed needs candidate|application, id=, name= and type=")
    end
    local att_id = string.format("att_%06d", COUNTERS:incr("__attachment_seq", 1, 0))
    local t = ngx.now() - (tonumber(args.age) or 86400)
    local created = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. ".000Z"
    push_item(kind, integ, args.id, listed_item(kind, args.id, att_id, { name = args.name, type = args.type,
      content_type = "application/pdf" }, created, file_url(att_id, args.content or "an older file")), att_id)
    return send(200, ordered_json({ { "status", "ok" }, { "id", att_id } }))
  end
  return send(200, ordered_json({ { "status", "ok" }, { "evidence", listing_mode(integ) } }))
end

-- /_sink/...: reads the request body as fast as it comes and discards it.
function M.sink()
  local len = tonumber(ngx.var.http_content_length or "0") or 0
  local got = 0
  if len > 0 then
    local sock = assert(ngx.req.socket())
    while got < len do -- every read brings at least one byte, or ends the loop
      local data = sock:receiveany(1048576)
      if not data then break end
      got = got + #data
    end
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.print(('{"status":"success","data":{"id":"att_sink","size_bytes":%d,"expected":%d},"warnings":[]}')
    :format(got, len))
end

-- GET /_blob?key=K&size=N[&seed=S][&status=C][&redirect=R][&to=HOST][&type=T][&delay=SECONDS]
-- A download as an attachment's data_url would be (no key checked): N
-- bytes of ("blob-<seed>-") repeated; status C (>= 400) with a short body
-- instead; R redirects first (302, with a body of their own, to HOST when
-- given).  Each request's Authorization / X-Integration-Id (or their
-- absence) and query are appended to the log of key K (GET /_blob_log?key=K).
function M.blob()
  local args = ngx.req.get_uri_args()
  local key = args.key or "-"
  local log = cjson.decode(STATE:get("blob:" .. key) or "[]") or {}
  log[#log + 1] = {
    authorization = ngx.var.http_authorization or null,
    integration_id = ngx.var.http_x_integration_id or null,
    host = ngx.var.http_host or null,
    query = ngx.var.args or null,
  }
  STATE:set("blob:" .. key, cjson.encode(log))
  if tonumber(args.delay or "") then ngx.sleep(tonumber(args.delay)) end
  local redirect = tonumber(args.redirect or "0") or 0
  if redirect > 0 then
    local a = {}
    for k, v in pairs(args) do if type(v) == "string" then a[k] = v end end
    a.redirect = tostring(redirect - 1)
    local host = (args.to or "127.0.0.1") .. ":" .. ngx.var.server_port
    ngx.header["Location"] = "http://" .. host .. "/_blob?" .. ngx.encode_args(a)
    ngx.header["Content-Type"] = "text/plain"
    ngx.status = 302
    ngx.print("redirecting; this body is not the download")
    return ngx.exit(302)
  end
  local status = tonumber(args.status or "200") or 200
  if status >= 400 then
    ngx.header["Content-Type"] = "text/plain"
    ngx.status = status
    ngx.print("no such blob")
    return ngx.exit(status)
  end
  local size = tonumber(args.size or "0") or 0
  local unit = "blob-" .. (args.seed or "0") .. "-"
  ngx.header["Content-Type"] = args.type or "application/octet-stream"
  ngx.header["Content-Length"] = tostring(size)
  local chunk = unit:rep(math.ceil(65536 / #unit))
  local left = size
  while left > 0 do
    local n = left < #chunk and left or #chunk
    ngx.print(chunk:sub(1, n))
    left = left - n
  end
end

function M.blob_log()
  local key = ngx.req.get_uri_args().key or "-"
  return send(200, STATE:get("blob:" .. key) or "[]")
end

-- ---------------------------------------------------------------- webhooks

-- HMAC-SHA256 from nginx's own libcrypto through LuaJIT's FFI: the
-- signature a delivery carries is made here, not by kombo-lua's C core
-- (the code under test).
local hmac_sha256
do
  local ffi = require "ffi"
  pcall(ffi.cdef, [[
    typedef struct evp_md_st EVP_MD;
    const EVP_MD *EVP_sha256(void);
    unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                        const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
  ]])
  local crypto
  function hmac_sha256(key, data)
    if not crypto then
      local ok, lib = pcall(ffi.load, "crypto")
      crypto = ok and lib or ffi.load("libcrypto.so.3")
    end
    local md, len = ffi.new("unsigned char[64]"), ffi.new("unsigned int[1]")
    assert(crypto.HMAC(crypto.EVP_sha256(), key, #key, data, #data, md, len) ~= nil, "HMAC failed")
    return ffi.string(md, len[0])
  end
end

-- Kombo's X-Kombo-Signature: base64url without padding.
local function kombo_signature(secret, body)
  return (ngx.encode_base64(hmac_sha256(secret, body), true):gsub("[+/]", { ["+"] = "-", ["/"] = "_" }))
end

-- One HTTP/1.1 request over a cosocket to a loopback URL: status, body.
local function deliver(url, method, headers, body, timeout)
  local host, port, path = url:match("^http://(127%.0%.0%.1):(%d+)(/.*)$")
  if not host then
    host, path = url:match("^http://(127%.0%.0%.1)(/.*)$")
    port = "80"
  end
  if not host then return nil, "url must be http://127.0.0.1[:port]/path" end
  local sock = ngx.socket.tcp()
  sock:settimeout(timeout * 1000)
  local ok, err = sock:connect(host, tonumber(port))
  if not ok then return nil, "connect: " .. tostring(err) end
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: " .. host .. ":" .. port,
    "Connection: close", "Content-Length: " .. #body }
  for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
  ok, err = sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. body)
  if not ok then sock:close() return nil, "send: " .. tostring(err) end
  local answer, rerr, partial = sock:receive("*a")
  sock:close()
  answer = answer or partial
  local status = answer and tonumber(answer:match("^HTTP/1%.%d (%d%d%d)"))
  if not status then return nil, "no HTTP answer: " .. tostring(rerr) end
  local head_end = answer:find("\r\n\r\n", 1, true)
  local response_headers = {}
  for name, value in answer:sub(1, head_end or #answer):gmatch("\n([^:\r\n]+):%s*([^\r\n]*)") do
    response_headers[name:lower()] = value
  end
  local rbody = head_end and answer:sub(head_end + 4) or ""
  if (response_headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local parts, pos = {}, 1
    while pos <= #rbody do -- each pass consumes a chunk, or ends
      local size_hex, data_at = rbody:match("^(%x+)[^\r\n]*\r\n()", pos)
      local size = size_hex and tonumber(size_hex, 16)
      if not size or size == 0 then break end
      parts[#parts + 1] = rbody:sub(data_at, data_at + size - 1)
      pos = data_at + size + 2
    end
    rbody = table.concat(parts)
  end
  return status, rbody, response_headers
end

-- POST /_webhooks/send: sends one webhook delivery, signed as Kombo signs
-- it, to a loopback URL and answers with what that URL answered.  JSON body:
--   url        http://127.0.0.1:PORT/path (required; loopback only)
--   secret     the webhook secret to sign with (required unless signature is given)
--   event      the event as a JSON value (its id defaults to evt_standin_<n>), or
--   body       the raw body as a string, or body_base64 the raw body's bytes
--   signature  sent instead of the computed one; false: no X-Kombo-Signature header
--   method     default POST;  headers  more request headers;  timeout  seconds (30)
-- Answer 200 {"status":<target's status>,"body":"<its body>","signature":"<sent>",
-- "id":"<event id>","headers":{...}}; 400 for a bad request, 502 when the target
-- could not be reached.
function M.webhooks_send()
  if ngx.req.get_method() ~= "POST" then return control_error(405, "use POST") end
  local req = cjson.decode(read_body() or "")
  if type(req) ~= "table" or type(req.url) ~= "string" then return control_error(400, "url is required") end
  local body, id = req.body, nil
  if type(req.event) == "table" then
    if req.event.id == nil then
      req.event.id = ("evt_standin_%d"):format(COUNTERS:incr("__webhook_seq", 1, 0))
    end
    id = req.event.id
    body = json_encode(req.event)
  elseif type(req.body_base64) == "string" then
    body = ngx.decode_base64(req.body_base64)
  end
  if type(body) ~= "string" then return control_error(400, "event, body or body_base64 is required") end
  local signature = req.signature
  if signature == null then signature = false end
  if signature == nil then
    if type(req.secret) ~= "string" then return control_error(400, "secret is required") end
    signature = kombo_signature(req.secret, body)
  end
  local headers = { ["Content-Type"] = "application/json" }
  if signature then headers["X-Kombo-Signature"] = signature end
  for k, v in pairs(type(req.headers) == "table" and req.headers or {}) do headers[k] = v end
  local status, answer, answer_headers = deliver(req.url, req.method or "POST", headers, body,
    tonumber(req.timeout) or 30)
  if not status then return control_error(502, answer) end
  return send(200, json_encode({ status = status, body = answer, signature = signature or null, id = id or null,
    headers = answer_headers }))
end

return M
