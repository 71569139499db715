--- Kombo's webhooks: @{verify_webhook} checks one delivery, and
-- @{webhook_handler} answers them inside OpenResty.  init.lua puts both on
-- the module; their LDoc blocks are on the `kombo` module's page (config.ld
-- merges this file in), the events' `data` tables in doc/webhooks.luadoc
-- (generated).  The signature rule itself is the C core's
-- (csrc/core/webhook.c).
-- @module kombo
local core = require "kombo.core"
local errors = require "kombo.errors"
local client = require "kombo.client" -- misuse: raised at the caller's line
local KNOWN = require "kombo.event_types"

local M = {}

-- A misuse raises at the first frame outside the library: this file's, and
-- init.lua's functions that load it on first use, are skipped.
client.skip_frames_of(debug.getinfo(1, "S").source)
local bad_argument = client.misuse -- (fname, what, argn)

--- The webhook event types Kombo's description lists, each with the names
-- of its `data` members (`deprecated = true` for a type the description
-- deprecates, such as `sync-finished`), generated from the description:
-- `{ ["data-changed"] = { data = { "integration_id", ... } }, ... }`.  An
-- event of a type not in it has `known = false`.
-- @table WEBHOOK_EVENTS
-- @within Webhooks
M.WEBHOOK_EVENTS = KNOWN

--- A webhook event, as @{verify_webhook} returns it and a handler's
-- `on_event` receives it (LuaLS: `kombo.WebhookEvent`): the JSON body
-- decoded (integers stay integers, `[]` an array, `null` @{null}), plus `known`.
-- @table WebhookEvent
-- @within Webhooks
-- @tfield string id the event's id: the same for every delivery of one event
-- @tfield string type `"data-changed"`, `"integration-state-changed"`, ... (see @{WEBHOOK_EVENTS})
-- @tfield table data the event's data: for a known type, the table of the Webhook events section
-- (@{DataChangedData}, ...)
-- @tfield boolean known whether Kombo's description lists this type

--- Why @{verify_webhook} refused a delivery (LuaLS: `kombo.WebhookError`):
-- an @{Error} object (so @{is_error} is true, and `tostring(err)` reads
-- `kombo webhook error: <message>`) with only these fields.  No field holds
-- the secret, the body or the expected signature.
-- @table WebhookError
-- @within Webhooks
-- @tfield string kind `"webhook"`
-- @tfield string code for programs: `signature_missing`, `signature_repeated`, `signature_space`,
-- `signature_standard` (`+` or `/`), `signature_padded` (`=`), `signature_hex`, `signature_length`,
-- `signature_character`, `signature_noncanonical`, `signature_mismatch`; `secret_empty`,
-- `secret_space`, `secret_long`; `body_missing`, `body_json` (not JSON, a byte order mark
-- included), `body_shape` (no `id`, `type` or `data` object); `crypto_failed`
-- @tfield string message for people

--- The options of @{webhook_handler} (LuaLS: `kombo.WebhookHandlerOptions`).
-- @table WebhookHandlerOptions
-- @within Webhooks
-- @tfield string secret the account's Kombo Webhook Secret (never logged or shown)
-- @tfield func on_event `function(event)` with the @{WebhookEvent}: may yield (cosockets,
-- `ngx.sleep`); its return ends the delivery with 200, raising with 500
-- @tfield[opt] string dict the name of a `lua_shared_dict` for the ids seen; without it,
-- every delivery calls `on_event`
-- @tfield[opt=86400] number window seconds an id is remembered in `dict`
-- @tfield[opt=false] boolean all_events `true`: call `on_event` for a type Kombo's
-- description does not list too (`event.known` is `false`)
-- @tfield[opt=1048576] number max_body_bytes a larger body is answered 413, unread
-- @tfield[opt=60] number handling_timeout seconds a delivery being handled holds back
-- another of the same id (answered 503), should a worker die in `on_event`
-- @tfield[opt] {string,...} redact more secrets to keep out of the log lines
-- (the webhook secret and `$KOMBO_API_KEY` always are)

