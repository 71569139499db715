--- The uploads' remote_fields aliases.
--
-- remote_fields pass through to Kombo, so that fields Kombo adds later keep
-- working without a new release; the ones Kombo's description lists are
-- checked by the core against the generated descriptors (types, enums),
-- not here.  What the description cannot say is this: the alias
-- greenhouse.on_behalf_of becomes post_headers["On-Behalf-Of"].  It
-- rewrites tables, so it is Lua; its problems join the core's list
-- (client:prepare's third argument), which is the one list a call reports.

local remote_fields = {}

local function problem(list, path, message)
  list[#list + 1] = { path = path, message = message }
end

-- Copies a table one level deep, so aliases are applied without touching
-- the caller's data.
local function shallow_copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The aliases: greenhouse.on_behalf_of or post_headers.on_behalf_of ->
-- post_headers["On-Behalf-Of"].
local function map_aliases(rf, list)
  local base = "body.remote_fields"
  local gh = rf.greenhouse
  if type(gh) ~= "table" then return end -- the core says what is wrong
  gh = shallow_copy(gh)
  rf.greenhouse = gh
  local ph = gh.post_headers
  if ph ~= nil and type(ph) ~= "table" then return end
  ph = ph and shallow_copy(ph) or nil
  for _, holder in ipairs({ gh, ph or {} }) do
    local alias = holder.on_behalf_of
    if alias ~= nil then
      holder.on_behalf_of = nil
      ph = ph or {}
      if ph["On-Behalf-Of"] ~= nil and ph["On-Behalf-Of"] ~= alias then
        problem(list, base .. ".greenhouse.post_headers.On-Behalf-Of",
          "is given twice (as On-Behalf-Of and as on_behalf_of) with different values")
      end
      ph["On-Behalf-Of"] = alias
    end
  end
  if ph then gh.post_headers = ph end
end

--- Returns args with body.remote_fields normalised (copies; the caller's
-- tables are not touched) and the list of problems found, or args
-- unchanged and nil when there are no remote_fields.
function remote_fields.normalize(_, args)
  local body = type(args) == "table" and args.body
  local rf = type(body) == "table" and body.remote_fields
  if type(rf) ~= "table" then return args, nil end
  local problems = {}
  rf = shallow_copy(rf)
  map_aliases(rf, problems)
  local new_body = shallow_copy(body)
  new_body.remote_fields = rf
  local new_args = shallow_copy(args)
  new_args.body = new_body
  return new_args, problems
end

return remote_fields
