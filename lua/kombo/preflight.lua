-- kombo.preflight: the checks before an upload.  The integration's
-- attachment restrictions, cached per client (in its state `p`),
-- integration and target; the request that fetches them; the rules an
-- upload is refused by (a validation error naming the rule, nothing sent).
-- Fetching them belongs to the caller: lua/kombo/call.lua sends the request
-- of a single call, Client:attach_many's batch sends it beside its uploads.
local core = require "kombo.core"
local errors = require "kombo.errors"

local M = {}

local OPERATIONS = {} -- by name
for _, op in ipairs(core.operations) do OPERATIONS[op.name] = op end

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

M.restrictions_key = restrictions_key
M.cached_restrictions = cached_restrictions
M.restrictions_call = restrictions_call
M.store_restrictions = store_restrictions
M.check_restrictions = check_restrictions

return M
