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
local remote_fields = require "kombo.remote_fields"
local trace = require "kombo.trace"
local cosocket = require "kombo.cosocket" -- the OpenResty transport
local client = require "kombo.client"     -- state: a client's settings and core handle
local preflight = require "kombo.preflight"

local M = {}

local state = client.state

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
    return errors.from_result(raw, p.config.secrets)
  end
  local raw
  if p.config.debug then -- a Lua loop, so that every step can be logged
    raw = trace.drive(call, p.config.debug, call.attempt, core.sleep, core.now, p.config.secrets)
  else
    raw = call:perform() -- the whole loop in C
  end
  call:close()
  return errors.from_result(raw, p.config.secrets)
end

local OPERATIONS = {} -- by name
for _, op in ipairs(core.operations) do OPERATIONS[op.name] = op end
M.OPERATIONS = OPERATIONS

local preflight_check -- below: checks a call's documents against the integration's restrictions

-- A call of one operation of the table (csrc/gen/operations.c) on client
-- state p: validated and, when asked, preflighted; not sent.  `level` is
-- where a misuse error points (the caller's caller).  With `defer`
-- (attach_many), restrictions not in the cache are not fetched here: the
-- call comes back with what to fetch (`need`), and the batch fetches it
-- beside its uploads.
local function prepare(self, p, op, args, fname, level, defer)
  local problems
  if op.body == "attachment" then args, problems = remote_fields.normalize(op, args) end
  -- Preflight: asked by the call, else by the client; the core then lists
  -- the body's file objects (the others' calls do not pay for it).
  local wanted = false
  if preflight.applies(op) then
    wanted = type(args) == "table" and args.preflight
    if wanted == nil then wanted = p.config.preflight end
  end
  local call, core_problems, shape = p.core:prepare(op.name, args, problems, wanted)
  if shape then error(("bad argument #1 to '%s' (%s)"):format(fname, shape), level) end
  if not call then return nil, errors.validation(core_problems, p.config.secrets) end
  if wanted then
    local err, need = preflight_check(self, p, call, defer)
    if err then
      call:close()
      return nil, err
    end
    if need then return call, need end
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

-- The check before a call that sends documents, the restrictions fetched
-- first when they are not cached.  Returns the error that refuses the call,
-- or nil; with `defer`, nil and what to fetch (preflight.restrictions_key's
-- `need`) instead of fetching it here.
function preflight_check(self, p, call, defer)
  local need = preflight.restrictions_key(call)
  local hit = preflight.cached_restrictions(p, need.key)
  if not hit then
    if defer then return nil, need end
    local res, err = call_operation(self, OPERATIONS[need.op], { integration_id = need.integration_id },
      "preflight")
    hit = preflight.store_restrictions(p, need.key, res, err)
  end
  return preflight.check_restrictions(p, call, hit)
end

M.prepare = prepare
M.call_operation = call_operation

return M
