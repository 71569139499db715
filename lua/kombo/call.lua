-- kombo.call: one call of one operation of the C core's table
-- (csrc/gen/operations.c) on a client.  prepare validates it and, when
-- asked, preflights it (lua/kombo/preflight.lua: the restrictions, fetched
-- here by a call of their own when not cached); send moves it over the
-- transport (cosockets inside nginx, libcurl elsewhere) and turns the
-- core's result into `res` or `nil, err`.  call_operation is both, for the
-- operations' methods (lua/kombo/init.lua) and the upload helpers
-- (lua/kombo/uploads.lua).
--
-- Error levels: a misuse raised here points at the caller of the method
-- that called call_operation (state, prepare and send count the frames), so
-- those methods call it without a tail call, and nothing may wrap it.
local core = require "kombo.core"
local errors = require "kombo.errors"
local nginx = require "kombo.nginx"   -- inside nginx? which transport?
local client = require "kombo.client" -- state: a client's settings and core handle

local M = {}

local state, private = client.state, client.private

-- The call's misuse errors point at the caller of the method (kombo.client's
-- misuse skips this file's frames).
client.skip_frames_of(debug.getinfo(1, "S").source)

-- One libcurl attempt, reported to the call (trace.drive's `attempt`).
local function curl_attempt(call) call:attempt() end

-- Sends one prepared call and turns the core's plain result into res / err.
-- `obs`: the call's observer (trace.lua; the client's, or one with the
-- call's own hooks), nil when nothing watches it.
-- Outside nginx (no `ngx` when this module loads: OpenResty sets it before
-- any Lua runs), every call but a misused "cosocket" one goes over libcurl.
local OUTSIDE_NGINX = not nginx.in_nginx()

-- The OpenResty transport (lua/kombo/cosocket.lua): loaded with this module
-- inside nginx; outside, only by a call that takes it (`ngx` set after this
-- module loaded), so that a script never parses it.
local cosocket = not OUTSIDE_NGINX and require "kombo.cosocket" or nil

-- What only some calls need, loaded outside nginx by the first call that
-- needs it, inside nginx now (kombo.nginx.loader): the observer's loop
-- (lua/kombo/trace.lua: a client or call with debug or hooks) and the
-- remote_fields aliases (lua/kombo/remote_fields.lua: an upload's
-- arguments that carry remote_fields).  And the preflight
-- (lua/kombo/preflight.lua: its checks and cache; which operations have one
-- is PREFLIGHT below), loaded by the first preflighted call; it reads this
-- module's PREFLIGHT, so inside nginx lua/kombo/batch.lua loads it, once
-- this module is loaded.
local trace_module = nginx.loader "kombo.trace"
local remote_fields_module = nginx.loader "kombo.remote_fields"
local preflight

-- The __index of a success dressed in C (call:perform, client:run, and
-- call:result on the cosocket transport and in batches), made once per
-- client and held by its state (errors keeps it only weakly).
local function success_index(p)
  local index = p.success_index
  if index == nil then
    index = errors.success_index(p.config.secrets)
    p.success_index = index
  end
  return index
end

local function send(p, call, obs)
  -- Cosockets inside nginx, libcurl elsewhere.
  local mode = p.config.transport
  local transport, why
  if OUTSIDE_NGINX and mode ~= "cosocket" then transport = "curl" else transport, why = nginx.select(mode) end
  local raw, failure
  if transport == nil then
    call:close()
    error(why, 4) -- misuse: calling in an nginx phase without cosockets
  elseif transport == "cosocket" then
    local ok
    if cosocket == nil then
      -- (a broken install raises here: after the call is closed, as below)
      ok, cosocket = pcall(require, "kombo.cosocket")
      if not ok then raw, cosocket = cosocket, nil end
    end
    if ok ~= false then
      ok, raw, failure = pcall(cosocket.perform, call, p.config, obs, obs == nil and success_index(p) or nil)
    end
    call:close()
    if not ok then error(raw, 0) end
    -- Nothing holds the call now (no observer saw it): the client's next
    -- call is made in it, not in a new userdata (prepare).
    if obs == nil then p.spare_call = call end
    if failure == true then return raw end -- (no observer: a success the core dressed)
  elseif obs then -- a Lua loop, so that every step can be logged and hooked
    raw, failure = trace_module().drive(call, obs, curl_attempt, core.sleep, core.now)
    call:close()
  else
    -- The whole loop in C, which also dresses a success as errors.from_result
    -- would (given the same __index, kept by the client).
    local res, dressed = call:perform(success_index(p))
    call:close()
    p.spare_call = call -- (as above)
    if dressed then return res end
    raw = res
  end
  if failure then return errors.hook_failure(raw, failure, p.config.secrets) end
  return errors.from_result(raw, p.config.secrets)
end

-- The operations preflight applies to, and the operation that publishes
-- their restrictions (Kombo's actions endpoints; the description does not
-- link them).  `files` picks the file objects the restrictions speak of:
-- an upload's one attachment, a create's `attachments` (a screening
-- answer's file has no attachment type, and the restrictions name none
-- for it).  `amounts`: the restrictions count attachments per type and in
-- total (min_amount, max_amount, total_size_bytes), which only a create
-- with several attachments has.  The one table of it: read here for NEEDS
-- when this module loads, and by lua/kombo/preflight.lua (loaded by the
-- first preflight) for the rest.
local PREFLIGHT = {
  attach_to_candidate = { op = "candidate_attachment_restrictions", files = "^body%.attachment$" },
  attach_to_application = { op = "application_attachment_restrictions", files = "^body%.attachment$" },
  create_application = { op = "create_application_restrictions", files = "^body%.attachments%[%d+%]$",
                         amounts = true },
  create_candidate = { op = "create_candidate_restrictions", files = "^body%.attachments%[%d+%]$",
                       amounts = true },
}
M.PREFLIGHT = PREFLIGHT

local OPERATIONS = {} -- by name
-- By operation: what a call of it may need of Lua before the core reads it
-- (core.needs's flags): remote_fields' aliases normalized (the uploads),
-- and a preflight (the operations of PREFLIGHT).
local NEEDS = {}
for _, op in ipairs(core.operations) do
  OPERATIONS[op.name] = op
  NEEDS[op] = (op.body == "attachment" and core.METHOD_ALIASED or 0)
    + (PREFLIGHT[op.name] and core.METHOD_PREFLIGHTED or 0)
end
M.OPERATIONS = OPERATIONS

local preflight_check -- below: checks a call's documents against the integration's restrictions

-- A call of one operation of the table (csrc/gen/operations.c) on client
-- state p: validated and, when asked, preflighted; not sent.  `level` is
-- where a misuse error points (the caller's caller).  With `defer`
-- (attach_many), restrictions not in the cache are not fetched here: the
-- call comes back with what to fetch (`need`), and the batch fetches it
-- beside its uploads.
-- What a call of op with args needs of Lua before the core reads it: its
-- remote_fields' aliases normalized (remote_fields.normalize's own test,
-- made here first: most uploads have none), and whether it is preflighted
-- (asked by the call, else by the client).  The rule is the core's
-- (csrc/lua/lua_method.c), which the operations' methods ask themselves.
local core_needs = core.needs
local function needs(p, op, args)
  return core_needs(p, args, NEEDS[op])
end

-- A call the core did not make: a misuse raised at `level` (counted from
-- this function), or the request's problems as the error.
local function refused(p, fname, level, core_problems, shape, bad_option)
  if shape then error(("bad argument #1 to '%s' (%s)"):format(fname, shape), level) end
  if bad_option then error(("bad argument #2 to '%s' (%s)"):format(fname, bad_option), level) end
  return nil, errors.validation(core_problems, p.config.secrets)
end

local function prepare(self, p, op, args, fname, level, defer, copts, aliased, wanted)
  local problems
  if aliased == nil then aliased, wanted = needs(p, op, args) end -- (else call_operation's)
  if aliased then
    args, problems = remote_fields_module().normalize(op, args)
  end
  if wanted and preflight == nil then preflight = require "kombo.preflight" end -- (before a call is made)
  -- A preflight needs the body's file objects listed by the core (the
  -- others' calls do not pay for it).
  -- (in the call the client's last call closed, when it left one: send)
  local spare = p.spare_call
  p.spare_call = nil
  local call, core_problems, shape, bad_option = p.core:prepare(op.index, args, problems, wanted,
    copts and copts.core, spare)
  if not call then
    if p.spare_call == nil then p.spare_call = spare end -- (not made in it: closed again, it stays spare)
    local err
    call, err = refused(p, fname, level + 1, core_problems, shape, bad_option) -- (no tail call: levels)
    return call, err
  end
  if wanted then
    local err, need = preflight_check(self, p, call, defer, copts)
    if err then
      call:close()
      return nil, err
    end
    if need then return call, need end
  end
  return call
end

-- `opts`: the call's own options (CallOptions, lua/kombo/client.lua), or nil.
-- `aliased`, `wanted`: what needs() gave, when the caller asked it already
-- (the operations' methods and module functions, whose C step,
-- csrc/lua/lua_method.c, makes the common call: no options, nothing
-- observing the client, over libcurl, nothing needed).  It is made here
-- too: for a client's first call, and for lists and the upload helpers.
local function call_operation(self, op, args, fname, opts, aliased, wanted)
  local p = private[self]
  if p == nil or p.closed then p = state(self, fname) end -- (raises)
  local plain = opts == nil and aliased == nil and p.plain_core -- (needs() may close the client)
  if plain then
    aliased, wanted = needs(p, op, args)
    if not (aliased or wanted) then
      -- The common call: prepared, sent over libcurl and closed in one
      -- step of the core, which dresses a success as send does.
      local res, dressed, shape, bad_option = plain:run(op.index, args, p.success_index or success_index(p))
      if res == nil then
        local err
        res, err = refused(p, fname, 4, dressed, shape, bad_option) -- (no tail call: levels)
        return res, err
      end
      if dressed == true then return res end
      return errors.from_result(res, p.config.secrets)
    end
  end
  local copts = opts ~= nil and client.call_options(p, opts, fname, 2) or nil
  local call, err = prepare(self, p, op, args, fname, 4, nil, copts, aliased, wanted)
  if not call then return nil, err end
  local res
  res, err = send(p, call, copts and copts.observer or p.observer)
  return res, err
end

-- The check before a call that sends documents, the restrictions fetched
-- first when they are not cached.  Returns the error that refuses the call,
-- or nil; with `defer`, nil and what to fetch (preflight.restrictions_key's
-- `need`) instead of fetching it here.
-- The fetch takes the call's own options (its server, timeout, hooks).
function preflight_check(self, p, call, defer, copts)
  local need = preflight.restrictions_key(call)
  local hit = preflight.cached_restrictions(p, need.key)
  if not hit then
    if defer then return nil, need end
    local res, err = call_operation(self, OPERATIONS[need.op], { integration_id = need.integration_id },
      "preflight", copts and copts.raw)
    hit = preflight.store_restrictions(p, need.key, res, err)
  end
  return preflight.check_restrictions(p, call, hit)
end

-- An operation's method and module function that go through
-- call_operation with nothing decided first: inside nginx (the C step of
-- lua/kombo/init.lua's methods is for libcurl), and for the unit specs'
-- capture (spec/unit/helpers.lua).  `default_client()`: the module
-- functions' client.  Each calls call_operation without a tail call (the
-- misuse errors' levels count its frame).
function M.lua_methods(op, default_client)
  local name = op.name
  return function(self, args, opts)
    local res, err = call_operation(self, op, args, name, opts)
    return res, err
  end, function(args, opts)
    local res, err = call_operation(default_client(), op, args, name, opts)
    return res, err
  end
end

M.prepare = prepare
M.success_index = success_index
M.call_operation = call_operation
M.refused = refused
M.NEEDS = NEEDS
M.OUTSIDE_NGINX = OUTSIDE_NGINX

return M