local function refuse(code, message)
  return nil, errors.webhook(code, message)
end

--- Verifies one webhook delivery and decodes its event.
--
-- `X-Kombo-Signature` is the HMAC-SHA256 of the raw request body under the
-- account's Kombo Webhook Secret, in base64url without `=` padding (43
-- characters).  It is taken exactly in that form: a signature with `=`
-- padding, standard base64's `+` or `/`, white space, 64 hex digits or
-- another length is refused, before any HMAC is computed, with a reason
-- naming the mistake.  A well-formed one is compared with the HMAC of the
-- body's bytes as received (libcrypto) in constant time.  Only then is the
-- body read as JSON: an event whose JSON is invalid is refused as such.
-- An event of a type Kombo's description does not list yet is returned
-- with `known = false` (Kombo adds types).  No message holds the secret,
-- the body or the expected signature.
-- @function verify_webhook
-- @within Webhooks
-- @tparam string raw_body the request body exactly as received (`nil`: no
-- body was read; in OpenResty a large one may be in `ngx.req.get_body_file()`)
-- @tparam[opt] string signature the `X-Kombo-Signature` header (`nil` when absent;
-- a table, as `ngx.req.get_headers()` gives a repeated header, is refused)
-- @tparam string secret the account's Kombo Webhook Secret
-- @treturn[1] WebhookEvent the event: `id`, `type`, `data`, `known`
-- @return[2] nil
-- @treturn[2] WebhookError `err`: `err.code` says why (`"signature_mismatch"`, `"body_json"`, ...)
-- @raise `raw_body`, `signature` or `secret` of a wrong type
-- @usage local event, err = kombo.verify_webhook(body, ngx.var.http_x_kombo_signature, secret)
-- if not event then return ngx.exit(err.code:find("^body") and 400 or 401) end
function M.verify_webhook(raw_body, signature, secret)
  if raw_body == nil then
    return refuse("body_missing", "no body was given (OpenResty keeps a large one in ngx.req.get_body_file())")
  end
  if type(raw_body) ~= "string" then
    bad_argument("verify_webhook", ("the raw body as a string expected, got %s"):format(type(raw_body)), 1)
  end
  if type(signature) == "table" then
    return refuse("signature_repeated", "the X-Kombo-Signature header was sent more than once")
  end
  if signature ~= nil and type(signature) ~= "string" then
    bad_argument("verify_webhook",
      ("the X-Kombo-Signature header as a string expected, got %s"):format(type(signature)), 2)
  end
  if secret ~= nil and type(secret) ~= "string" then
    bad_argument("verify_webhook", ("the webhook secret as a string expected, got %s"):format(type(secret)), 3)
  end
  local ok, code, message = core.webhook_verify(raw_body, signature, secret)
  if not ok then return refuse(code, message) end
  local event
  event, code, message = core.webhook_decode(raw_body)
  if not event then return refuse(code, message) end
  event.known = KNOWN[event.type] ~= nil
  return event
end

-- ---------------------------------------------------------------- the handler

local Handler = {}
Handler.__index = Handler

local OPTIONS = {
  secret = "string", on_event = "function", dict = "string", window = "number", all_events = "boolean",
  max_body_bytes = "number", handling_timeout = "number", redact = "table",
}
local DEFAULTS = { window = 86400, max_body_bytes = 1048576, handling_timeout = 60, all_events = false }

local function misuse(what)
  bad_argument("webhook_handler", what, 1)
end

