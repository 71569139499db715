--- The attachment body model's ATS-specific remote_fields rules.
--
-- remote_fields pass through to Kombo unchanged, so that fields Kombo adds
-- later keep working without a new release; the few known ones are
-- type-checked here, and the alias greenhouse.on_behalf_of becomes
-- post_headers["On-Behalf-Of"].  These rules rewrite tables, so they are
-- Lua; their problems join the core's list (client:prepare's third
-- argument), which is the one list a call reports.
local core_null = require("cjson.safe").null

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

local function check_type(list, path, value, want, allow_null)
  if value == nil then return end
  if allow_null and value == core_null then return end
  if type(value) ~= want then
    problem(list, path, ("must be a %s%s (got %s)"):format(want, allow_null and " or kombo.null" or "",
      type(value)))
  end
end

local ORACLE_CATEGORIES = {
  IRC_CANDIDATE_RESUME = true, IRC_CANDIDATE_COVERLETTER = true, MISC = true, IRC_INTERNAL = true,
}

-- Known ATS fields are checked; unknown keys pass through unchanged so that
-- fields Kombo adds later keep working without a new release.
local function known_remote_fields(target, rf, list)
  local base = "body.remote_fields"
  local gh = rf.greenhouse
  if gh ~= nil then
    if type(gh) ~= "table" then
      problem(list, base .. ".greenhouse", "must be a table (got " .. type(gh) .. ")")
    else
      gh = shallow_copy(gh)
      rf.greenhouse = gh
      local ph = gh.post_headers
      if ph ~= nil and type(ph) ~= "table" then
        problem(list, base .. ".greenhouse.post_headers", "must be a table (got " .. type(ph) .. ")")
      else
        ph = ph and shallow_copy(ph) or nil
        -- Alias: greenhouse.on_behalf_of or post_headers.on_behalf_of -> post_headers["On-Behalf-Of"]
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
        if ph then
          gh.post_headers = ph
          check_type(list, base .. ".greenhouse.post_headers.On-Behalf-Of", ph["On-Behalf-Of"], "string", true)
        end
      end
    end
  end

  local wk = rf.workable
  if wk ~= nil then
    if type(wk) ~= "table" then
      problem(list, base .. ".workable", "must be a table (got " .. type(wk) .. ")")
    else
      check_type(list, base .. ".workable.on_behalf_of_user_remote_id", wk.on_behalf_of_user_remote_id, "string")
    end
  end

  local oracle = rf.oracle
  if target == "application" and oracle ~= nil then
    if type(oracle) ~= "table" then
      problem(list, base .. ".oracle", "must be a table (got " .. type(oracle) .. ")")
    else
      local cat = oracle.override_document_category
      check_type(list, base .. ".oracle.override_document_category", cat, "string")
      if type(cat) == "string" and not ORACLE_CATEGORIES[cat] then
        problem(list, base .. ".oracle.override_document_category",
          "must be one of IRC_CANDIDATE_RESUME, IRC_CANDIDATE_COVERLETTER, MISC, IRC_INTERNAL")
      end
      check_type(list, base .. ".oracle.multi_post_to_all_current_applications",
        oracle.multi_post_to_all_current_applications, "boolean")
    end
  end
end

--- Returns args with body.remote_fields normalised (copies; the caller's
-- tables are not touched) and the list of problems found, or args
-- unchanged and nil when there are no remote_fields.
function remote_fields.normalize(op, args)
  local body = type(args) == "table" and args.body
  local rf = type(body) == "table" and body.remote_fields
  if type(rf) ~= "table" then return args, nil end
  local problems = {}
  rf = shallow_copy(rf)
  known_remote_fields(op.params[1] == "application_id" and "application" or "candidate", rf, problems)
  local new_body = shallow_copy(body)
  new_body.remote_fields = rf
  local new_args = shallow_copy(args)
  new_args.body = new_body
  return new_args, problems
end

return remote_fields
