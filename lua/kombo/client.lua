--- Clients: the options of @{new} and @{configure}, checked once when a
-- client is made; the `Client` metatable, its state kept out of sight, and
-- the methods a client has of its own (`tostring`, `close`, `<close>`).
-- lua/kombo/init.lua puts `new` on the module and the calls on `Client`
-- (the operations' methods, and those of lua/kombo/uploads.lua).  Its LDoc
-- blocks are on the `kombo` module's page (config.ld merges this file in).
-- @module kombo
local core = require "kombo.core"
local nginx = require "kombo.nginx"       -- the transport option: is nginx's Lua module there?
local bulk = require "kombo.bulk"         -- did_you_mean, for an unknown option
-- kombo.trace, the observer of a call's attempts (debug, hooks): loaded
-- outside nginx by the first client or call given debug or hooks (a
-- program that has none never parses it), inside nginx with this module.
local trace_module = nginx.loader "kombo.trace"
local function make_observer(debug, client_hooks, call_hooks, headers, secret)
  if not (debug or client_hooks or call_hooks) then return nil end -- (trace.observer's answer then)
  return trace_module().observer(debug, client_hooks, call_hooks, headers, secret)
end

local M = {}

local DEFAULTS = core.defaults -- the one table of defaults (csrc/core/client.c)

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
  local nginx_version = nv and ("%d.%d.%d"):format(math.floor(nv / 1000000), math.floor(nv / 1000) % 1000, nv % 1000)
    or "?"
  return ("kombo-lua/%s (%s; %s; nginx/%s)"):format(core.version, lua_version(), lua_mod, nginx_version)
end

-- The `server` option's URLs (kombo.SERVERS is this table).
local SERVERS = { eu = "https://api.kombo.dev/v1", us = "https://api.us.kombo.dev/v1" }
M.SERVERS = SERVERS

-- -------------------------------------------------------------- options

--- The options of @{new} and @{configure} (LuaLS: `kombo.ClientOptions`).
-- All are optional.  They are checked once, when the client is made: an
-- unknown option, one of the wrong type or a bad value raises there,
-- naming it.  The numeric defaults live in the C core (`csrc/core/client.c`).
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
-- @tfield[opt] string|false proxy an HTTP proxy, `"http://[user:password@]host[:port]"` (port
-- default 1080, as libcurl's), that every call tunnels through with CONNECT (no_proxy does not apply
-- to it); `false`: no proxy at all, whatever the environment says; nil (the default): the
-- environment's (`https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY`, `http_proxy` for an http://
-- server_url; `no_proxy`, `NO_PROXY`), read at each call, by both transports (README "Proxies").
-- The credentials are never shown in an error, a result, `tostring` or a `debug` line
-- @tfield[opt] number max_response_bytes larger answers are an `http` error; by default (or 0)
-- 1048576 (1 MiB), and 16777216 (16 MiB) for a page of a list (250 records with their nested data)
-- @tfield[opt="auto"] string transport `"auto"`, `"curl"` or `"cosocket"` (OpenResty, README)
-- @tfield[opt] string user_agent replaces the `User-Agent` header (not empty)
-- (default `kombo-lua/<version> (<Lua>; libcurl/<version>)`)
-- @tfield[opt] func debug `function(line)`: one line per step of a call, `Authorization` redacted
-- @tfield[opt] Hooks hooks functions called at each attempt of every call (@{Hooks}): for
-- logging, metrics and tracing
-- @tfield[opt=false] boolean preflight check every upload, and every create's attachments,
-- against the integration's attachment restrictions first (a call's `preflight` overrides it)
-- @tfield[opt=300] number preflight_ttl seconds the restrictions are cached per client, integration and target
-- @within Options

-- The options: the C core's (core.options, from kombo_options in
-- csrc/core/client.c, the one list of them) and the Lua layer's own.
local OPTIONS = {
  server = "string", -- "eu" | "us": a name for server_url
  retries = "table|boolean",
  debug = "function", -- debug = function(line) end: one line per step, key redacted
  transport = "string", -- "auto" | "curl" | "cosocket" (lua/kombo/cosocket.lua)
  preflight = "boolean", -- check uploads and creates against the integration's restrictions first
  preflight_ttl = "number", -- seconds the restrictions are cached per client, integration, target
  hooks = "table", -- { before_request =, after_response =, on_retry = } (lua/kombo/trace.lua)
}
for name, t in pairs(core.options) do
  if name ~= "retries" then OPTIONS[name] = t end
end

