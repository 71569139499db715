-- Kombo's webhooks in OpenResty (examples/webhooks/nginx.conf): Kombo says
-- "data changed" (data-changed, or the older sync-finished), this verifies
-- the delivery, answers at once and, in a timer, fetches the applications
-- changed since the last sync of that integration, page by page, then
-- remembers where it got to.
--
--   POST /kombo/webhook   Kombo's deliveries (set this URL in Kombo's dashboard)
--   GET  /kombo/status    where each integration's sync got to (JSON)
local kombo = require "kombo"

local M = {}

-- Where each integration got to ("since:<id>", an updated_after value),
-- how many applications were fetched, and a lock per integration.  In a
-- shared dict so that every worker sees it; a real service keeps "since"
-- in its own database, so that a restart does not fetch everything again.
local state = ngx.shared.kombo_sync

-- Kombo's clock and ours differ a little: the next sync starts this many
-- seconds before the last one did, so an application updated at the edge
-- is fetched twice rather than never (handle_application must not mind).
local OVERLAP = 60
-- A sync that dies mid-way (worker killed) frees its lock after this long.
local LOCK_SECONDS = 600
-- Deliveries that arrive during a sync ask for one more pass; at most this many in a row.
local MAX_PASSES = 5

local function iso8601(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

-- What this service does with a changed application: here, log it and count it.
local function handle_application(integration_id, app)
  ngx.log(ngx.INFO, "application ", app.id, " of ", integration_id, " changed (stage: ",
    tostring(app.current_stage and app.current_stage.name), ")")
  state:incr("fetched:" .. integration_id, 1, 0)
end

-- One pass: every application updated since the last successful pass,
-- page by page (client:each follows `next` itself).  "since" moves only
-- when the pass went through to the last page: after a failure, the next
-- pass starts from the same point again.
local function pass(integration_id)
  local since = state:get("since:" .. integration_id) -- nil the first time: all of them
  local started = ngx.now()
  for app, err in M.client:each("get_applications", { integration_id = integration_id, updated_after = since }) do
    if err then
      ngx.log(ngx.ERR, "sync of ", integration_id, " stopped: ", tostring(err))
      return false
    end
    handle_application(integration_id, app)
  end
  state:set("since:" .. integration_id, iso8601(started - OVERLAP))
  state:incr("passes:" .. integration_id, 1, 0)
  return true
end

-- The timer: one sync per integration at a time, across workers.  A
-- delivery that comes while one runs asks it for another pass.
local function sync(premature, integration_id)
  if premature then return end
  if not state:add("running:" .. integration_id, true, LOCK_SECONDS) then
    state:set("again:" .. integration_id, true, LOCK_SECONDS)
    return
  end
  for _ = 1, MAX_PASSES do
    state:delete("again:" .. integration_id)
    local ok, err = pcall(pass, integration_id)
    if not ok then ngx.log(ngx.ERR, "sync of ", integration_id, " failed: ", tostring(err)) end
    if not (ok and err and state:get("again:" .. integration_id)) then break end
  end
  state:delete("running:" .. integration_id)
end

-- on_event: answer Kombo quickly, fetch in a timer.  Raising (no timer
-- could be made) answers 500, and Kombo delivers the event again.
local function on_event(event)
  local data = event.data
  local wanted = event.type == "sync-finished" -- the deprecated event names no models: fetch anyway
  if event.type == "data-changed" then
    for _, model in ipairs(data.changed_models) do
      if model.name == "ats_applications" then wanted = true end
    end
  end
  if wanted then
    assert(ngx.timer.at(0, sync, data.integration_id))
  end
end

-- init_worker_by_lua_block: one client and one handler per worker.
function M.init()
  M.client = kombo.new{} -- KOMBO_API_KEY (and KOMBO_SERVER_URL) from the environment
  M.handler = kombo.webhook_handler{
    secret = os.getenv("KOMBO_WEBHOOK_SECRET"),
    dict = "kombo_webhooks", -- ids seen: a delivery Kombo repeats is acknowledged, not handled twice
    on_event = on_event,
  }
end

function M.webhook()
  return M.handler()
end

-- GET /kombo/status?integration_id=... -> {since=, fetched=, passes=, running=}
function M.status()
  local id = ngx.req.get_uri_args().integration_id or ""
  ngx.header["Content-Type"] = "application/json"
  ngx.print(kombo.encode_json({
    since = state:get("since:" .. id) or kombo.null,
    fetched = state:get("fetched:" .. id) or 0,
    passes = state:get("passes:" .. id) or 0,
    running = state:get("running:" .. id) or false,
  }))
end

return M
