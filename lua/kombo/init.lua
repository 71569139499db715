--- kombo-lua: upload candidate documents to Kombo's unified ATS API.
--
--   local kombo = require "kombo"
--   local client = kombo.new{ api_key = os.getenv("KOMBO_API_KEY") }
--   local res, err = client:attach_to_candidate{
--     integration_id = "workday:abc", candidate_id = "cand-1",
--     body = { attachment = { file = "/srv/uploads/cv.pdf", type = "CV" } },
--   }
--
-- Results follow LuaSocket's habit: `res` on success, `nil, err` on failure,
-- where `err` is a table (see kombo.errors).  Misusing the API's shape (a
-- number where a table belongs) raises, like luaL_argerror.
local core = require "kombo.core"
local cjson = require "cjson.safe"
local errors = require "kombo.errors"
local remote_fields = require "kombo.remote_fields"
local trace = require "kombo.trace"
local cosocket = require "kombo.cosocket" -- the OpenResty transport

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

---------------------------------------------------------------- options

local OPTIONS = {
  api_key = "string", integration_id = "string", server = "string", server_url = "string",
  timeout = "number", connect_timeout = "number", retries = "table|boolean",
  ca_file = "string", max_response_bytes = "number", user_agent = "string",
  debug = "function", -- debug = function(line) end: one line per step, key redacted
  transport = "string", -- "auto" | "curl" | "cosocket" (lua/kombo/cosocket.lua)
  preflight = "boolean", -- check uploads against the integration's restrictions first
  preflight_ttl = "number", -- seconds the restrictions are cached per client, integration, target
}

local RETRY_OPTIONS = {
  max_attempts = "number", initial_interval = "number", max_interval = "number",
  exponent = "number", max_elapsed = "number", retry_unsafe = "boolean",
}

local function check_types(opts, allowed, fname, prefix)
  for k, v in pairs(opts) do
    local want = allowed[k]
    if not want then
      error(("bad argument #1 to '%s' (unknown option '%s%s')"):format(fname, prefix, tostring(k)), 4)
    end
    if not want:find(type(v), 1, true) then
      error(("bad argument #1 to '%s' (option '%s%s' must be a %s, got %s)")
        :format(fname, prefix, k, want:gsub("|", " or "), type(v)), 4)
    end
  end
end