-- The secrets the handler keeps out of its log lines: its own, the API key
-- the module's default client would use, and what the caller names; or
-- nil and what is wrong with `redact`.
local function secrets_of(opts)
  local list = { opts.secret }
  local key = os.getenv("KOMBO_API_KEY")
  if key and key ~= "" then list[#list + 1] = key end
  for i, s in ipairs(opts.redact or {}) do
    if type(s) ~= "string" then return nil, ("redact[%d] must be a string, got %s"):format(i, type(s)) end
    list[#list + 1] = s
  end
  if #list > 16 then return nil, "redact holds more than 14 secrets" end
  return list
end

--- An OpenResty handler for Kombo's webhook deliveries, for
-- `content_by_lua_block` (call it: `handler()`).  It answers
-- **405** (with `Allow: POST`) to any method but POST; **413** to a body
-- over `max_body_bytes`, before reading or hashing it; reads the raw body
-- whether nginx kept it in memory or spooled it to a file (a body larger
-- than `client_body_buffer_size`); answers **401** when the signature does
-- not hold and **400** when the body is not a Kombo event (see
-- @{verify_webhook}); then calls `on_event(event)` and answers **200** once
-- it returns, **500** if it raises (so that Kombo delivers again; the error
-- is logged with every secret redacted).
--
-- With `dict` (a `lua_shared_dict` of nginx.conf), an event `id` seen
-- within `window` seconds is answered 200 without calling `on_event`
-- again; an id is recorded only after `on_event` returned.  While one
-- delivery of an id is being handled, another of the same id is answered
-- **503** with `Retry-After` (for at most `handling_timeout` seconds).  An
-- event of a type Kombo's description does not list is answered 200
-- without `on_event`, unless `all_events` is set.
-- @function webhook_handler
-- @within Webhooks
-- @tparam WebhookHandlerOptions opts the options
-- @treturn WebhookHandler the handler: call it in `content_by_lua_block`
-- @raise a bad option (naming it, never quoting the secret), or outside OpenResty
-- @usage -- init_by_lua_block:
-- hooks = kombo.webhook_handler{ secret = os.getenv("KOMBO_WEBHOOK_SECRET"), dict = "kombo_webhooks",
--   on_event = function(event) if event.type == "data-changed" then ... end end }
-- -- location = /kombo/webhook { content_by_lua_block { hooks() } }
function M.webhook_handler(opts)
  if type(opts) ~= "table" then misuse("options table expected, got " .. type(opts)) end
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      misuse(("unknown option '%s'%s"):format(tostring(k), require("kombo.bulk").did_you_mean(k, OPTIONS)))
    end
    if type(v) ~= OPTIONS[k] then misuse(("option '%s' must be a %s, got %s"):format(k, OPTIONS[k], type(v))) end
  end
  if opts.secret == nil then misuse("option 'secret' is required: the account's Kombo Webhook Secret") end
  -- The core's rule for the secret (empty, white space at an end): asked
  -- with no signature, it answers about the secret first.
  local _, code, message = core.webhook_verify("", nil, opts.secret)
  if code ~= "signature_missing" then misuse("option 'secret': " .. message) end
  if opts.on_event == nil then misuse("option 'on_event' is required: function(event) ... end") end
  for _, k in ipairs({ "window", "max_body_bytes", "handling_timeout" }) do
    local v = opts[k]
    if v ~= nil and not (v > 0 and v < math.huge) then misuse(("option '%s' must be a positive number"):format(k)) end
  end
  local secrets, bad = secrets_of(opts)
  if not secrets then misuse(bad) end
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.req) ~= "table" then
    misuse("kombo.webhook_handler needs nginx's Lua module (OpenResty)")
  end
  local dict
  if opts.dict then
    dict = ngx.shared[opts.dict]
    if not dict then misuse(("no lua_shared_dict named '%s' in nginx.conf"):format(opts.dict)) end
  end
  local self = {
    secret = opts.secret, on_event = opts.on_event, dict = dict, dict_name = opts.dict,
    secrets = secrets, ngx = ngx,
  }
  for k, v in pairs(DEFAULTS) do
    if opts[k] == nil then self[k] = v else self[k] = opts[k] end
  end
  return setmetatable(self, Handler)
end

--- `tostring(handler)`: its settings, never the secret.
-- @function WebhookHandler:__tostring
-- @within Webhooks
-- @treturn string `kombo.webhook_handler (secret=<redacted>, dict=..., window=86400 s, all_events=false)`
function Handler:__tostring()
  return ("kombo.webhook_handler (secret=<redacted>, dict=%s, window=%g s, all_events=%s)")
    :format(tostring(self.dict_name), self.window, tostring(self.all_events))
end

-- The answer: a small JSON body, then the end of the request.
local function answer(ngx, status, what, message)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  local body = message and core.encode_json({ status = what, message = message }) or core.encode_json({ status = what })
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(status)
end

-- The body nginx spooled to a file, read whole (it is at most
-- max_body_bytes: a local temporary file, as lua-nginx-module leaves it).
local function read_spooled(path, limit)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local body = f:read(limit + 1)
  f:close()
  return body or ""
end

-- The raw body, or nil and the status that refuses it.
local function raw_body(self, ngx)
  local cl = ngx.var.http_content_length
  if cl and (#cl > 15 or not cl:find("^%d+$") or tonumber(cl) > self.max_body_bytes) then
    return nil, 413
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body == nil then
    local path = ngx.req.get_body_file()
    if path == nil then return "" end
    local err
    body, err = read_spooled(path, self.max_body_bytes)
    if not body then
      ngx.log(ngx.ERR, "kombo webhook: cannot read the spooled body: ", err)
      return nil, 500
    end
  end
  if #body > self.max_body_bytes then return nil, 413 end
  return body
end

-- Deduplication keys in the shared dict.
local function done_key(id) return "kombo_webhook:done:" .. id end
local function busy_key(id) return "kombo_webhook:busy:" .. id end

--- Answers the delivery of the current request (`content_by_lua_block`);
-- calling the handler itself does the same.
-- @function WebhookHandler:handle
-- @within Webhooks
function Handler:handle()
  local ngx = self.ngx
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return answer(ngx, 405, "refused", "only POST")
  end
  local body, status = raw_body(self, ngx)
  if not body then
    return answer(ngx, status, "refused", status == 413 and "body too large" or "cannot read the body")
  end
  local event, err = M.verify_webhook(body, ngx.req.get_headers()["x-kombo-signature"], self.secret)
  if not event then
    status = err.code:find("^body_") and 400 or 401
    ngx.log(ngx.WARN, "kombo webhook: refused a delivery (", status, "): ", err.message)
    return answer(ngx, status, "refused", err.message)
  end
  if not event.known and not self.all_events then
    ngx.log(ngx.INFO, "kombo webhook: acknowledged event ", event.id, " of a type Kombo does not describe yet")
    return answer(ngx, 200, "ignored")
  end
  local dict, id = self.dict, event.id
  if dict then
    if dict:get(done_key(id)) then return answer(ngx, 200, "duplicate") end
    local ok, aerr = dict:add(busy_key(id), true, self.handling_timeout)
    if not ok and aerr == "exists" then
      ngx.header["Retry-After"] = "10"
      return answer(ngx, 503, "busy", "this event is being handled")
    end
  end
  local ok, perr = pcall(self.on_event, event)
  if dict then dict:delete(busy_key(id)) end
  if not ok then
    ngx.log(ngx.ERR, "kombo webhook: on_event failed for event ", id, " (", event.type, "): ",
      errors.redact(tostring(perr), self.secrets))
    return answer(ngx, 500, "failed", "on_event failed; deliver again")
  end
  if dict then
    local sok, serr = dict:set(done_key(id), true, self.window)
    if not sok then ngx.log(ngx.WARN, "kombo webhook: cannot record event ", id, ": ", serr) end
  end
  return answer(ngx, 200, "ok")
end

Handler.__call = Handler.handle

return M