-- The options of one call (a method's second argument, a batch job's
-- `options`): those the C core lets a call have of its own (core.call_options,
-- from kombo_options' per_call column) and the Lua layer's own.
local CALL_OPTIONS = {
  server = "string", -- "eu" | "us": a name for server_url
  retries = "table|boolean",
  headers = "table", -- { ["Name"] = "value" }: checked by the core (kombo_call_set_headers)
  hooks = "table",
}
for name, t in pairs(core.call_options) do
  if name ~= "retries" then CALL_OPTIONS[name] = t end
end

--- The `hooks` option of @{new} and of one call (LuaLS: `kombo.Hooks`); all
-- optional.  Each is called with an @{HookInfo} table at one point of every
-- attempt: the events the `debug` log prints, as values.  A call's hooks
-- run after the client's (both run).  No hooks, no cost: nothing is
-- measured or built for them otherwise.  A hook that raises ends the call
-- (no further attempt) and the call returns `nil, err` with `err.kind ==
-- "hook"`, `err.hook` naming it and `err.cause` the value raised: a raise in
-- `before_request` means that attempt sent nothing; a raise in
-- `after_response` keeps the attempt's outcome (a write that went out is
-- `err:may_have_landed()`; one that succeeded leaves its answer in
-- `err.result`).  The API key never appears in an info table.
-- @table Hooks
-- @tfield[opt] func before_request `function(info)` before each attempt is sent; it may return a
-- table of headers to add to that attempt (`{ traceparent = "00-..." }`), under the rules of the
-- call option `headers`
-- @tfield[opt] func after_response `function(info)` after each attempt, answered or not
-- (`info.status`, `info.kind`, `info.code`, the timings)
-- @tfield[opt] func on_retry `function(info)` before the wait for a retry (`info.delay`)
-- @within Options

--- What a hook gets (LuaLS: `kombo.HookInfo`).  A new table per event.
-- @table HookInfo
-- @tfield string event `"before_request"`, `"after_response"` or `"on_retry"`
-- @tfield string operation the method's name (`"get_jobs"`)
-- @tfield string method `"GET"`, `"POST"`, ...
-- @tfield string url the request's URL (query included)
-- @tfield string path its path (`"/v1/ats/jobs"`: no host, no query)
-- @tfield integer attempt the attempt, from 1 (on_retry: the one that failed)
-- @tfield {string,...} headers the request's headers as `"Name: value"` lines, `Authorization`
-- as `Bearer <redacted>` (before_request)
-- @tfield[opt] integer status the HTTP status (after_response, on_retry), when one arrived
-- @tfield[opt] string kind `"ok"` or the error's kind (after_response, on_retry)
-- @tfield[opt] string outcome the error's outcome (after_response, on_retry)
-- @tfield[opt] string code Kombo's error code, when the answer had one
-- @tfield[opt] number connect_time seconds until the connection was ready (TLS included; 0 when a
-- kept-alive one was reused; after_response)
-- @tfield[opt] number first_byte_time seconds until the answer's first byte (0: none; after_response)
-- @tfield[opt] number total_time seconds the attempt took (after_response)
-- @tfield[opt] number bytes_sent bytes of the request handed to the connection (after_response)
-- @tfield[opt] number delay seconds before the next attempt (on_retry)
-- @within Options

--- A call's own options, the second argument of every operation's method
-- and module function (`client:get_jobs(args, { timeout = 5 })`), and a
-- batch job's `options` (LuaLS: `kombo.CallOptions`).  They are checked
-- like the client's (an unknown one, with the nearest known, or a bad value
-- raises, naming it; in a batch it is that job's validation error) and
-- apply to this call alone, over the client's.
-- @table CallOptions
-- @tfield[opt] number timeout seconds for one attempt (> 0, finite)
-- @tfield[opt] number connect_timeout seconds for the connect and TLS handshake
-- @tfield[opt] RetryOptions|false retries `false`: one attempt; a table: its fields over the
-- client's policy.  The outcome rule holds whatever it says
-- @tfield[opt] string server `"eu"` or `"us"`
-- @tfield[opt] string server_url an absolute http(s) URL; overrides `server`
-- @tfield[opt] number max_response_bytes the cap on the answer (0: the default)
-- @tfield[opt] table headers `{ ["X-Request-Id"] = "..." }`: extra request headers (HTTP token
-- names, values without CR, LF or NUL, at most 32); the library's own (`Authorization`,
-- `X-Integration-Id`, `Content-Type`, `Content-Length`, `Host`, `Accept`, `User-Agent`,
-- `Connection`, `Transfer-Encoding`, `Expect`, in any case) cannot be set
-- @tfield[opt] Hooks hooks this call's hooks, run after the client's
-- @within Options

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

local RETRY_OPTIONS = core.options.retries

