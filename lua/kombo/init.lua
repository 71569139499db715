--- kombo-lua: upload candidate documents to Kombo's unified ATS API.
--
-- Everything public is on this module table: @{new} and the default client,
-- one client method and one module function per API operation (made in a
-- loop from the C core's operation table, `csrc/operations.c`), and a few
-- helpers.  Results follow LuaSocket's habit: a @{Result} `res` on success,
-- `nil, err` on failure, where `err` is an @{Error} table.  Misusing the
-- API's shape (a number where a table belongs) raises, like luaL_argerror.
--
-- The same surface, as LuaLS editor types (`kombo.ClientOptions`,
-- `kombo.Client`, `kombo.Error`, ...), is in `lua/kombo/types.lua`; README.md
-- says how to point an editor at it.  The tables below (@{ClientOptions},
-- @{Result}, @{Error}, ...) are the classes of that file, without `kombo.`.
-- @module kombo
-- @usage
-- local kombo = require "kombo"
-- local client = kombo.new{ api_key = os.getenv("KOMBO_API_KEY") }
-- local res, err = client:attach_to_candidate{
--   integration_id = "workday:abc", candidate_id = "cand-1",
--   body = { attachment = { file = "/srv/uploads/cv.pdf", type = "CV" } },
-- }
-- if not res then error(tostring(err)) end
-- print(res.data.id, res.http.attempts)
local core = require "kombo.core"
local cjson = require "cjson.safe"
local errors = require "kombo.errors"
local remote_fields = require "kombo.remote_fields"
local trace = require "kombo.trace"
local cosocket = require "kombo.cosocket" -- the OpenResty transport
local bulk = require "kombo.bulk"         -- attach_many
local landed = require "kombo.landed"     -- attachment_exists: did an upload land?

local kombo = {
  VERSION = core.version,
  null = cjson.null,
  -- lua-cjson before 2.1.0.x has no empty_array: the core supplies one.
  empty_array = cjson.empty_array or core.empty_array,
  SERVERS = { eu = "https://api.kombo.dev/v1", us = "https://api.us.kombo.dev/v1" },
  -- What this build can do, for code that must work with older releases too.
  features = { file = true, bytes = true, source = true, on_progress = true },
}

-- Arrays decoded from an answer carry this metatable: OpenResty's cjson
-- then writes an empty one back as [], and so does our own JSON writer.
local ARRAY_MT = cjson.array_mt or { __name = "kombo.array" }
core.set_sentinels(kombo.null, kombo.empty_array, ARRAY_MT)
local DEFAULTS = core.defaults -- the one table of defaults (csrc/client.c)

local function lua_version()
  if type(jit) == "table" and jit.version then return jit.version end
  return _VERSION
end

local USER_AGENT = ("kombo-lua/%s (%s; %s)"):format(core.version, lua_version(), core.curl_version)

-- Inside nginx the cosocket transport moves the bytes: the User-Agent names
-- nginx's Lua module, not libcurl.
local function nginx_user_agent()
  local n = rawget(_G, "ngx")
  local c = type(n) == "table" and n.config or nil
  if type(c) ~= "table" then return nil end
  local v = tonumber(c.ngx_lua_version)
  local lua_mod = v and ("ngx_lua/%d.%d.%d"):format(math.floor(v / 1000000), math.floor(v / 1000) % 1000, v % 1000)
    or "ngx_lua"
  local nv = tonumber(c.nginx_version)
  local nginx = nv and ("%d.%d.%d"):format(math.floor(nv / 1000000), math.floor(nv / 1000) % 1000, nv % 1000) or "?"
  return ("kombo-lua/%s (%s; %s; nginx/%s)"):format(core.version, lua_version(), lua_mod, nginx)
end

-- -------------------------------------------------------------- options

--- The options of @{new} and @{configure} (LuaLS: `kombo.ClientOptions`).
-- All are optional.  They are checked once, when the client is made: an
-- unknown option, one of the wrong type or a bad value raises there,
-- naming it.  The numeric defaults live in the C core (`csrc/client.c`).
-- @table ClientOptions
-- @tfield[opt=$KOMBO_API_KEY] string api_key the API key (sent as `Authorization: Bearer`;
-- never shown in an error, `tostring` or a `debug` line)
-- @tfield[opt=$KOMBO_INTEGRATION_ID] string integration_id sent as `X-Integration-Id`; a call may override it
-- @tfield[opt="eu"] string server `"eu"` (`https://api.kombo.dev/v1`) or `"us"` (`https://api.us.kombo.dev/v1`)
-- @tfield[opt=$KOMBO_SERVER_URL] string server_url an absolute http(s) URL; overrides `server`
-- @tfield[opt=300] number timeout seconds for one attempt, upload included (> 0, finite)
-- @tfield[opt=10] number connect_timeout seconds for the TCP connect and TLS handshake (> 0, finite)
-- @tfield[opt] RetryOptions|false retries the retry policy (@{RetryOptions}), or `false` for one attempt
-- @tfield[opt] string ca_file a PEM bundle to trust instead of libcurl's default one
-- (a regular file holding `-----BEGIN CERTIFICATE-----`)
-- @tfield[opt=1048576] number max_response_bytes larger answers are an `http` error (0: the default)
-- @tfield[opt="auto"] string transport `"auto"`, `"curl"` or `"cosocket"` (OpenResty, README)
-- @tfield[opt] string user_agent replaces the `User-Agent` header (not empty)
-- (default `kombo-lua/<version> (<Lua>; libcurl/<version>)`)
-- @tfield[opt] func debug `function(line)`: one line per step of a call, `Authorization` redacted
-- @tfield[opt=false] boolean preflight check every upload against the integration's
-- attachment restrictions first (a call's `preflight` overrides it)
-- @tfield[opt=300] number preflight_ttl seconds the restrictions are cached per client, integration and target
-- @within Options

local OPTIONS = {
  api_key = "string", integration_id = "string", server = "string", server_url = "string",
  timeout = "number", connect_timeout = "number", retries = "table|boolean",
  ca_file = "string", max_response_bytes = "number", user_agent = "string",
  debug = "function", -- debug = function(line) end: one line per step, key redacted
  transport = "string", -- "auto" | "curl" | "cosocket" (lua/kombo/cosocket.lua)
  preflight = "boolean", -- check uploads against the integration's restrictions first
  preflight_ttl = "number", -- seconds the restrictions are cached per client, integration, target
}

--- The `retries` option (LuaLS: `kombo.RetryOptions`); all optional.
-- Retried by default: 429 and 503, and failures before any byte was sent;
-- the read operations also on other 5xx, timeouts and network errors.  A
-- wait is `initial_interval * exponent^(n-1)` scaled by a random factor in
-- [0.5, 1), capped by `max_interval`; `Retry-After` replaces it, in full:
-- one longer than `max_interval` or than what `max_elapsed` has left ends
-- the call at once (`err.retry_after` set).
-- @table RetryOptions
-- @tfield[opt=3] integer max_attempts attempts in all (a whole number >= 1)
-- @tfield[opt=0.5] number initial_interval seconds before the first retry
-- @tfield[opt=30] number max_interval the longest wait, seconds (> 0); a longer `Retry-After` ends the call
-- @tfield[opt=1.5] number exponent backoff growth per attempt
-- @tfield[opt=120] number max_elapsed no attempt starts once this many seconds would be exceeded
-- @tfield[opt=false] boolean retry_unsafe also retry uploads whose outcome is `unknown`
-- (they may have landed: a retry can duplicate the document)
-- @within Options

local RETRY_OPTIONS = {
  max_attempts = "number", initial_interval = "number", max_interval = "number",
  exponent = "number", max_elapsed = "number", retry_unsafe = "boolean",
}

-- A misuse of new / configure / the default client raises at the caller's
-- line: the first stack frame outside this file (never kombo/init.lua:N).
local THIS_FILE = debug.getinfo(1, "S").source
local function misuse(fname, what)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or info.source ~= THIS_FILE then break end
    level = level + 1
  end
  if fname == "default_client" then
    -- (the module functions build it on first use: their arguments are not at fault)
    error("kombo's default client (from the environment, or kombo.configure): " .. what, level)
  end
  error(("bad argument #1 to '%s' (%s)"):format(fname, what), level)
end

local function check_types(opts, allowed, fname, prefix)
  for k, v in pairs(opts) do
    local want = allowed[k]
    if not want then
      misuse(fname, ("unknown option '%s%s'%s"):format(prefix, tostring(k), bulk.did_you_mean(k, allowed)))
    end
    if not want:find(type(v), 1, true) then
      misuse(fname, ("option '%s%s' must be a %s, got %s"):format(prefix, k, want:gsub("|", " or "), type(v)))
    end
  end
end

-- A variable of the environment, "" read as unset.
local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

-- Explicit options win over the environment; the environment over defaults.
local function resolve(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    misuse(fname, ("table expected, got %s"):format(type(opts)))
  end
  opts = opts or {}
  check_types(opts, OPTIONS, fname, "")
  if type(opts.retries) == "table" then check_types(opts.retries, RETRY_OPTIONS, fname, "retries.") end
  if opts.retries == true then
    misuse(fname, "option 'retries' must be a table or false")
  end
  -- The options taken from the environment: a problem with one names its variable.
  local from_env = {}
  local function from(option, variable)
    if opts[option] ~= nil then return opts[option] end
    local v = env(variable)
    if v ~= nil then from_env[option] = variable end
    return v
  end

  -- server_url option, then server option, then $KOMBO_SERVER_URL, then EU.
  local server_url = opts.server_url
  if opts.server ~= nil then
    server_url = server_url or kombo.SERVERS[opts.server]
    if not kombo.SERVERS[opts.server] then
      misuse(fname, ("option 'server' must be \"eu\" or \"us\", got %q"):format(opts.server))
    end
  end
  if server_url == nil then server_url = from("server_url", "KOMBO_SERVER_URL") or DEFAULTS.server_url end
  -- "cosocket" needs nginx's Lua module.
  local transport = opts.transport or "auto"
  if transport ~= "auto" and transport ~= "curl" and transport ~= "cosocket" then
    misuse(fname, ("option 'transport' must be \"auto\", \"curl\" or \"cosocket\", got %q"):format(transport))
  end
  if transport == "cosocket" and not cosocket.in_nginx() then
    misuse(fname, "option 'transport' is \"cosocket\" but ngx.socket.tcp is not available: "
      .. "not running inside nginx's Lua module")
  end
  -- not (x >= 0), not x < 0: NaN must be refused too.
  if opts.preflight_ttl ~= nil and not (opts.preflight_ttl >= 0) then -- luacheck: ignore 581
    misuse(fname, "option 'preflight_ttl' must be a number of seconds >= 0")
  end
  return {
    from_env = from_env,
    preflight = opts.preflight == true,
    preflight_ttl = opts.preflight_ttl or 300,
    transport = transport,
    api_key = from("api_key", "KOMBO_API_KEY"),
    integration_id = from("integration_id", "KOMBO_INTEGRATION_ID"),
    server_url = server_url,
    timeout = opts.timeout or DEFAULTS.timeout,
    connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout,
    retries = opts.retries == nil and {} or opts.retries,
    ca_file = opts.ca_file,
    max_response_bytes = (opts.max_response_bytes == nil or opts.max_response_bytes == 0)
      and DEFAULTS.max_response_bytes or opts.max_response_bytes,
    user_agent = opts.user_agent
      or (transport ~= "curl" and cosocket.in_nginx() and nginx_user_agent())
      or USER_AGENT,
    debug = opts.debug,
  }
end

-- -------------------------------------------------------------- client

local Client = {}
Client.__index = Client

-- Configuration lives outside the client table, so that neither pairs()
-- nor a debugger's dump of the client shows the API key.
local private = setmetatable({}, { __mode = "k" })

-- The options go to the core once: it checks them (every problem names its
-- option) and renders what all calls share.
local function client_from(config, fname)
  if config.api_key == nil then
    misuse(fname, "option 'api_key' is required: pass api_key or set KOMBO_API_KEY")
  end
  local handle, problems = core.client(config)
  if not handle then
    local p = problems[1]
    local variable = config.from_env[p.path]
    misuse(fname, ("option '%s'%s %s"):format(p.path, variable and (" (from %s)"):format(variable) or "", p.message))
  end
  local self = setmetatable({}, Client)
  private[self] = { config = config, core = handle }
  return self
end

--- Creates a client.  Its calls reuse kept-alive connections from a
-- process-wide pool (a client holds none between calls); @{Client:close}
-- frees the client's settings.  Options the call does not
-- give come from the environment (`KOMBO_API_KEY`, `KOMBO_INTEGRATION_ID`,
-- `KOMBO_SERVER_URL`), then from the defaults.
-- @tparam[opt] ClientOptions opts the options (README "Clients")
-- @treturn Client the client
-- @raise a bad option, naming it: `bad argument #1 to 'new' (option 'timeout' must be ...)`
-- @usage
-- local client = kombo.new{ api_key = os.getenv("KOMBO_API_KEY"), timeout = 60 }
-- local client <close> = kombo.new{ retries = false }   -- Lua 5.4: closed at the end of the scope
function kombo.new(opts)
  return client_from(resolve(opts, "new"), "new")
end

--- `tostring(client)`: the server and integration, never the key.
-- For example
-- `kombo.client (https://api.kombo.dev/v1, integration_id=workday:..., api_key=<redacted>)`,
-- or `kombo.client (closed)`.
-- @function Client:__tostring
-- @treturn string
-- @within Client
function Client:__tostring()
  local p = private[self]
  if not p or p.closed then return "kombo.client (closed)" end
  return ("kombo.client (%s, integration_id=%s, api_key=%s)"):format(
    p.config.server_url, tostring(p.config.integration_id),
    p.config.api_key and "<redacted>" or "<none>")
end

local function state(self, fname)
  local p = private[self]
  if getmetatable(self) ~= Client then
    error(("bad argument #1 to '%s' (kombo client expected; use client:%s{...})"):format(fname, fname), 4)
  end
  if not p or p.closed then error(("'%s' on a closed kombo client"):format(fname), 4) end
  return p
end

--- Frees the client's settings in the C core (its copy of the API key is
-- overwritten first) and the headers rendered from them.  It frees no
-- connection: a client holds no connection or libcurl handle between calls
-- (they belong to a process-wide pool, which `close` leaves alone), and a
-- call in progress finishes first.  Using the client afterwards raises;
-- closing it again does nothing.
-- @function Client:close
-- @within Client
-- @usage client:close()
function Client:close()
  local p = private[self]
  if p and not p.closed then
    p.core:close()
    p.closed = true
  end
end
--- The to-be-closed metamethod (Lua 5.4): @{Client:close}, so that
-- `local client <close> = kombo.new{...}` closes it at the end of the scope.
-- @function Client:__close
-- @within Client
Client.__close = Client.close

-- Sends one prepared call and turns the core's plain result into res / err.
local function send(p, call)
  -- Cosockets inside nginx, libcurl elsewhere.
  local transport, why = cosocket.select(p.config.transport)
  if transport == nil then
    call:close()
    error(why, 4) -- misuse: calling in an nginx phase without cosockets
  elseif transport == "cosocket" then
    local ok, raw = pcall(cosocket.perform, call, p.config)
    call:close()
    if not ok then error(raw, 0) end
    return errors.from_result(raw, p.config.api_key)
  end
  local raw
  if p.config.debug then -- a Lua loop, so that every step can be logged
    raw = trace.drive(call, p.config.debug, call.attempt, core.sleep, core.now, p.config.api_key)
  else
    raw = call:perform() -- the whole loop in C
  end
  call:close()
  return errors.from_result(raw, p.config.api_key)
end

local OPERATIONS = {} -- by name
for _, op in ipairs(core.operations) do OPERATIONS[op.name] = op end

local preflight -- below: checks an upload against the integration's restrictions

-- A call of one operation of the table (csrc/operations.c) on client
-- state p: validated and, when asked, preflighted; not sent.  `level` is
-- where a misuse error points (the caller's caller).  With `defer`
-- (attach_many), restrictions not in the cache are not fetched here: the
-- call comes back with what to fetch (`need`), and the batch fetches it
-- beside its uploads.
local function prepare(self, p, op, args, fname, level, defer)
  local problems
  if op.body == "attachment" then args, problems = remote_fields.normalize(op, args) end
  local call, core_problems, shape = p.core:prepare(op.name, args, problems)
  if shape then error(("bad argument #1 to '%s' (%s)"):format(fname, shape), level) end
  if not call then return nil, errors.validation(core_problems, p.config.api_key) end
  if op.body == "attachment" then
    local wanted = args.preflight
    if wanted == nil then wanted = p.config.preflight end
    if wanted then
      local err, need = preflight(self, p, op, call, defer)
      if err then
        call:close()
        return nil, err
      end
      if need then return call, need end
    end
  end
  return call
end

local function call_operation(self, op, args, fname)
  local p = state(self, fname)
  local call, err = prepare(self, p, op, args, fname, 4)
  if not call then return nil, err end
  local res
  res, err = send(p, call)
  return res, err
end

-- -------------------------------------------------------------- preflight

local now = core.now

-- "application/pdf; charset=x" -> "application/pdf"
local function mime_base(t)
  return (t:match("^%s*([^;%s]+)") or t):lower()
end

-- The cache of restrictions, per client, integration and target: the
-- restrictions table (or kombo.null: the integration states none), kept
-- preflight_ttl seconds.  The integration is the one the prepared upload
-- sends (the core decides it: the call's, else the client's).
local function restrictions_key(op, call)
  local target = op.params[1] == "application_id" and "application" or "candidate"
  local integration_id = call:integration_id()
  return integration_id .. "\0" .. target, target, integration_id
end

local function cached_restrictions(p, key)
  local hit = p.restrictions and p.restrictions[key]
  if hit and hit.expires > now() then return hit end
  return nil
end

-- The restrictions request for `need` (from restrictions_key), prepared,
-- not sent: nil and a validation error if it cannot be made.
local function restrictions_call(p, need)
  local op = OPERATIONS[need.target .. "_attachment_restrictions"]
  local call, problems = p.core:prepare(op.name, { integration_id = need.integration_id })
  if not call then return nil, errors.validation(problems or {}, p.config.api_key) end
  return call
end

-- The answer of that request (res, err): { value = } (now cached) or { err = }.
local function store_restrictions(p, key, res, err)
  if not res then return { err = err } end
  local value = res.data.attachment_restrictions
  p.restrictions = p.restrictions or {}
  local hit = { value = value, expires = now() + p.config.preflight_ttl }
  p.restrictions[key] = hit
  return hit
end

-- A byte limit as a whole number: a fractional one is floored (5.5 -> 5);
-- one that is not a finite number or does not fit a Lua integer is no limit.
local function byte_limit(v)
  if type(v) ~= "number" or v ~= v or v >= 2 ^ 53 or v <= -2 ^ 53 then return nil end
  return math.floor(v)
end

-- Refuses, as a validation error naming the rule, what the integration says
-- it cannot take; nothing is sent then.  A failed fetch is reported with
-- its own kind: preflight never uploads blind.  `hit` is the cache entry
-- (or the failed fetch); the error of a failed fetch may be shared, so it
-- is copied.
local function check_restrictions(p, call, hit)
  if hit.err then
    local err = setmetatable({}, getmetatable(hit.err))
    for k, v in pairs(hit.err) do err[k] = v end
    err.message = "preflight: could not fetch the integration's attachment restrictions, so nothing "
      .. "was uploaded: " .. tostring(hit.err.message)
    err.outcome = "not_sent"
    return err
  end
  local rules = hit.value
  if type(rules) ~= "table" or type(rules.types) ~= "table" then return nil end -- none stated
  local att_type, content_type, size = call:attachment()
  local rule = rules.types[att_type]
  if type(rule) ~= "table" then return nil end
  local problems = {}
  local where = ("(preflight: the integration's attachment_restrictions.types.%s)"):format(att_type)
  if rule.is_supported == false then
    problems[#problems + 1] = { path = "body.attachment.type",
      message = ("%s is not supported by this integration %s"):format(att_type, where) }
  else
    local max = byte_limit(rule.max_file_size_bytes)
    if size and max and size > max then
      problems[#problems + 1] = { path = "body.attachment",
        message = ("is %d bytes, more than the integration's max_file_size_bytes %d %s")
          :format(size, max, where) }
    end
    local accepted = rule.accepted_mime_types
    if size and content_type and type(accepted) == "table" then
      local ok = false
      for _, m in ipairs(accepted) do
        if type(m) == "string" and mime_base(m) == mime_base(content_type) then ok = true end
      end
      if not ok then
        local list = {}
        for i, m in ipairs(accepted) do list[i] = tostring(m) end
        problems[#problems + 1] = { path = "body.attachment.content_type",
          message = ("%s is not among the integration's accepted_mime_types (%s) %s")
            :format(content_type, table.concat(list, ", "), where) }
      end
    end
  end
  if #problems > 0 then return errors.validation(problems, p.config.api_key) end
  return nil
end

-- The check before an upload, the restrictions fetched first when they are
-- not cached.  Returns the error that refuses the upload, or nil; with
-- `defer`, nil and what to fetch (`{ key =, target =, integration_id = }`)
-- instead of fetching it here.
function preflight(self, p, op, call, defer)
  local key, target, integration_id = restrictions_key(op, call)
  local hit = cached_restrictions(p, key)
  if not hit then
    if defer then return nil, { key = key, target = target, integration_id = integration_id } end
    local res, err = call_operation(self, OPERATIONS[target .. "_attachment_restrictions"],
      { integration_id = integration_id }, "preflight")
    hit = store_restrictions(p, key, res, err)
  end
  return check_restrictions(p, call, hit)
end

-- -------------------------------------------------------------- operations

local default_client

--- The default client (the one the module functions use), built from the
-- environment on first use; @{configure} replaces it.
-- @treturn Client
-- @raise when the environment holds a bad option (a malformed `KOMBO_API_KEY`, ...) or no key
-- (neither `kombo.configure{ api_key = }` nor `KOMBO_API_KEY`), naming the variable
function kombo.default_client()
  if not default_client then default_client = client_from(resolve(nil, "default_client"), "default_client") end
  return default_client
end

-- One client method and one module function (on the default client) per
-- operation, made by the loop below from core.operations (csrc/operations.c),
-- so their reference lives here: one block per name.  They call
-- call_operation() without a tail call, so that every error raised for
-- misuse (at a fixed stack level) names the caller's line.

--- Uploads a document to a candidate: `POST /ats/candidates/{candidate_id}/attachments`.
-- Not retried once it may have been processed (an upload is not idempotent):
-- an @{Error} with outcome `unknown` is settled with @{Client:attachment_exists}.
-- @function Client:attach_to_candidate
-- @within Client
-- @tparam AttachToCandidateArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{UploadData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res, err = client:attach_to_candidate{
--   candidate_id = "8Xi6iZrwusZqJmDGXs49GBmJ",
--   body = { attachment = { file = "cv.pdf", type = "CV" } },
-- }

--- Uploads a document to an application: `POST /ats/applications/{application_id}/attachments`.
-- Not retried once it may have been processed, as @{Client:attach_to_candidate}.
-- @function Client:attach_to_application
-- @within Client
-- @tparam AttachToApplicationArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{UploadData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res, err = client:attach_to_application{
--   application_id = "7Xi6iZrwusZqJmDGXs49GBmJ",
--   body = { attachment = { bytes = pdf, name = "letter.pdf", type = "COVER_LETTER" } },
-- }

--- Lists a candidate's attachments: `GET /ats/candidates/{candidate_id}/attachments`.
-- Retried like every read (idempotent).
-- @function Client:get_candidate_attachments
-- @within Client
-- @tparam GetCandidateAttachmentsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{AttachmentList}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res = assert(client:get_candidate_attachments{ candidate_id = "8Xi6iZrwusZqJmDGXs49GBmJ" })
-- for _, a in ipairs(res.data.results) do print(a.id, a.type, a.file_name) end

--- Lists an application's attachments: `GET /ats/applications/{application_id}/attachments`.
-- Retried like every read (idempotent).
-- @function Client:get_application_attachments
-- @within Client
-- @tparam GetApplicationAttachmentsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{AttachmentList}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res = assert(client:get_application_attachments{ application_id = "7Xi6iZrwusZqJmDGXs49GBmJ" })

--- The integration's rules for candidate uploads: `GET /ats/actions/ats_add_candidate_attachment`.
-- Supported types, maximum size and accepted MIME types; also
-- @{Client:attachment_restrictions}`("candidate")`.
-- @function Client:candidate_attachment_restrictions
-- @within Client
-- @tparam RestrictionsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res = assert(client:candidate_attachment_restrictions())

--- The integration's rules for application uploads: `GET /ats/actions/ats_add_application_attachment`.
-- As @{Client:candidate_attachment_restrictions}, for applications.
-- @function Client:application_attachment_restrictions
-- @within Client
-- @tparam RestrictionsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res = assert(client:application_attachment_restrictions{ integration_id = "workday:..." })

--- Checks the API key: `GET /check-api-key` (no `X-Integration-Id`).
-- A wrong key is an `api` @{Error}, status 401, code `PLATFORM.AUTHENTICATION_INVALID`.
-- @function Client:check_api_key
-- @within Client
-- @tparam[opt] table args nothing, or an empty table
-- @treturn[1] Result `res`; `res.data` is the @{ApiKeyData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise misuse: `args` not a table, or a closed client
-- @usage
-- local res, err = client:check_api_key()   --> res.data.environment_id, res.data.customer_id

--- Calls @{Client:attach_to_candidate} on the @{default_client}.
-- @function attach_to_candidate
-- @tparam AttachToCandidateArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{UploadData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.attach_to_candidate({...})

--- Calls @{Client:attach_to_application} on the @{default_client}.
-- @function attach_to_application
-- @tparam AttachToApplicationArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{UploadData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.attach_to_application({...})

--- Calls @{Client:get_candidate_attachments} on the @{default_client}.
-- @function get_candidate_attachments
-- @tparam GetCandidateAttachmentsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{AttachmentList}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.get_candidate_attachments({...})

--- Calls @{Client:get_application_attachments} on the @{default_client}.
-- @function get_application_attachments
-- @tparam GetApplicationAttachmentsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{AttachmentList}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.get_application_attachments({...})

--- Calls @{Client:candidate_attachment_restrictions} on the @{default_client}.
-- @function candidate_attachment_restrictions
-- @tparam RestrictionsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.candidate_attachment_restrictions({...})

--- Calls @{Client:application_attachment_restrictions} on the @{default_client}.
-- @function application_attachment_restrictions
-- @tparam RestrictionsArgs args the call's arguments
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.application_attachment_restrictions({...})

--- Calls @{Client:check_api_key} on the @{default_client}.
-- @function check_api_key
-- @tparam[opt] table args nothing, or an empty table
-- @treturn[1] Result `res`; `res.data` is the @{ApiKeyData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @usage local res, err = kombo.check_api_key()

for _, op in ipairs(core.operations) do
  local name = op.name
  Client[name] = function(self, args)
    local res, err = call_operation(self, op, args, name)
    return res, err
  end
  kombo[name] = function(args)
    local res, err = call_operation(kombo.default_client(), op, args, name)
    return res, err
  end
end

-- -------------------------------------------------------------- default client

--- Replaces the default client (the one the module functions use).  It
-- takes the options of @{new}, over the environment (not over an earlier
-- `configure`); the client it returned before is closed, so a later call on
-- that one raises.
-- @tparam[opt] ClientOptions opts the options
-- @treturn Client the new default client
-- @raise a bad option, naming it
-- @usage kombo.configure{ integration_id = "workday:HWUTwvyx2wLoSUHphiWVrp28", preflight = true }
function kombo.configure(opts)
  local config = resolve(opts, "configure")
  local new = client_from(config, "configure")
  if default_client then default_client:close() end
  default_client = new
  return default_client
end

-- -------------------------------------------------------------- read back

local RESTRICTION_TARGETS = { candidate = true, application = true }

--- The integration's rules for uploads to a target:
-- `GET /ats/actions/ats_add_candidate_attachment` (or `_application_`): the
-- supported types, maximum size and accepted MIME types.  What `preflight`
-- checks an upload against.
-- @function Client:attachment_restrictions
-- @within Client
-- @tparam string target `"candidate"` or `"application"`
-- @tparam[opt] RestrictionsArgs opts `{ integration_id = }`
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
-- @raise a target other than `"candidate"` or `"application"`
-- @usage
-- local res = assert(client:attachment_restrictions("candidate"))
-- local cv = res.data.attachment_restrictions.types.CV
-- -- { is_supported = true, max_file_size_bytes = 10485760, accepted_mime_types = { "application/pdf" } }
function Client:attachment_restrictions(target, opts)
  if not RESTRICTION_TARGETS[target] then
    error(("bad argument #1 to 'attachment_restrictions' (\"candidate\" or \"application\" expected, got %s)")
      :format(type(target) == "string" and ("%q"):format(target) or type(target)), 2)
  end
  local res, err = call_operation(self, OPERATIONS[target .. "_attachment_restrictions"], opts,
    "attachment_restrictions")
  return res, err
end

local function base_name(path)
  return type(path) == "string" and (path:match("([^/]+)$") or path) or nil
end

--- Whether an upload landed: lists the target's attachments (the
-- candidate's, or the application's when `args.application_id` is given)
-- and looks for *this* upload among those with its file name
-- (`attachment.name`, or the base name of `attachment.file`) and type, by
-- evidence only (`kombo.landed`):
--
-- * the content: a listed `data_url` that downloads to the SHA-256 of
--   `attachment.file`, `.bytes` or `.data` (streamed, no Kombo header sent
--   to that host; not inside nginx, where it would block the worker);
-- * else the time: a `remote_created_at` no earlier than `opts.since` (pass
--   `err.written_at`, when the request went out whole) less 120 s of skew.
--
-- An older file of the same name is not this upload. `false` means the
-- listing shows no evidence, not that the upload did not land: the ATS may
-- still be processing it, so send again only when you accept a duplicate.
-- With `opts.since`, it refuses to look while the earlier attempt could
-- still be in flight (until its `timeout` has passed since then).
-- @function Client:attachment_exists
-- @within Client
-- @tparam AttachToCandidateArgs|AttachToApplicationArgs args exactly as for the upload
-- @tparam[opt] table opts `{ since = err.written_at }`
-- @treturn[1] boolean `true` when the listing proves it landed, `false` when it does not
-- @treturn[1] table|string the listed attachment (when `true`), or why it proves nothing (when `false`)
-- @return[2] nil
-- @treturn[2] Error `err`: the listing failed, or `validation`: both ids, no name or type, or
-- `since` too recent (`err.retry_after` says how long to wait)
-- @raise `args` or `args.body.attachment` not a table
-- @usage
-- local res, err = client:attach_to_candidate(args)
-- if not res and err.outcome == "unknown" then
--   local landed, why = client:attachment_exists(args, { since = err.written_at })
--   if landed == false then print("not proved: " .. why) end
-- end
function Client:attachment_exists(args, opts)
  if type(args) ~= "table" then
    error(("bad argument #1 to 'attachment_exists' (the argument must be a table, got %s)"):format(type(args)), 2)
  end
  local attachment = type(args.body) == "table" and args.body.attachment
  if type(attachment) ~= "table" then
    error("bad argument #1 to 'attachment_exists' ('body.attachment' must be a table, got "
      .. type(attachment) .. ")", 2)
  end
  if opts ~= nil and (type(opts) ~= "table" or (opts.since ~= nil and type(opts.since) ~= "number")) then
    error("bad argument #2 to 'attachment_exists' ({ since = number } or nil expected)", 2)
  end
  local since = opts and opts.since
  local name = attachment.name or base_name(attachment.file)
  local p = state(self, "attachment_exists")
  local secret = p.config.api_key
  if args.application_id ~= nil and args.candidate_id ~= nil then
    return nil, errors.validation({ { path = "application_id", message = "and candidate_id were both given: "
      .. "an upload went to one of them" } }, secret)
  end
  if type(name) ~= "string" or type(attachment.type) ~= "string" then
    return nil, errors.validation({ { path = type(name) ~= "string" and "body.attachment.name"
      or "body.attachment.type", message = "is required to find the upload" } }, secret)
  end
  if since then
    local _, wall = core.now()
    local wait = since + p.config.timeout - wall
    if wait > 0 then
      local err = errors.validation({ { path = "since", message = ("the upload could still be in flight for "
        .. "%.0f s (its timeout); look after that, or the listing may not show it yet"):format(wait) } }, secret)
      err.retry_after = wait
      return nil, err
    end
  end
  local digest
  if type(attachment.bytes) == "string" then
    digest = core.sha256(attachment.bytes)
  elseif type(attachment.data) == "string" then
    digest = core.sha256_base64(attachment.data)
  elseif type(attachment.file) == "string" then
    digest = core.sha256_file(attachment.file) -- (nil when it cannot be read: the time decides)
  end
  if cosocket.in_nginx() and cosocket.select(p.config.transport) == "cosocket" then
    digest = nil -- no blocking download inside a worker: the time decides
  end
  local list_op, id_key
  if args.application_id ~= nil then
    list_op, id_key = OPERATIONS.get_application_attachments, "application_id"
  else
    list_op, id_key = OPERATIONS.get_candidate_attachments, "candidate_id"
  end
  local res, err = call_operation(self, list_op,
    { [id_key] = args[id_key], integration_id = args.integration_id }, "attachment_exists")
  if not res then return nil, err end
  local verdict = landed.match(res.data.results, { name = name, type = attachment.type, digest = digest,
    since = since }, nil, landed.downloader({ timeout = p.config.timeout, ca_file = p.config.ca_file }))
  if verdict.state == "found" then return true, verdict.attachment end
  return false, verdict.reason
end

-- -------------------------------------------------------------- bulk

-- A job of attach_many: the arguments of attach_to_candidate or
-- attach_to_application, told apart by their id.
local function job_operation(job)
  if type(job) ~= "table" then
    return nil, { { path = "job", message = "must be a table of upload arguments, got " .. type(job) } }
  end
  local c, a = job.candidate_id ~= nil, job.application_id ~= nil
  if c and a then
    return nil, { { path = "application_id",
      message = "and candidate_id were both given: one job uploads to one of them" } }
  end
  if not c and not a then
    return nil, { { path = "candidate_id", message = "(or application_id) is required" } }
  end
  return c and OPERATIONS.attach_to_candidate or OPERATIONS.attach_to_application
end

--- Checks an upload's arguments exactly as the upload would, without
-- sending anything: the same rules (ids, name, type, content type, the file
-- a regular one that can be opened, remote_fields), told apart by their id
-- like @{Client:attach_many}'s jobs.  A dry run is this.  Not the
-- integration's restrictions (preflight asks Kombo for those).
-- @function Client:validate_upload
-- @within Client
-- @tparam AttachToCandidateArgs|AttachToApplicationArgs args the upload's arguments
-- @treturn[1] boolean `true`
-- @return[2] nil
-- @treturn[2] Error `err` of kind `validation`, with every problem in `err.problems`
-- @usage
-- local ok, err = client:validate_upload(args)
-- if not ok then for _, p in ipairs(err.problems) do print(p.path, p.message) end end
function Client:validate_upload(args)
  local p = state(self, "validate_upload")
  local op, problems = job_operation(args)
  if not op then return nil, errors.validation(problems, p.config.api_key) end
  local normalized
  normalized, problems = remote_fields.normalize(op, args)
  local ok, call, core_problems, shape = pcall(p.core.prepare, p.core, op.name, normalized, problems)
  if not ok or shape then
    local msg = tostring(ok and shape or call):gsub("^bad argument #1 to '[%w_]+' %((.*)%)$", "%1")
    return nil, errors.validation({ { path = "args", message = msg } }, p.config.api_key)
  end
  if not call then return nil, errors.validation(core_problems, p.config.api_key) end
  call:close()
  return true
end

--- Uploads many documents at once, within Kombo's concurrency limit.
-- Each job is exactly the argument table of @{Client:attach_to_candidate}
-- (with `candidate_id`) or @{Client:attach_to_application} (with
-- `application_id`), and follows the same rules: validation (a bad job is
-- reported with its index and does not stop the others), preflight, retries,
-- and the outcome rule (nothing with outcome `unknown` is sent again).
-- At most `concurrency` uploads are in flight, and per integration never more
-- than its `Concurrency-Limit` or 30: a 429 `PLATFORM.CONCURRENCY_LIMIT_EXCEEDED`
-- (or `Concurrency-Remaining: 0`) lowers the integration's count to what the
-- server takes, that job backs off about 1 s and goes first when a slot frees,
-- and the count grows back by one after a run of successes; a rate-limit 429
-- pauses every new attempt for its `Retry-After`.  Outside nginx one libcurl
-- multi handle moves all the bytes in the calling thread; inside nginx, light
-- threads over cosockets.  With `preflight`, each integration's restrictions
-- are fetched the same way, beside the uploads (one request per integration
-- and target at a time; a failed fetch is remembered for 5 s).
--
-- No outcome is lost: when `on_result`, `on_progress`, `stop` or the jobs
-- iterator raises, the batch drains (it takes no new job, sends nothing
-- new, retries nothing; the attempts in flight finish) and raises a
-- @{BatchError} whose `results` hold the outcome of every job taken that
-- `on_result` did not get, including the one whose `on_result` raised.
-- @function Client:attach_many
-- @within Client
-- @tparam {AttachToCandidateArgs|AttachToApplicationArgs,...}|func jobs an array of
-- jobs, or a function returning the next job and `nil` at the end (read only as
-- slots free up, so a million-row iterator is fine)
-- @tparam[opt] BulkOptions opts the options
-- @treturn BulkSummary the summary
-- @raise a bad option, a closed client; or, when `on_result`, `on_progress`, `stop` or
-- the jobs iterator raised, a @{BatchError} (after the uploads in flight finished:
-- its `results` hold every outcome `on_result` did not get)
-- @usage
-- local summary = client:attach_many(jobs, {
--   concurrency = 16,
--   on_result = function(i, res, err) if err then print(i, err) end end,
-- })
-- print(summary.succeeded, summary.failed)
function Client:attach_many(jobs, opts)
  local p = state(self, "attach_many")
  local transport, why = cosocket.select(p.config.transport)
  if transport == nil then error(why, 2) end
  local host = {
    engine = transport == "cosocket" and bulk.ngx_engine(cosocket.attempt, p.config) or bulk.curl_engine(),
    debug = p.config.debug, secret = p.config.api_key,
  }
  function host.prepare(job)
    local op, problems = job_operation(job)
    if not op then return nil, errors.validation(problems, p.config.api_key) end
    -- A shape mistake in one job (a number where a table belongs) raises
    -- in a single call; here it is that job's validation error.
    local ok, call, err = pcall(prepare, self, p, op, job, op.name, 1, true)
    if not ok then
      local msg = tostring(call):gsub("^bad argument #1 to '[%w_]+' %((.*)%)$", "%1")
      return nil, errors.validation({ { path = "job", message = msg } }, p.config.api_key)
    end
    if not call then return nil, err end
    return call, call:integration_id(), err -- (err: the restrictions to fetch)
  end
  function host.result(call)
    return errors.from_result(call:result(), p.config.api_key)
  end
  -- Preflight inside the batch: the restrictions request for a `need` of
  -- host.prepare, sent by the engine like an upload; its answer; the check.
  function host.fetch(need) return restrictions_call(p, need) end
  function host.fetched(need, call)
    local hit = store_restrictions(p, need.key, errors.from_result(call:result(), p.config.api_key))
    call:close()
    return hit
  end
  function host.check(call, hit) return check_restrictions(p, call, hit) end
  return bulk.run(host, jobs, opts)
end

-- Module-level forms on the default client.

--- Calls @{Client:attachment_restrictions} on the @{default_client}.
-- @tparam string target `"candidate"` or `"application"`
-- @tparam[opt] RestrictionsArgs opts `{ integration_id = }`
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
function kombo.attachment_restrictions(target, opts)
  local res, err = kombo.default_client():attachment_restrictions(target, opts)
  return res, err
end

--- Calls @{Client:attachment_exists} on the @{default_client}.
-- @tparam AttachToCandidateArgs|AttachToApplicationArgs args exactly as for the upload
-- @tparam[opt] table opts `{ since = err.written_at }`
-- @treturn[1] boolean whether the listing proves the upload is there
-- @treturn[1] table|string the listed attachment, or why it proves nothing
-- @return[2] nil
-- @treturn[2] Error `err`
function kombo.attachment_exists(args, opts)
  local found, what = kombo.default_client():attachment_exists(args, opts)
  return found, what
end

--- Calls @{Client:attach_many} on the @{default_client}.
-- @tparam {AttachToCandidateArgs|AttachToApplicationArgs,...}|func jobs the jobs
-- @tparam[opt] BulkOptions opts the options
-- @treturn BulkSummary the summary
-- @usage local summary = kombo.attach_many(jobs, { concurrency = 16 })
function kombo.attach_many(jobs, opts)
  return kombo.default_client():attach_many(jobs, opts)
end

--- Whether a value is an error object returned by a call (`nil, err`).
-- @function is_error
-- @param v any value
-- @treturn boolean `true` for an @{Error}, else `false`
-- @usage if kombo.is_error(err) and err.kind == "api" then print(err.code) end
kombo.is_error = errors.is_error

--- Standard padded base64 of raw bytes, encoded in C (for `attachment.data`).
-- @function base64
-- @tparam string bytes the raw bytes
-- @treturn string the base64 text
-- @usage body = { attachment = { name = "cv.pdf", type = "CV", data = kombo.base64(pdf),
--                                content_type = "application/pdf" } }
kombo.base64 = core.base64_encode

--- JSON text of a value: a @{Result} re-encodes as the same JSON value as
-- the answer it came from (empty arrays as `[]`, integers as integers,
-- `kombo.null` as `null`), also where lua-cjson cannot.
--
-- Not byte-exact: Lua tables have no key order, so an object's keys come
-- in `pairs` order, not Kombo's, and that order may differ from one run (or
-- one Lua) to the next.  Compare decoded values, not the texts.
-- @function encode_json
-- @param value a table, string, number, boolean, @{null} or @{empty_array}
-- @treturn[1] string the JSON text
-- @return[2] nil
-- @treturn[2] string a message naming the value that cannot be JSON
-- @usage print(kombo.encode_json(res))   --> {"status":"success","data":{...},"warnings":[]}
kombo.encode_json = core.encode_json

--- The request body being received, as an attachment `source` and `size`
-- (OpenResty: content, access or rewrite phase).  `size` is the request's
-- `Content-Length`; the source reads `ngx.req.socket()` in chunks, so the
-- upload goes on to Kombo as the client sends it, never held whole in
-- memory.  A client that disconnects or sends fewer bytes makes the source
-- fail, and the upload ends with kind `aborted` (nothing reported complete).
-- Use it before anything else reads the body (not with `ngx.req.read_body`
-- or `lua_need_request_body on`); a chunked request body (no
-- `Content-Length`) cannot be given an exact size and is refused.
-- @tparam[opt] table opts `chunk_size` (bytes per read, default 65536),
-- `timeout` (seconds a read may wait for the client; default nginx's
-- `lua_socket_read_timeout`)
-- @treturn[1] func the source (one upload: it cannot be read twice)
-- @treturn[1] integer its size
-- @return[2] nil
-- @treturn[2] string why the body cannot be streamed
-- @usage local source, size = kombo.request_body_source()
-- if not source then return ngx.exit(400) end
-- local res, err = client:attach_to_candidate{ candidate_id = id,
--   body = { attachment = { name = "cv.pdf", type = "CV", source = source, size = size } } }
function kombo.request_body_source(opts)
  local n = rawget(_G, "ngx")
  if type(n) ~= "table" or type(n.req) ~= "table" or type(n.req.socket) ~= "function" then
    return nil, "kombo.request_body_source needs nginx's Lua module (OpenResty)"
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'request_body_source' (table expected, got " .. type(opts) .. ")", 2)
  end
  local chunk_size = opts and opts.chunk_size or 65536
  local timeout = opts and opts.timeout
  if type(chunk_size) ~= "number" or chunk_size < 1 or chunk_size ~= math.floor(chunk_size) then
    error("bad argument #1 to 'request_body_source' (chunk_size must be a whole number >= 1)", 2)
  end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout <= 0) then
    error("bad argument #1 to 'request_body_source' (timeout must be a number > 0)", 2)
  end
  local cl = n.var.http_content_length
  if cl == nil then
    if n.var.http_transfer_encoding then
      return nil, "the request body is chunked (no Content-Length): its size is not known up front"
    end
    cl = "0"
  end
  if not cl:find("^%d+$") or #cl > 15 then return nil, "invalid Content-Length in the request" end
  local size = tonumber(cl)
  if size == 0 then return function() return nil end, 0 end -- the upload's rules refuse it
  local sock, err = n.req.socket()
  if not sock then return nil, "cannot read the request body: " .. tostring(err) end
  if timeout then sock:settimeout(math.floor(timeout * 1000 + 0.5)) end
  local left = size
  return function()
    if left <= 0 then return nil end
    local data, rerr = sock:receiveany(left < chunk_size and left or chunk_size)
    if not data then
      return nil, ("the client's request body ended after %.0f of %.0f bytes (%s)")
        :format(size - left, size, tostring(rerr))
    end
    left = left - #data
    return data
  end, size
end


-- -------------------------------------------------------------- reference
-- The argument, result and error tables of the calls above, for the
-- reference (`make docs`); lua/kombo/types.lua has the same as LuaLS classes.

-- The module's fields (set in the `kombo` table at the top).

--- This release, as a string such as `"0.1.0"` (the C core's version).
-- @field VERSION

--- JSON `null` for `body` (lua-cjson's `cjson.null`); results hold it too.
-- @field null

--- An empty JSON array (`[]`) for `body`: lua-cjson's `empty_array`, or the
-- core's own where lua-cjson has none.
-- @field empty_array

--- The `server` option's URLs:
-- `{ eu = "https://api.kombo.dev/v1", us = "https://api.us.kombo.dev/v1" }`.
-- @field SERVERS

--- What this build supports, for code that must work with older releases:
-- `{ file = true, bytes = true, source = true, on_progress = true }`.
-- @field features

--- The arguments of @{Client:attach_to_candidate} (LuaLS: `kombo.AttachToCandidateArgs`).
-- An unknown key here, in `body` or in `body.attachment` is a `validation`
-- problem that names it and suggests the nearest known one.
-- @table AttachToCandidateArgs
-- @tfield string candidate_id the candidate (one path segment, percent-encoded;
-- not empty, `.` or `..`, no CR, LF or NUL)
-- @tfield[opt] string integration_id sent as `X-Integration-Id`; default: the client's
-- @tfield AttachmentBody body the request body, as the API has it
-- @tfield[opt] func on_progress `function(sent, total)`: bytes of the request body,
-- at most about 100 times per attempt, the last time with `sent == total`; an error raised in it aborts the upload
-- @tfield[opt] boolean preflight check against the integration's restrictions first
-- (overrides the client's `preflight`; `false` turns it off for this call)
-- @within Call arguments

--- The arguments of @{Client:attach_to_application} (LuaLS: `kombo.AttachToApplicationArgs`):
-- those of @{AttachToCandidateArgs}, with `application_id` for `candidate_id`.
-- @table AttachToApplicationArgs
-- @tfield string application_id the application (one path segment, percent-encoded)
-- @tfield[opt] string integration_id sent as `X-Integration-Id`; default: the client's
-- @tfield AttachmentBody body the request body
-- @tfield[opt] func on_progress `function(sent, total)`, as for candidates
-- @tfield[opt] boolean preflight check against the integration's restrictions first
-- @within Call arguments

--- An upload's `body` (LuaLS: `kombo.AttachmentBody`): the API's, exactly.
-- @table AttachmentBody
-- @tfield Attachment attachment the document
-- @tfield[opt] table remote_fields ATS-specific extras, passed through unchanged; the known
-- ones are type-checked: `greenhouse.post_headers["On-Behalf-Of"]` (string or `kombo.null`;
-- alias `greenhouse.on_behalf_of`), `workable.on_behalf_of_user_remote_id` (string), and for
-- applications `oracle.override_document_category` and `oracle.multi_post_to_all_current_applications`
-- @within Call arguments

--- `body.attachment` (LuaLS: `kombo.Attachment`).  Exactly one of `file`,
-- `bytes`, `source` (with `size`), `data` and `data_url`; all but `data_url`
-- go out as the API's `data` field.  A `file`, `bytes` or `source` of 0 bytes
-- is refused.
-- @table Attachment
-- @tfield string name the file name (required; defaults to the base name of `file`)
-- @tfield string type `"CV"`, `"COVER_LETTER"` or `"OTHER"`
-- @tfield[opt] string file a path to a regular file: streamed from disk and base64-encoded by the C core while it
-- is sent (a FIFO, a device such as `/dev/zero`, a socket or a directory is a validation problem, found
-- without waiting on it)
-- @tfield[opt] string bytes the raw bytes, base64-encoded in C
-- @tfield[opt] func source a function (or ltn12 source) returning chunks, then nil; read once.
-- Inside nginx (cosocket transport) it is called from Lua and may yield (read a cosocket such as
-- `ngx.req.socket()`: @{request_body_source}); with libcurl it is called from C and must not
-- @tfield[opt] integer size the exact total of `source`'s chunks (required with `source`)
-- @tfield[opt] string data base64 you encoded yourself (@{base64}), sent verbatim
-- @tfield[opt] string data_url an absolute http(s) URL Kombo downloads the file from
-- @tfield[opt] string content_type `type/subtype`: required with `data`, optional with `data_url`,
-- inferred for `file`, `bytes` and `source` (leading bytes, then the name's extension)
-- @within Call arguments

--- The arguments of @{Client:get_candidate_attachments} (LuaLS: `kombo.GetCandidateAttachmentsArgs`).
-- @table GetCandidateAttachmentsArgs
-- @tfield string candidate_id the candidate
-- @tfield[opt] string integration_id default: the client's
-- @within Call arguments

--- The arguments of @{Client:get_application_attachments} (LuaLS: `kombo.GetApplicationAttachmentsArgs`).
-- @table GetApplicationAttachmentsArgs
-- @tfield string application_id the application
-- @tfield[opt] string integration_id default: the client's
-- @within Call arguments

--- The arguments of @{Client:candidate_attachment_restrictions},
-- @{Client:application_attachment_restrictions} and the `opts` of
-- @{Client:attachment_restrictions} (LuaLS: `kombo.RestrictionsArgs`); may be omitted.
-- @table RestrictionsArgs
-- @tfield[opt] string integration_id default: the client's
-- @within Call arguments

--- What a call returns on success (LuaLS: `kombo.Result`): the API's positive
-- response, exactly (@{encode_json} gives back the same JSON value, its
-- object keys in another order), plus `http`.
-- JSON `null` is @{null}; integers stay integers on Lua 5.3 and 5.4; arrays
-- keep a metatable so that an empty one re-encodes as `[]`.
-- @table Result
-- @tfield string status `"success"`
-- @tfield table data the operation's data: @{UploadData}, @{AttachmentList},
-- @{RestrictionsData} or @{ApiKeyData}
-- @tfield[opt] {{message=string},...} warnings `{ { message = "..." } }` (every operation but `check_api_key`)
-- @tfield Http http the exchange (reached through the metatable: not part of the answer)
-- @within Results

--- `res.http` (LuaLS: `kombo.Http`): what we know about the exchange.
-- @table Http
-- @tfield integer status the HTTP status
-- @tfield table headers the response headers: lower-case names, repeated ones joined with `, `
-- (parsed on first use)
-- @tfield integer attempts how many attempts the call made
-- @tfield number elapsed seconds, waits between attempts included
-- @tfield Limits limits Kombo's limits as the answer announced them
-- @within Results

--- `res.http.limits` and `err.limits` (LuaLS: `kombo.Limits`): integers from
-- the answer's headers.  A value is digits only (spaces around them and leading zeros
-- allowed); a header that was not sent, is not such a number, is above 2^31-1, or was
-- sent more than once with different values is left out.
-- @table Limits
-- @tfield[opt] integer concurrency_limit `Concurrency-Limit`
-- @tfield[opt] integer concurrency_remaining `Concurrency-Remaining`
-- @tfield[opt] integer rate_limit `RateLimit-Limit`
-- @tfield[opt] integer rate_remaining `RateLimit-Remaining`
-- @tfield[opt] integer rate_reset `RateLimit-Reset`
-- @within Results

--- `res.data` of an upload (LuaLS: `kombo.UploadData`): the API's `data`
-- object, whose fields the API description leaves open; Kombo's answer
-- describes the new attachment.
-- @table UploadData
-- @tfield[opt] string id the new attachment's id (`res.data.id`)
-- @within Results

--- `res.data` of @{Client:get_candidate_attachments} and
-- @{Client:get_application_attachments} (LuaLS: `kombo.AttachmentList`).
-- @table AttachmentList
-- @tfield {ListedAttachment,...} results the attachments (@{ListedAttachment}); an empty list re-encodes as `[]`
-- @within Results

--- One of `res.data.results` (LuaLS: `kombo.ListedAttachment`).
-- @table ListedAttachment
-- @tfield string id Kombo's id of the attachment
-- @tfield[opt] string|null application_id the application, or @{null} for a candidate's
-- attachment; absent from @{Client:get_application_attachments}'s results
-- @tfield[opt] string candidate_id the candidate; absent from
-- @{Client:get_application_attachments}'s results
-- @tfield string type `"CV"`, `"COVER_LETTER"` or `"OTHER"`
-- @tfield string remote_id the ATS's id
-- @tfield string data_url where to download the file
-- @tfield string file_name the file name
-- @tfield string content_type the MIME type
-- @tfield string|null remote_created_at ISO 8601 date-time, or @{null}
-- @tfield string|null remote_updated_at ISO 8601 date-time, or @{null}
-- @within Results

--- `res.data` of the restriction operations (LuaLS: `kombo.RestrictionsData`).
-- @table RestrictionsData
-- @tfield table|null attachment_restrictions `{ types = { CV = ..., COVER_LETTER = ..., OTHER = ... } }`,
-- each type's rules a @{TypeRestriction}; or @{null} when the integration publishes none
-- @within Results

--- `attachment_restrictions.types[type]` (LuaLS: `kombo.TypeRestriction`).
-- @table TypeRestriction
-- @tfield boolean is_supported whether the integration takes this type
-- @tfield[opt] number|null max_file_size_bytes the largest decoded size, or @{null}: no limit stated
-- @tfield[opt] {string,...}|null accepted_mime_types the MIME types it takes, or @{null}: any
-- @within Results

--- `res.data` of @{Client:check_api_key} (LuaLS: `kombo.ApiKeyData`).
-- @table ApiKeyData
-- @tfield string environment_id the key's environment
-- @tfield string customer_id the key's customer
-- @within Results

--- The error object of `nil, err` (LuaLS: `kombo.Error`; made in
-- lua/kombo/errors.lua).  `tostring(err)` and `"upload failed: " .. err`
-- read `kombo <kind> error: <message>` (with `(HTTP <status> <code>)` when
-- an answer came); no field ever holds the API key.  @{is_error} tells it
-- from other values.
-- @table Error
-- @tfield string kind `"validation"`, `"api"`, `"http"`, `"network"`, `"timeout"`, `"decode"` or `"aborted"`
-- @tfield string outcome may the upload have landed? `"not_sent"`, `"rejected"` or `"unknown"`
-- (check with @{Client:attachment_exists} before sending again)
-- @tfield string message for people (does not repeat the kind)
-- @tfield[opt] integer status the HTTP status, when an answer arrived
-- @tfield[opt] string code Kombo's error code, the field to branch on (`PLATFORM.RATE_LIMIT_EXCEEDED`, ...)
-- @tfield[opt] string title Kombo's error title
-- @tfield[opt] string log_url Kombo's log entry for the request
-- @tfield[opt] table headers the response headers (lower-case names)
-- @tfield[opt] string body the response body, capped by `max_response_bytes`
-- @tfield[opt] number retry_after seconds, from `Retry-After`
-- @tfield integer attempts how many attempts were made (0 for `validation`)
-- @tfield[opt] number elapsed over how many seconds
-- @tfield[opt] {Problem,...} problems `validation`: every @{Problem} found, at once
-- @tfield[opt] Limits limits Kombo's limits as the answer announced them (not for `validation`)
-- @within Errors

--- The options of @{Client:attach_many} (LuaLS: `kombo.BulkOptions`); all optional.
-- @table BulkOptions
-- @tfield[opt=8] integer concurrency uploads in flight at once (1 to 30)
-- @tfield[opt] func on_result `function(index, res, err)`: once per job as it
-- finishes (`index`: its 1-based position in `jobs`); with it, the summary holds no `results`
-- @tfield[opt] func on_progress `function(stats)` with a @{BulkStats}, at most every
-- `progress_interval` seconds and once at the end
-- @tfield[opt=0.25] number progress_interval seconds between `on_progress` calls
-- @tfield[opt] func stop `function()` polled at least every 0.1 s: `"drain"` takes no
-- new job, sends nothing new (jobs taken and not yet sent end with kind `aborted`,
-- outcome `not_sent`; a job waiting for a retry ends with its last answer) and
-- lets the attempts in flight finish; `"abort"` also cuts those off (they end
-- with kind `aborted`, outcome `unknown` when the whole request had gone out);
-- `nil` or `false` goes on, any other value is treated as `stop` raising;
-- a job the batch ended before it was sent has `err.not_started = true`
-- @tfield[opt] func on_attempt `function(index, event, info)`, for a journal of what
-- went on the wire: `"sending"` (`info.attempt`) just before an attempt starts (if it
-- raises, the attempt is not sent and the batch drains), and `"written"`
-- (`info.attempt`, `info.digest`: the SHA-256 of the content as read) just before the
-- bytes that complete the request are handed to the transport, from inside it:
-- it must not yield, and if it raises the attempt is aborted as `not_sent`
-- @within Bulk uploads

--- What `on_progress` gets (LuaLS: `kombo.BulkStats`).
-- @table BulkStats
-- @tfield integer done jobs finished (`succeeded + failed`)
-- @tfield integer succeeded
-- @tfield integer failed
-- @tfield integer in_flight attempts in flight now
-- @tfield integer waiting jobs backing off before a retry
-- @tfield integer bytes_sent request-body bytes handed to the network, every attempt counted
-- @tfield integer retries attempts after a job's first
-- @tfield integer concurrency uploads now allowed in flight (lowered by 429s)
-- @tfield number elapsed seconds since the batch started
-- @within Bulk uploads

--- What @{Client:attach_many} returns (LuaLS: `kombo.BulkSummary`).
-- @table BulkSummary
-- @tfield integer succeeded jobs that uploaded
-- @tfield integer failed jobs that did not (validation included)
-- @tfield integer retries attempts after a job's first
-- @tfield number elapsed seconds
-- @tfield[opt] string stopped `"drain"` or `"abort"` when `stop` ended the batch early
-- (jobs never taken are not reported)
-- @tfield[opt] table results `results[index]` is the job's @{Result} or @{Error}
-- (@{is_error} tells them apart); absent when `on_result` is given
-- @within Bulk uploads

--- What @{Client:attach_many} raises when `on_result`, `on_progress`, `stop` or the
-- jobs iterator raised (LuaLS: `kombo.BatchError`); `tostring(err)` gives the message.
-- The batch took no new job, sent nothing new and retried nothing; the attempts in
-- flight finished first.
-- @table BatchError
-- @tfield string kind `"callback"`
-- @tfield string where what raised: `"on_result"`, `"on_progress"`, `"stop"` or `"jobs"`
-- @field cause the value it raised, as it was (a string, a table...)
-- @tfield[opt] integer index `where == "on_result"`: the index of the result it was given
-- @tfield string message one line: what raised, and its message
-- @tfield table results `results[index]`: the @{Result} or @{Error} of every job taken
-- whose outcome `on_result` did not get (the one it raised on included; without
-- `on_result`, every job taken)
-- @tfield BulkSummary summary the totals
-- @within Bulk uploads

--- One of `err.problems` (LuaLS: `kombo.Problem`).
-- @table Problem
-- @tfield string path where: `"body.attachment.type"`, `"candidate_id"`, ...
-- @tfield string message what is wrong there
-- @within Errors

return kombo
