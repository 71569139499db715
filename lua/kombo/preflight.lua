-- kombo.preflight: the checks before a call that sends documents.  Which
-- operations have restrictions to check against and where they come from
-- is kombo.call's PREFLIGHT (the one table of it, read there when the
-- methods are built); here the integration's restrictions, cached per
-- client (in its state `p`), integration and restrictions operation; the
-- request that fetches them; the rules a call is refused by (a validation
-- error naming the file object and the rule, nothing sent).  Loaded outside
-- nginx by the first preflighted call (lua/kombo/call.lua's prepare) or
-- batch, inside nginx by lua/kombo/init.lua.
-- Fetching them belongs to the caller: lua/kombo/call.lua sends the request
-- of a single call, Client:attach_many's batch sends it beside its uploads.
local core = require "kombo.core"
local errors = require "kombo.errors"

local M = {}

-- The operations by name, and those preflight applies to with the
-- operation that publishes their restrictions and the file objects those
-- speak of (kombo.call's tables).
local OPERATIONS, RESTRICTIONS = require("kombo.call").OPERATIONS, require("kombo.call").PREFLIGHT

local now = core.now

-- Whether `op` (an entry of core.operations) is checked by preflight.
function M.applies(op)
  return RESTRICTIONS[op.name] ~= nil
end

-- "application/pdf; charset=x" -> "application/pdf"
local function mime_base(t)
  return (t:match("^%s*([^;%s]+)") or t):lower()
end

-- The cache of restrictions, per client, integration and restrictions
-- operation: the restrictions table (or kombo.null: the integration states
-- none), kept preflight_ttl seconds.  The integration is the one the
-- prepared call sends (the core decides it: the call's, else the
-- client's).  Returns the key and what to fetch:
-- { key =, op = <restrictions operation name>, integration_id = }.
local function restrictions_key(call)
  local name = RESTRICTIONS[call:operation()].op
  local integration_id = call:integration_id()
  return { key = integration_id .. "\0" .. name, op = name, integration_id = integration_id }
end

local function cached_restrictions(p, key)
  local hit = p.restrictions and p.restrictions[key]
  if hit and hit.expires > now() then return hit end
  return nil
end

-- The restrictions request for `need` (from restrictions_key), prepared,
-- not sent: nil and a validation error if it cannot be made.
local function restrictions_call(p, need)
  local call, problems = p.core:prepare(need.op, { integration_id = need.integration_id })
  if not call then return nil, errors.validation(problems or {}, p.config.secrets) end
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

-- A limit as a whole number: a fractional one is floored (5.5 -> 5); one
-- that is not a finite number or does not fit a Lua integer is no limit.
local function limit_of(v)
  if type(v) ~= "number" or v ~= v or v >= 2 ^ 53 or v <= -2 ^ 53 then return nil end
  return math.floor(v)
end

-- The rules of one file object (`f` from call:files()) against its type's
-- restrictions `rule`: supported, max_file_size_bytes, accepted_mime_types
-- (a data_url's size and content are Kombo's to fetch: only its type is
-- checked).  Adds to `problems`.
local function check_file(problems, f, rule, where)
  if rule.is_supported == false then
    problems[#problems + 1] = { path = f.path .. ".type",
      message = ("%s is not supported by this integration %s"):format(f.type, where) }
    return
  end
  local max = limit_of(rule.max_file_size_bytes)
  if f.size and max and f.size > max then
    problems[#problems + 1] = { path = f.path,
      message = ("is %d bytes, more than the integration's max_file_size_bytes %d %s"):format(f.size, max, where) }
  end
  local accepted = rule.accepted_mime_types
  if f.size and f.content_type and type(accepted) == "table" then
    local ok = false
    for _, m in ipairs(accepted) do
      if type(m) == "string" and mime_base(m) == mime_base(f.content_type) then ok = true end
    end
    if not ok then
      local list = {}
      for i, m in ipairs(accepted) do list[i] = tostring(m) end
      problems[#problems + 1] = { path = f.path .. ".content_type",
        message = ("%s is not among the integration's accepted_mime_types (%s) %s")
          :format(f.content_type, table.concat(list, ", "), where) }
    end
  end
end

-- The rules over all of a create's attachments: min_amount and max_amount
-- per type, total_size_bytes (of the sizes known: a data_url's is not).
local function check_amounts(problems, files, rules, action)
  local count, total = {}, 0
  for _, f in ipairs(files) do
    count[f.type] = (count[f.type] or 0) + 1
    total = total + (f.size or 0)
  end
  local types = {}
  for t in pairs(rules.types) do types[#types + 1] = t end
  table.sort(types) -- one order for the problems, whatever pairs() gives
  for _, t in ipairs(types) do
    local rule, n = rules.types[t], count[t] or 0
    if type(rule) == "table" and rule.is_supported ~= false then
      local where = ("(preflight: %s attachment_restrictions.types.%s)"):format(action, t)
      local min, max = limit_of(rule.min_amount), limit_of(rule.max_amount)
      if min and n < min then
        problems[#problems + 1] = { path = "body.attachments",
          message = ("holds %d attachment(s) of type %s, fewer than the integration's min_amount %d %s")
            :format(n, t, min, where) }
      elseif max and n > max then
        problems[#problems + 1] = { path = "body.attachments",
          message = ("holds %d attachments of type %s, more than the integration's max_amount %d %s")
            :format(n, t, max, where) }
      end
    end
  end
  local max_total = limit_of(rules.total_size_bytes)
  if max_total and total > max_total then
    problems[#problems + 1] = { path = "body.attachments",
      message = ("are %d bytes together, more than the integration's total_size_bytes %d (preflight: %s "
        .. "attachment_restrictions.total_size_bytes)"):format(total, max_total, action) }
  end
end

-- The restrictions operation's action, as the messages name it:
-- "GET /ats/actions/ats_create_application's" (an upload's: "the integration's").
local function action_of(name, amounts)
  if not amounts then return "the integration's" end
  return ("GET %s's"):format(OPERATIONS[name].path)
end

-- Refuses, as a validation error naming the rule, what the integration says
-- it cannot take; nothing is sent then.  A failed fetch is reported with
-- its own kind: preflight never sends blind.  `hit` is the cache entry
-- (or the failed fetch); the error of a failed fetch may be shared, so it
-- is copied.
local function check_restrictions(p, call, hit)
  if hit.err then
    local err = errors.copy(hit.err)
    err.message = "preflight: could not fetch the integration's attachment restrictions, so nothing "
      .. "was sent: " .. tostring(hit.err.message)
    err.outcome = "not_sent"
    return err
  end
  local rules = hit.value
  if type(rules) ~= "table" or type(rules.types) ~= "table" then return nil end -- none stated
  local spec = RESTRICTIONS[call:operation()]
  local action = action_of(spec.op, spec.amounts)
  local files, problems = {}, {}
  for _, f in ipairs(call:files()) do
    if f.path:match(spec.files) and f.type then
      files[#files + 1] = f
      local rule = rules.types[f.type]
      if type(rule) == "table" then
        check_file(problems, f, rule, ("(preflight: %s attachment_restrictions.types.%s)"):format(action, f.type))
      end
    end
  end
  if spec.amounts then check_amounts(problems, files, rules, action) end
  if #problems > 0 then return errors.validation(problems, p.config.secrets) end
  return nil
end

M.restrictions_key = restrictions_key
M.cached_restrictions = cached_restrictions
M.restrictions_call = restrictions_call
M.store_restrictions = store_restrictions
M.check_restrictions = check_restrictions

return M
