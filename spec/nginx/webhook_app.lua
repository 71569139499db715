-- The webhook handler's test app (spec/nginx/webhook.conf.in): three
-- handlers over one on_event that records what it received in the shared
-- dict webhook_test, and fails or waits when the event's data asks it to.
local cjson = require "cjson.safe"
local kombo = require "kombo"

local app = {}
local record = ngx.shared.webhook_test

-- data.fail_times = n: raise (with data.fail_message) on the first n calls
-- for the event's id; data.sleep = s: wait s seconds first (a cosocket-
-- friendly wait, as a call to Kombo would be).
local function on_event(event)
  local calls = record:incr("calls:" .. event.id, 1, 0)
  local data = event.data
  record:set("last:" .. event.id, cjson.encode({
    type = event.type, known = event.known, calls = calls,
    spooled = ngx.req.get_body_file() ~= nil,
    pad = type(data.pad) == "string" and #data.pad or nil,
    integration_id = data.integration_id,
  }))
  if type(data.sleep) == "number" then ngx.sleep(math.min(data.sleep, 5)) end
  if type(data.fail_times) == "number" and calls <= data.fail_times then
    error(data.fail_message or "failing on purpose", 0)
  end
end

function app.init(secret)
  app.handler = kombo.webhook_handler{ secret = secret, on_event = on_event, dict = "kombo_webhooks",
    window = 60, handling_timeout = 5, redact = { "proxy-user:Pr0xy-Passw0rd!" } }
  app.all_handler = kombo.webhook_handler{ secret = secret, on_event = on_event, all_events = true }
  app.small_handler = kombo.webhook_handler{ secret = secret, on_event = on_event, max_body_bytes = 1024 }
end

function app.hooks() return app.handler() end
function app.all() return app.all_handler() end
function app.small() return app.small_handler:handle() end

-- GET /events?id=ID -> what on_event last recorded for ID, or {}.
function app.events()
  local id = ngx.req.get_uri_args().id or ""
  ngx.header["Content-Type"] = "application/json"
  ngx.print(record:get("last:" .. id) or "{}")
end

return app