-- Explicit options win over the environment; the environment over defaults.
local function resolve(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
  end
  opts = opts or {}
  check_types(opts, OPTIONS, fname, "")
  if type(opts.retries) == "table" then check_types(opts.retries, RETRY_OPTIONS, fname, "retries.") end
  if opts.retries == true then
    error(("bad argument #1 to '%s' (option 'retries' must be a table or false)"):format(fname), 3)
  end

  -- server_url option, then server option, then $KOMBO_SERVER_URL, then EU.
  local server_url = opts.server_url
  if opts.server ~= nil then
    server_url = server_url or kombo.SERVERS[opts.server]
    if not kombo.SERVERS[opts.server] then
      error(("bad argument #1 to '%s' (option 'server' must be \"eu\" or \"us\", got %q)")
        :format(fname, opts.server), 3)
    end
  end
  if server_url == nil then
    local env = os.getenv("KOMBO_SERVER_URL")
    server_url = (env ~= nil and env ~= "") and env or DEFAULTS.server_url
  end
  -- "cosocket" needs nginx's Lua module.
  local transport = opts.transport or "auto"
  if transport ~= "auto" and transport ~= "curl" and transport ~= "cosocket" then
    error(("bad argument #1 to '%s' (option 'transport' must be \"auto\", \"curl\" or \"cosocket\", got %q)")
      :format(fname, transport), 3)
  end
  if transport == "cosocket" and not cosocket.in_nginx() then
    error(("bad argument #1 to '%s' (option 'transport' is \"cosocket\" but ngx.socket.tcp is not available: "
      .. "not running inside nginx's Lua module)"):format(fname), 3)
  end
  -- not (x >= 0), not x < 0: NaN must be refused too.
  if opts.preflight_ttl ~= nil and not (opts.preflight_ttl >= 0) then -- luacheck: ignore 581
    error(("bad argument #1 to '%s' (option 'preflight_ttl' must be a number of seconds >= 0)"):format(fname), 3)
  end
  return {
    preflight = opts.preflight == true,
    preflight_ttl = opts.preflight_ttl or 300,
    transport = transport,
    api_key = opts.api_key or os.getenv("KOMBO_API_KEY"),
    integration_id = opts.integration_id or os.getenv("KOMBO_INTEGRATION_ID"),
    server_url = server_url,
    timeout = opts.timeout or DEFAULTS.timeout,
    connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout,
    retries = opts.retries == nil and {} or opts.retries,
    ca_file = opts.ca_file,
    max_response_bytes = (opts.max_response_bytes == nil or opts.max_response_bytes == 0)
      and DEFAULTS.max_response_bytes or opts.max_response_bytes,
    user_agent = opts.user_agent or USER_AGENT,
    debug = opts.debug,
  }
end

---------------------------------------------------------------- client

local Client = {}
Client.__index = Client

-- Configuration lives outside the client table, so that neither pairs()
-- nor a debugger's dump of the client shows the API key.
local private = setmetatable({}, { __mode = "k" })

-- The options go to the core once: it checks them (every problem names its
-- option) and renders what all calls share.
local function client_from(config, fname)
  local handle, problems = core.client(config)
  if not handle then
    local p = problems[1]
    error(("bad argument #1 to '%s' (option '%s' %s)"):format(fname, p.path, p.message), 3)
  end
  local self = setmetatable({}, Client)
  private[self] = { config = config, core = handle }
  return self
end

--- Creates a client.  See README "Clients" for every option.
function kombo.new(opts)
  return client_from(resolve(opts, "new"), "new")
end

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

--- Frees the connection (libcurl handle).  Using the client afterwards raises.
function Client:close()
  local p = private[self]
  if p and not p.closed then
    p.core:close()
    p.closed = true
  end
end
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

-- One operation of the table (csrc/operations.c) on client state p.
local function call_operation(self, op, args, fname)
  local p = state(self, fname)
  local problems
  if op.body == "attachment" then args, problems = remote_fields.normalize(op, args) end
  local call, core_problems, shape = p.core:prepare(op.name, args, problems)
  if shape then error(("bad argument #1 to '%s' (%s)"):format(fname, shape), 3) end
  if not call then return nil, errors.validation(core_problems, p.config.api_key) end
  if op.body == "attachment" then
    local wanted = args.preflight
    if wanted == nil then wanted = p.config.preflight end
    if wanted then
      local err = preflight(self, p, op, args, call)
      if err then
        call:close()
        return nil, err
      end
    end
  end
  local res, err = send(p, call)
  return res, err
end

---------------------------------------------------------------- preflight

local now = core.now

-- "application/pdf; charset=x" -> "application/pdf"
local function mime_base(t)
  return (t:match("^%s*([^;%s]+)") or t):lower()
end

-- The integration's restrictions for an upload target, cached per client,
-- integration and target for preflight_ttl seconds.  Returns the
-- restrictions table (or kombo.null: the integration states none), or nil
-- and the fetch's error.
local function restrictions(self, p, target, integration_id)
  local key = tostring(integration_id) .. "\0" .. target
  p.restrictions = p.restrictions or {}
  local hit = p.restrictions[key]
  if hit and hit.expires > now() then return hit.value end
  local op = OPERATIONS[target .. "_attachment_restrictions"]
  local res, err = call_operation(self, op, { integration_id = integration_id }, "preflight")
  if not res then return nil, err end
  local value = res.data.attachment_restrictions
  p.restrictions[key] = { value = value, expires = now() + p.config.preflight_ttl }
  return value
end

-- Refuses, as a validation error naming the rule, what the integration says
-- it cannot take; nothing is sent then.  A failed fetch is reported with
-- its own kind: preflight never uploads blind.
function preflight(self, p, op, args, call)
  local target = op.params[1] == "application_id" and "application" or "candidate"
  local integration_id = args.integration_id or p.config.integration_id
  local rules, err = restrictions(self, p, target, integration_id)
  if rules == nil then
    err.message = "preflight: could not fetch the integration's attachment restrictions, so nothing "
      .. "was uploaded: " .. err.message
    err.outcome = "not_sent"
    return err
  end
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
    local max = rule.max_file_size_bytes
    if size and type(max) == "number" and size > max then
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

---------------------------------------------------------------- operations

local default_client

--- The default client, built from the environment on first use.
function kombo.default_client()
  if not default_client then default_client = client_from(resolve(nil, "default_client"), "default_client") end
  return default_client
end

-- One client method and one module function (on the default client) per
-- operation.  They call call_operation() without a tail call, so that every
-- error raised for misuse (at a fixed stack level) names the caller's line.
--   client:attach_to_candidate{ candidate_id =, integration_id =, body = {...} }
--   client:attach_to_application{ application_id =, integration_id =, body = {...} }
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

---------------------------------------------------------------- default client

--- Replaces the default client (options merged over the environment); the
-- client it returned before is closed.
function kombo.configure(opts)
  local config = resolve(opts, "configure")
  local new = client_from(config, "configure")
  if default_client then default_client:close() end
  default_client = new
  return default_client
end

---------------------------------------------------------------- read back

local RESTRICTION_TARGETS = { candidate = true, application = true }

--- client:attachment_restrictions("candidate" | "application", { integration_id = nil })
-- GET /ats/actions/ats_add_candidate_attachment (or _application_): the
-- integration's supported types, maximum size and accepted MIME types.
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

--- client:attachment_exists(args): args exactly as for attach_to_candidate
-- or attach_to_application.  Lists the target's attachments and returns
-- true when one has the upload's file name and type, false when none has,
-- or nil, err.  How to settle an upload whose outcome is "unknown".
function Client:attachment_exists(args)
  if type(args) ~= "table" then
    error(("bad argument #1 to 'attachment_exists' (the argument must be a table, got %s)"):format(type(args)), 2)
  end
  local attachment = type(args.body) == "table" and args.body.attachment
  if type(attachment) ~= "table" then
    error("bad argument #1 to 'attachment_exists' ('body.attachment' must be a table, got "
      .. type(attachment) .. ")", 2)
  end
  local name = attachment.name or base_name(attachment.file)
  local p = state(self, "attachment_exists")
  if type(name) ~= "string" or type(attachment.type) ~= "string" then
    return nil, errors.validation({ { path = type(name) ~= "string" and "body.attachment.name"
      or "body.attachment.type", message = "is required to find the upload" } }, p.config.api_key)
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
  for _, a in ipairs(res.data.results) do
    if a.file_name == name and a.type == attachment.type then return true end
  end
  return false
end

-- Module-level forms on the default client.
function kombo.attachment_restrictions(target, opts)
  local res, err = kombo.default_client():attachment_restrictions(target, opts)
  return res, err
end

function kombo.attachment_exists(args)
  local res, err = kombo.default_client():attachment_exists(args)
  return res, err
end

kombo.is_error = errors.is_error

--- Base64 of raw bytes (for attachment.data), encoded in C.
kombo.base64 = core.base64_encode

--- JSON text of a value: a result re-encodes as the answer it came from
-- (empty arrays as [], integers as integers), also where lua-cjson cannot.
-- Returns text, or nil and a message naming the value that cannot be JSON.
kombo.encode_json = core.encode_json

return kombo
