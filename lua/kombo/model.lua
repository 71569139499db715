--- Maps the public call arguments onto the core's request table.
--
-- Shape misuse (a non-table where a table belongs) raises like
-- luaL_argerror; everything about the values themselves becomes a problem
-- {path=, message=}, so that one call reports every problem at once.
local core_null = require("cjson.safe").null

local model = {}

local function arg_error(fname, what, got)
  -- arg_error < model.request < attach < public entry point < caller
  error(("bad argument #1 to '%s' (%s must be a table, got %s)"):format(fname, what, type(got)), 5)
end

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

--- Builds the core request table from public arguments.
-- Returns request, problems (a list, possibly empty).
function model.request(target, args, fname)
  if type(args) ~= "table" then arg_error(fname, "the argument", args) end
  local body = args.body
  if type(body) ~= "table" then arg_error(fname, "'body'", body) end
  local attachment = body.attachment
  if attachment ~= nil and type(attachment) ~= "table" then arg_error(fname, "'body.attachment'", attachment) end
  local remote_fields = body.remote_fields
  if remote_fields ~= nil and type(remote_fields) ~= "table" then
    arg_error(fname, "'body.remote_fields'", remote_fields)
  end

  local problems = {}
  if attachment == nil then problem(problems, "body.attachment", "is required") end
  if remote_fields then
    remote_fields = shallow_copy(remote_fields)
    known_remote_fields(target, remote_fields, problems)
  end

  local id_field = target == "application" and "application_id" or "candidate_id"
  return {
    target = target,
    id = args[id_field],
    integration_id = args.integration_id,
    attachment = attachment,
    remote_fields = remote_fields,
    on_progress = args.on_progress,
  }, problems
end

--- Adds the core's problems to the model's, dropping the ones a missing
-- attachment would cause again and again.
function model.merge_problems(problems, core_problems, request)
  for _, p in ipairs(core_problems or {}) do
    if request.attachment ~= nil or not p.path:find("^body%.attachment") then
      problems[#problems + 1] = p
    end
  end
  return problems
end

return model