-- A misuse of new / configure / the default client raises at the caller's
-- line: the first stack frame outside the library's files (never
-- kombo/client.lua:N or kombo/init.lua:N).  Those are this file and the
-- ones whose functions call in here for their caller (init.lua's module
-- functions build the default client on first use): M.skip_frames_of adds one.
local LIBRARY = { [debug.getinfo(1, "S").source] = true }

function M.skip_frames_of(source)
  LIBRARY[source] = true
end

local function misuse(fname, what, argn)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or not LIBRARY[info.source] then break end
    level = level + 1
  end
  if fname == "default_client" then
    -- (the module functions build it on first use: their arguments are not at fault)
    error("kombo's default client (from the environment, or kombo.configure): " .. what, level)
  end
  error(("bad argument #%d to '%s' (%s)"):format(argn or 1, fname, what), level)
end

local function check_types(opts, allowed, fname, prefix, argn)
  for k, v in pairs(opts) do
    local want = allowed[k]
    if not want then
      misuse(fname, ("unknown option '%s%s'%s"):format(prefix, tostring(k), bulk.did_you_mean(k, allowed)), argn)
    end
    if not want:find(type(v), 1, true) then
      misuse(fname, ("option '%s%s' must be a %s, got %s"):format(prefix, k, want:gsub("|", " or "), type(v)),
        argn)
    end
  end
end

local HOOKS = { before_request = "function", after_response = "function", on_retry = "function" }

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
  if opts.hooks then check_types(opts.hooks, HOOKS, fname, "hooks.") end
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
    server_url = server_url or SERVERS[opts.server]
    if not SERVERS[opts.server] then
      misuse(fname, ("option 'server' must be \"eu\" or \"us\", got %q"):format(opts.server))
    end
  end
  if server_url == nil then server_url = from("server_url", "KOMBO_SERVER_URL") or DEFAULTS.server_url end
  -- "cosocket" needs nginx's Lua module.
  local transport = opts.transport or "auto"
  if transport ~= "auto" and transport ~= "curl" and transport ~= "cosocket" then
    misuse(fname, ("option 'transport' must be \"auto\", \"curl\" or \"cosocket\", got %q"):format(transport))
  end
  if transport == "cosocket" and not nginx.in_nginx() then
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
    proxy = opts.proxy, -- nil: the environment's; false: none ("" for the core); a URL (the core checks it)
    max_response_bytes = opts.max_response_bytes, -- nil or 0: the core's cap for the answer (a list's page more)
    user_agent = opts.user_agent
      or (transport ~= "curl" and nginx.in_nginx() and nginx_user_agent())
      or USER_AGENT,
    debug = opts.debug,
    hooks = opts.hooks,
  }
end

