--- POST /candidates/{candidate_id}/cv: forwards the request body (a file)
-- to Kombo as a CV attachment of that candidate, with kombo-lua's cosocket
-- transport (non-blocking inside nginx).  The body is relayed as it
-- arrives (kombo.request_body_source): never held whole in memory or in a
-- temp file.  See nginx.conf next to this file.
local cjson = require "cjson.safe"
local kombo = require "kombo"

local M = {}
local client

-- Called from init_worker_by_lua*: creating a client needs no cosocket.
-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL come from the
-- environment (listed with `env` in nginx.conf).
function M.init()
  client = kombo.new{ timeout = 60, connect_timeout = 5 }
end

local function reply(status, t)
  local body = cjson.encode(t)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(status)
end

function M.handle(candidate_id)
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return reply(405, { error = "use POST with the file as the request body" })
  end
  local args = ngx.req.get_uri_args()
  local name = ngx.var.http_x_file_name or args.name
  if type(name) ~= "string" or name == "" then
    return reply(400, { error = "give the file name in an X-File-Name header or ?name=" })
  end
  -- The body as a source and its size (Content-Length): read from the
  -- client while it is sent on, 64 KiB at a time.
  local source, size = kombo.request_body_source{ timeout = 30 }
  if not source then
    return reply(411, { error = size }) -- e.g. a chunked body: its size is unknown
  end
  if size == 0 then return reply(400, { error = "empty request body" }) end
  local content_type = (ngx.var.content_type or "application/octet-stream"):match("^[^;%s]+")

  local res, err = client:attach_to_candidate{
    candidate_id = ngx.unescape_uri(candidate_id),
    integration_id = ngx.var.http_x_integration_id, -- nil: KOMBO_INTEGRATION_ID
    body = { attachment = {
      name = name, content_type = content_type, type = args.type or "CV",
      source = source, size = size,
    } },
  }
  if res then
    return reply(200, { ok = true, attachment = res.data, warnings = res.warnings })
  end
  -- err.outcome tells whether the upload may have landed anyway; kind
  -- "aborted": the client sent less than its Content-Length (or went away).
  local status = err.kind == "validation" and 400 or err.kind == "aborted" and 400
    or (err.status and err.status >= 400 and err.status < 500) and 422
    or err.kind == "timeout" and 504 or 502
  return reply(status, {
    ok = false,
    error = { kind = err.kind, outcome = err.outcome, message = err.message, status = err.status,
              code = err.code, log_url = err.log_url, problems = err.problems },
  })
end

return M
