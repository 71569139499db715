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
  -- The request's Content-Type is the document's, except what a form
  -- sends: `curl --data-binary @cv.pdf` says application/x-www-form-urlencoded
  -- unless told otherwise, which is not the file's type (left out, kombo
  -- infers it from the leading bytes and the name), and a multipart body
  -- (`curl -F`) is a form wrapped around the file, not the file.
  local content_type = (ngx.var.content_type or ""):match("^%s*([^;%s]+)")
  content_type = content_type and content_type:lower()
  if content_type == "multipart/form-data" then
    return reply(415, { error = "send the file itself as the request body (curl --data-binary @file), not a form" })
  end
  if content_type == "application/x-www-form-urlencoded" then content_type = nil end
  -- The body as a source and its size (Content-Length): read from the
  -- client while it is sent on, 64 KiB at a time.
  local source, size = kombo.request_body_source{ timeout = 30 }
  if not source then
    return reply(411, { error = size }) -- e.g. a chunked body: its size is unknown
  end
  if size == 0 then return reply(400, { error = "empty request body" }) end

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
  -- Kombo's 429 (its rate or in-flight limit) and 503 pass through with
  -- their Retry-After: the client may send again later.  A key or IP
  -- Kombo refuses (401, 403) is this server's fault, not the client's.
  local status
  if err.kind == "validation" or err.kind == "aborted" then status = 400
  elseif err.status == 429 or err.status == 503 then status = err.status
  elseif err.status == 401 or err.status == 403 then status = 502
  elseif err.status and err.status >= 400 and err.status < 500 then status = 422
  elseif err.kind == "timeout" then status = 504
  else status = 502 end
  if (status == 429 or status == 503) and err.retry_after then
    ngx.header["Retry-After"] = math.ceil(err.retry_after)
  end
  return reply(status, {
    ok = false,
    error = { kind = err.kind, outcome = err.outcome, message = err.message, status = err.status,
              code = err.code, log_url = err.log_url, problems = err.problems },
  })
end

return M