-- A call's own options (CallOptions) for client state p, checked, or
-- misuse raised as argument #argn of `fname` at the caller's line.  The
-- result is what the call needs: `core` (the table the core reads its
-- settings and headers from: server resolved to server_url) and
-- `observer` (trace.observer of the client's debug and hooks and the
-- call's hooks; nil when there is nothing to observe).
function M.call_options(p, opts, fname, argn)
  if type(opts) ~= "table" then misuse(fname, ("options table expected, got %s"):format(type(opts)), argn) end
  check_types(opts, CALL_OPTIONS, fname, "", argn)
  if type(opts.retries) == "table" then check_types(opts.retries, RETRY_OPTIONS, fname, "retries.", argn) end
  if opts.retries == true then misuse(fname, "option 'retries' must be a table or false", argn) end
  if opts.hooks then check_types(opts.hooks, HOOKS, fname, "hooks.", argn) end
  local core_opts = opts
  if opts.server ~= nil then
    if not SERVERS[opts.server] then
      misuse(fname, ("option 'server' must be \"eu\" or \"us\", got %q"):format(opts.server), argn)
    end
    if opts.server_url == nil then
      core_opts = {}
      for k, v in pairs(opts) do core_opts[k] = v end
      core_opts.server_url = SERVERS[opts.server]
    end
  end
  local observer = p.observer
  if opts.hooks or (opts.headers and observer) then -- (a hook's headers join the call's)
    observer = make_observer(p.config.debug, p.config.hooks, opts.hooks, opts.headers, p.config.secrets)
  end
  return { core = core_opts, observer = observer, raw = opts }
end

-- -------------------------------------------------------------- client

local Client = {}
Client.__index = Client

-- Configuration lives outside the client table, so that neither pairs()
-- nor a debugger's dump of the client shows the API key.
local private = setmetatable({}, { __mode = "k" })

-- The environment's proxy variables, in the order libcurl looks at them (an
-- https:// server first; http_proxy only in lower case), for both
-- transports: libcurl reads them itself, lua/kombo/cosocket.lua with
-- os.getenv, and this file for the credentials it redacts.  An empty
-- variable counts as unset.
local PROXY_VARIABLES = {
  https = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" },
  http = { "http_proxy", "all_proxy", "ALL_PROXY" },
  no_proxy = { "no_proxy", "NO_PROXY" },
}
M.PROXY_VARIABLES = PROXY_VARIABLES

-- What a proxy URL's credentials look like in text a proxy (or anything)
-- might echo: "user:password", the password, the Basic token (the redactor
-- finds their percent-encoded and escaped forms too; csrc/core/redact.c).
-- A value without a scheme is read as http://, as libcurl does.
local function add_proxy_secrets(list, url)
  if type(url) ~= "string" or url == "" then return end
  if not url:find("://", 1, true) then url = "http://" .. url end
  local px = core.proxy(url)
  if px and px.credentials then
    list[#list + 1] = px.credentials
    list[#list + 1] = px.password
    list[#list + 1] = px.authorization:sub(7)
  end
end

-- The secrets a client keeps out of everything it returns, logs or
-- prints: the API key, and the credentials of its proxy (the option's, or
-- with none given those of the environment's proxy variables as they are
-- when the client is made).  An array for errors.redact (at most 16).
local function secrets_of(config)
  local list = { config.api_key }
  if config.proxy ~= nil then
    add_proxy_secrets(list, config.proxy)
  else
    for _, scheme in ipairs { "https", "http" } do
      for _, name in ipairs(PROXY_VARIABLES[scheme]) do add_proxy_secrets(list, os.getenv(name)) end
    end
  end
  local seen, out = {}, {}
  for _, s in ipairs(list) do
    if s ~= "" and not seen[s] and #out < 16 then seen[s] = true; out[#out + 1] = s end
  end
  return out
end
M.secrets_of = secrets_of

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
  config.secrets = secrets_of(config) -- what every error, result and debug line is redacted of
  handle:set_secrets(config.secrets)  -- and the answers the core decodes
  local self = setmetatable({}, Client)
  private[self] = { config = config, core = handle,
    -- what watches every attempt of its calls: nil without debug and hooks
    -- (the calls then run without a Lua loop, and nothing is built for it)
    observer = make_observer(config.debug, config.hooks, nil, nil, config.secrets) }
  local p = private[self]
  -- The core handle again when its calls without options may run as one
  -- step of the core (kombo.call, csrc/lua/lua_method.c): nothing observes
  -- them and they go over libcurl (not the cosocket transport, not inside
  -- nginx).  False otherwise, and once the client is closed.
  p.plain_core = p.observer == nil and config.transport ~= "cosocket" and not nginx.in_nginx() and handle
  return self
end

-- A client from the options of configure (nil: the environment's alone, for
-- the default client); `fname` is what a misuse error names.  Not a tail
-- call: Lua 5.1 shows one as a "(tail call)" frame, where misuse() would
-- stop looking for the caller's line.
function M.create(opts, fname)
  local self = client_from(resolve(opts, fname), fname)
  return self
end

--- Creates a client.  Its calls reuse kept-alive connections from a
-- process-wide pool (a client holds none between calls); @{Client:close}
-- frees the client's settings.  Options the call does not
-- give come from the environment (`KOMBO_API_KEY`, `KOMBO_INTEGRATION_ID`,
-- `KOMBO_SERVER_URL`), then from the defaults.
-- @function new
-- @tparam[opt] ClientOptions opts the options (README "Clients")
-- @treturn Client the client
-- @raise a bad option, naming it: `bad argument #1 to 'new' (option 'timeout' must be ...)`
-- @usage
-- local client = kombo.new{ api_key = os.getenv("KOMBO_API_KEY"), timeout = 60 }
-- local client <close> = kombo.new{ retries = false }   -- Lua 5.4: closed at the end of the scope
function M.new(opts)
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

-- The state of a client, for its methods: raises, at the level of the
-- method's caller, when `self` is not a client (a call with a dot) or is closed.
-- (kombo.call looks the state up in M.private itself first, and calls this
-- only to raise: the same frame depth.)
function M.state(self, fname)
  local p = private[self] -- only clients are keys of it
  if p == nil and getmetatable(self) ~= Client then
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
    p.plain_core = false
  end
end
--- The to-be-closed metamethod (Lua 5.4): @{Client:close}, so that
-- `local client <close> = kombo.new{...}` closes it at the end of the scope.
-- @function Client:__close
-- @within Client
Client.__close = Client.close

M.Client = Client
M.private = private
M.misuse = misuse -- raises "bad argument #n to 'fname' (what)" at the caller's line (kombo.webhook)
M.OPTIONS = OPTIONS -- the options new() takes: the core's and the Lua layer's (read-only)
M.CALL_OPTIONS = CALL_OPTIONS -- the options of one call (read-only)

return M
