-- Every operation of the generated table, sent by the library to Prism
-- serving spec/contract/kombo-openapi.json: Prism checks the method, path,
-- headers, query string and body against Kombo's description, so a request
-- the library builds wrong for any operation fails here.  The bodies are the
-- description's own request examples (through the library, as a user would
-- pass them); the three operations without one get the smallest body their
-- schema takes, written here.
local servers = require "support.servers"
local cjson = servers.cjson
local core = require "kombo.core"
local gen = require("kombo.gen.operations").operations

local function read_description()
  local f = assert(io.open("spec/contract/kombo-openapi.json", "rb"))
  local d = cjson.decode(f:read("*a"))
  f:close()
  return d
end

-- The example of an operation's request body, or nil.
local function body_example(d, method, path)
  local o = d.paths[path][method:lower()]
  local rb = o.requestBody
  if not rb then return nil end
  local c = rb.content["application/json"]
  if c.example ~= nil then return c.example end
  local names = {}
  for name in pairs(c.examples or {}) do names[#names + 1] = name end
  table.sort(names) -- the first by name: the same one on every run
  return names[1] and c.examples[names[1]].value or nil
end

-- Bodies for the operations whose description gives no example.
local HAND_BODIES = {
  force_sync = { type = "DELTA" },
  create_interview = { title = "Technical interview", start_time = "2026-12-10T10:00:00.000Z",
                       end_time = "2026-12-10T11:00:00.000Z", interviewer_user_ids = { "user-1" },
                       organizer_user_id = "user-2", location = { type = "VIRTUAL" } },
  update_interview = { interview_id = "int-1", title = "Technical interview (moved)",
                       start_time = "2026-12-11T10:00:00.000Z", end_time = "2026-12-11T11:00:00.000Z",
                       interviewer_user_ids = { "user-1" }, organizer_user_id = "user-2",
                       location = { type = "PHYSICAL", address = "Lohmühlenstraße 65, Berlin" } },
}

-- Kombo's examples give dates ("2021-01-01") where the schema's format says
-- date-time (its pattern allows both, and so does the library, following
-- the pattern); Prism holds to the format, so they go as date-times here.
local function as_date_times(v)
  if type(v) == "string" and v:match("^%d%d%d%d%-%d%d%-%d%d$") then return v .. "T00:00:00.000Z" end
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do v[k] = as_date_times(x) end
  return v
end

-- Prism (mock --errors) answers 500 when its own example answer breaks the
-- description; the request passed then, which is what this spec checks.
local function only_response_violations(err)
  local doc = err and err.status == 500 and err.body and cjson.decode(err.body)
  if type(doc) ~= "table" or type(doc.validation) ~= "table" or #doc.validation == 0 then return false end
  for _, v in ipairs(doc.validation) do
    if v.location[1] ~= "response" then return false end
  end
  return true
end

-- Path parameter values Prism's path templates accept.
local PARAMS = { tool = "personio", api = "v1" }

describe("contract: every operation's request passes Prism's validation #contract", function()
  local d = read_description()
  for _, op in ipairs(core.operations) do
    it(op.name .. " (" .. op.method .. " " .. op.path .. ")", function()
      local args = {}
      for _, p in ipairs(op.params) do args[p] = PARAMS[p] or (p:gsub("_id$", "") .. "-1") end
      local body = HAND_BODIES[op.name] or as_date_times(body_example(d, op.method, op.path))
      if body ~= nil then args.body = body end
      if gen[op.name].body_required then
        assert.is_not_nil(args.body, op.name .. " has a body and neither an example nor a hand body")
      end
      local client = servers.prism_client()
      local res, err = client[op.name](client, args)
      client:close()
      -- Prism answers a request that breaks the description with 422 (or
      -- 400, 404, 405); its mock of the positive answer otherwise.
      if not only_response_violations(err) then
        assert.is_nil(err, err and (tostring(err) .. "\n" .. tostring(err.body)))
        assert.equals(200, res.http.status)
      end
    end)
  end
end)
