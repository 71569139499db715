-- Reads the API description (spec/contract/kombo-openapi.json) and
-- checks that the library's constants and rules match it.  The rules live
-- in the C core, so they are checked by behaviour: a request is "accepted"
-- when the client gets past validation (it is then sent to a closed port
-- and fails with a network error, so nothing reaches a server).
local servers = require "support.servers"
local kombo = require "kombo"
local cjson = servers.cjson
local sys = require "support.sys"

local DESCRIPTION = "spec/contract/kombo-openapi.json"

local function read_file(path)
  local s = sys.read_file(path)
  if not s then error("cannot read " .. path) end
  return s
end

local api = cjson.decode(read_file(DESCRIPTION))

local OPERATIONS = {
  candidate = { path = "/ats/candidates/{candidate_id}/attachments", param = "candidate_id" },
  application = { path = "/ats/applications/{application_id}/attachments", param = "application_id" },
}

-- Resolves a local "$ref" ("#/components/...").
local function deref(node)
  while type(node) == "table" and node["$ref"] do
    local target = api
    for part in node["$ref"]:gmatch("[^/#]+") do target = target[part] end
    node = assert(target, "unresolved $ref " .. node["$ref"])
  end
  return node
end

local function operation(target)
  return assert(api.paths[OPERATIONS[target].path], OPERATIONS[target].path).post
end

local function request_schema(target)
  return deref(operation(target).requestBody.content["application/json"].schema)
end

local function attachment_schema(target)
  return request_schema(target).properties.attachment
end

local function remote_fields_schema(target)
  -- the applications operation wraps its remote_fields in allOf
  local rf = request_schema(target).properties.remote_fields
  local merged = {}
  for _, part in ipairs(rf.allOf or { rf }) do
    for k, v in pairs(part.properties) do merged[k] = v end
  end
  return merged
end

local function success_schema(target)
  return deref(operation(target).responses["200"].content["application/json"].schema)
end

local function error_schema()
  return api.components.responses.ErrorResponseATS.content["application/json"].schema
end

local function sorted(list)
  local copy = {}
  for i, v in ipairs(list) do copy[i] = v end
  table.sort(copy)
  return copy
end

-- Validation outcome of one upload through the public API: nil when the
-- request passed validation, else the problems' paths as a set.
local offline
local function problems_of(target, body, integration_id)
  offline = offline or servers.client {
    server_url = "http://127.0.0.1:" .. servers.free_port(), retries = false, timeout = 5,
    integration_id = servers.NONE,
  }
  local args = { body = body, integration_id = integration_id }
  local res, err
  if target == "application" then
    args.application_id = "app-1"
    res, err = offline:attach_to_application(args)
  else
    args.candidate_id = "cand-1"
    res, err = offline:attach_to_candidate(args)
  end
  assert.is_nil(res)
  if err.kind ~= "validation" then
    assert.equals("network", err.kind) -- sent to the closed port: validation passed
    return nil
  end
  local set = {}
  for _, p in ipairs(err.problems) do set[p.path] = p.message end
  return set
end

describe("contract: the API description and the library agree #contract", function()
  it("servers: EU and US URLs equal kombo.SERVERS", function()
    assert.equals(2, #api.servers)
    assert.equals(kombo.SERVERS.eu, api.servers[1].url)
    assert.equals(kombo.SERVERS.us, api.servers[2].url)
    assert.same({ "eu", "us" }, servers.keys(kombo.SERVERS))
  end)

  it("servers: the C core's KOMBO_EU_URL / KOMBO_US_URL equal them too", function()
    local header = read_file("csrc/core/kombo.h")
    assert.equals(api.servers[1].url, header:match('#define KOMBO_EU_URL "([^"]+)"'))
    assert.equals(api.servers[2].url, header:match('#define KOMBO_US_URL "([^"]+)"'))
  end)

  it("security: HTTP bearer auth (the client sends Authorization: Bearer <key>)", function()
    assert.same({ { ApiKey = {} } }, api.security)
    assert.equals("http", api.components.securitySchemes.ApiKey.type)
    assert.equals("bearer", api.components.securitySchemes.ApiKey.scheme)
  end)

  describe("the operation table (csrc/gen/operations.c)", function()
    local core = require "kombo.core"
    local hand = dofile("spec/contract/operations.lua")
    local METHODS = { get = true, put = true, post = true, delete = true, patch = true }

    -- The included operations: every /ats/... one but those the hand table
    -- excludes, and the few other paths it names.
    local function included()
      local excluded, also, list = {}, {}, {}
      for _, e in ipairs(hand.exclude) do excluded[e] = true end
      for _, p in ipairs(hand.also) do also[p] = true end
      for path, item in pairs(api.paths) do
        if path:find("^/ats/") or also[path] then
          for method in pairs(item) do
            local key = method:upper() .. " " .. path
            if METHODS[method] and not excluded[key] then list[#list + 1] = key end
          end
        end
      end
      table.sort(list)
      return list
    end

    it("has one entry per included operation of the description, and nothing else", function()
      local ours = {}
      for _, op in ipairs(core.operations) do ours[#ours + 1] = op.method .. " " .. op.path end
      table.sort(ours)
      assert.same(included(), ours)
    end)

    it("names each operation as the hand table does", function()
      for _, op in ipairs(core.operations) do
        assert.equals(hand.operations[op.method .. " " .. op.path].name, op.name)
      end
    end)

    for _, op in ipairs(core.operations) do
      describe(op.name, function()
        local described = api.paths[op.path][op.method:lower()]

        it("takes the parameters its path names, in order", function()
          local names = {}
          for name in op.path:gmatch("{([^}]+)}") do names[#names + 1] = name end
          assert.same(names, op.params)
        end)

        it("has the description's path parameters, in order", function()
          local params = {}
          for _, p in ipairs(described.parameters or {}) do
            if p["in"] == "path" then
              assert.is_true(p.required)
              params[#params + 1] = p.name
            end
          end
          assert.same(params, op.params)
        end)

        it("sends X-Integration-Id exactly when the description requires it", function()
          local required = false
          for _, p in ipairs(described.parameters or {}) do
            if p["in"] == "header" and p.name == "X-Integration-Id" then required = p.required == true end
          end
          assert.equals(required, op.integration_scoped)
        end)

        it("checks the positive response the description promises", function()
          local schema = deref(described.responses["200"].content["application/json"].schema)
          local required = {}
          for _, k in ipairs(schema.required) do required[k] = true end
          assert.is_true(required.status and required.data)
          assert.equals(required.warnings == true, op.warnings)
          if op.data_member then
            local data = deref(schema.properties.data)
            assert.is_table(data.properties[op.data_member], op.data_member)
          end
        end)

        it("has a body exactly when the description has one, and is idempotent exactly when a GET", function()
          assert.equals(described.requestBody ~= nil, op.body ~= nil) -- "attachment" or "json"
          assert.equals(op.method == "GET" or hand.operations[op.method .. " " .. op.path].resend == true,
            op.idempotent)
        end)

        it("has query parameters exactly when the description has some", function()
          local any = false
          for _, p in ipairs(described.parameters or {}) do
            if p["in"] == "query" then any = true end
          end
          assert.equals(any, op.has_query)
        end)

        -- The core classifies both error responses alike (one shape, checked
        -- below): what matters is that the operation has one of them.
        it("answers errors with one of the description's two error responses", function()
          local ref = described.responses.default["$ref"]
          assert.truthy(ref == "#/components/responses/ErrorResponseATS"
            or ref == "#/components/responses/ErrorResponseGeneral", tostring(ref))
        end)
      end)
    end
  end)

  for _, target in ipairs { "candidate", "application" } do
    describe(target .. " operation", function()
      it("has the path the client renders and a required X-Integration-Id header", function()
        local op = operation(target)
        local header, path_param
        for _, p in ipairs(op.parameters) do
          if p["in"] == "header" then header = p end
          if p["in"] == "path" then path_param = p end
        end
        assert.equals("X-Integration-Id", header.name)
        assert.is_true(header.required)
        assert.equals(OPERATIONS[target].param, path_param.name)
        assert.is_true(path_param.required)
        assert.equals("string", deref(path_param.schema).type)
        -- no integration id anywhere -> our validator names the field
        local set = servers.with_env({}, function()
          return problems_of(target, { attachment = servers.attachment() }, nil)
        end)
        assert.is_string(set and set.integration_id)
      end)

      it("type enum is CV, COVER_LETTER, OTHER, and the client accepts exactly those", function()
        local enum = attachment_schema(target).properties.type.enum
        assert.same({ "CV", "COVER_LETTER", "OTHER" }, enum)
        for _, t in ipairs(enum) do
          assert.is_nil(problems_of(target, { attachment = servers.attachment { type = t } }, "i"),
            "the client refused type " .. t)
        end
        for _, t in ipairs { "cv", "Cv", "RESUME", "COVER LETTER", "", "OTHER " } do
          local set = problems_of(target, { attachment = servers.attachment { type = t } }, "i")
          assert.is_string(set and set["body.attachment.type"], "the client accepted type " .. ("%q"):format(t))
        end
        -- the message lists the enum in the description's order
        local set = problems_of(target, { attachment = servers.attachment { type = "BAD" } }, "i")
        assert.truthy(set["body.attachment.type"]:find(table.concat(enum, ", "), 1, true),
          set["body.attachment.type"])
      end)

      it("required attachment fields are name and type", function()
        assert.same({ "name", "type" }, sorted(attachment_schema(target).required))
        assert.same({ "attachment" }, request_schema(target).required)
        for _, field in ipairs { "name", "type" } do
          local set = problems_of(target, { attachment = servers.attachment { [field] = servers.NONE } }, "i")
          assert.is_string(set and set["body.attachment." .. field], field .. " was not required")
        end
        local set = problems_of(target, {}, "i")
        assert.is_string(set and set["body.attachment"])
      end)

      it("attachment properties are exactly the fields the client sends", function()
        assert.same({ "content_type", "data", "data_url", "name", "type" },
          servers.keys(attachment_schema(target).properties))
        assert.equals("uri", attachment_schema(target).properties.data_url.format)
      end)

      it("content_type pattern is ^[\\w.-]+\\/[\\w.-]+$ and the client applies it", function()
        local pattern = attachment_schema(target).properties.content_type.pattern
        assert.equals("^[\\w.-]+\\/[\\w.-]+$", pattern)
        -- the same rule as a Lua pattern (\w = [A-Za-z0-9_], ASCII)
        local lua_pattern = "^[%w_.%-]+/[%w_.%-]+$"
        local samples = {
          "application/pdf", "text/plain", "image/svg.xml", "application/vnd.ms-excel",
          "application/x_custom", "a/b", "A1/B2",
          "text/plain; charset=utf-8", "pdf", "/pdf", "application/", "text//plain", "text/plain/x",
          "text /plain", "application/pdf ", "image/svg+xml", "t\195\169xt/plain", "a/b\n",
        }
        for _, ct in ipairs(samples) do
          local want_ok = ct:find(lua_pattern) ~= nil and not ct:find("\n")
          local set = problems_of(target, { attachment = servers.attachment { content_type = ct } }, "i")
          local got_ok = set == nil or set["body.attachment.content_type"] == nil
          assert.equals(want_ok, got_ok, ("content_type %q: description says %s, client says %s")
            :format(ct, tostring(want_ok), tostring(got_ok)))
        end
      end)

      it("remote_fields: greenhouse and workable (and oracle for applications) as described", function()
        local rf = remote_fields_schema(target)
        local gh = rf.greenhouse.properties.post_headers.properties["On-Behalf-Of"]
        assert.same({ "string", "null" }, gh.type)
        assert.equals("string", rf.workable.properties.on_behalf_of_user_remote_id.type)
        if target == "application" then
          local oracle = rf.oracle.properties
          local enum = oracle.override_document_category.enum
          assert.same({ "IRC_CANDIDATE_RESUME", "IRC_CANDIDATE_COVERLETTER", "MISC", "IRC_INTERNAL" }, enum)
          assert.equals("boolean", oracle.multi_post_to_all_current_applications.type)
          for _, cat in ipairs(enum) do
            assert.is_nil(problems_of(target, { attachment = servers.attachment(),
              remote_fields = { oracle = { override_document_category = cat } } }, "i"), cat)
          end
          local set = problems_of(target, { attachment = servers.attachment(),
            remote_fields = { oracle = { override_document_category = "RESUME" } } }, "i")
          local msg = set and set["body.remote_fields.oracle.override_document_category"]
          assert.is_string(msg)
          assert.truthy(msg:find(table.concat(enum, ", "), 1, true), msg)
        else
          assert.is_nil(rf.oracle)
        end
        -- On-Behalf-Of may be null (kombo.null)
        assert.is_nil(problems_of(target, { attachment = servers.attachment(),
          remote_fields = { greenhouse = { post_headers = { ["On-Behalf-Of"] = kombo.null } } } }, "i"))
      end)

      it("positive response: status, data and warnings are required", function()
        local schema = success_schema(target)
        assert.same({ "data", "status", "warnings" }, sorted(schema.required))
        assert.equals("success", schema.properties.status.const)
        assert.equals("object", schema.properties.data.type)
        assert.equals("array", schema.properties.warnings.type)
        assert.same({ "message" }, schema.properties.warnings.items.required)
        assert.same(operation(target).responses.default,
          { ["$ref"] = "#/components/responses/ErrorResponseATS" })
      end)
    end)
  end

  it("positive response: the client refuses a 200 without data or warnings (stand-in)", function()
    local client = servers.client()
    for _, scenario in ipairs { "ok-missing-data", "ok-missing-warnings" } do
      local res, err = client:attach_to_candidate {
        candidate_id = "scenario-" .. scenario, body = { attachment = servers.attachment() },
      }
      assert.is_nil(res, scenario)
      assert.equals("decode", err.kind)
    end
  end)

  it("error response: the list of error codes", function()
    local err = error_schema()
    assert.same({ "error", "status" }, sorted(err.required))
    assert.same({ "error" }, err.properties.status.enum)
    local e = err.properties.error
    assert.same({ "code", "log_url", "message", "title" }, sorted(e.required))
    assert.same({ "string", "null" }, e.properties.code.type)
    assert.same({ "string", "null" }, e.properties.title.type)
    assert.same({ "string", "null" }, e.properties.log_url.type)
    assert.equals("string", e.properties.message.type)
    -- Kombo's documented codes (pinned: a change in the description must be
    -- looked at, since callers branch on err.code)
    assert.same({
      "PLATFORM.RATE_LIMIT_EXCEEDED", "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", "PLATFORM.INTEGRATION_NOT_FOUND",
      "PLATFORM.INPUT_INVALID", "PLATFORM.UNKNOWN_ERROR", "PLATFORM.IP_NOT_WHITELISTED",
      "PLATFORM.AUTHENTICATION_INVALID", "PLATFORM.TASK_TIMED_OUT", "INTEGRATION.PERMISSION_MISSING", "INTEGRATION.AUTHENTICATION_INVALID", "INTEGRATION.QA_FAILED",
      "INTEGRATION.SETUP_SYNC_PENDING", "INTEGRATION.SETUP_INCOMPLETE", "INTEGRATION.INACTIVE",
      "INTEGRATION.MODEL_NOT_AVAILABLE", "INTEGRATION.MODEL_DISABLED", "INTEGRATION.ACTION_NOT_AVAILABLE",
      "INTEGRATION.ACTION_DISABLED", "REMOTE.SERVICE_UNAVAILABLE", "REMOTE.RATE_LIMIT_EXCEEDED",
      "REMOTE.INPUT_INVALID", "REMOTE.UNKNOWN_HTTP_ERROR", "ATS.JOB_CLOSED", "ATS.APPLICATION_ALREADY_EXISTS",
    }, e.properties.code.enum)
  end)

  it("error response: the general one (check_api_key, force_sync, passthrough) has the ATS one's shape", function()
    local general = api.components.responses.ErrorResponseGeneral.content["application/json"].schema
    local ats = error_schema()
    assert.same(sorted(ats.required), sorted(general.required))
    assert.same(ats.properties.status.enum, general.properties.status.enum)
    local g, a = general.properties.error, ats.properties.error
    assert.same(sorted(a.required), sorted(g.required))
    for _, k in ipairs { "title", "message", "log_url" } do
      assert.same(a.properties[k].type, g.properties[k].type, k)
    end
    assert.same(a.properties.code.type, g.properties.code.type)
  end)

  it("error response: the codes the core's retry decision names (classify.c) are documented", function()
    local f = assert(io.open("csrc/core/classify.c"))
    local src = f:read("a")
    f:close()
    local list = assert(src:match("nothing_done_codes%[%] = (%b{})"), "nothing_done_codes in classify.c")
    local prefix = assert(src:match('setup_prefix%[%] = "([^"]+)"'), "setup_prefix in classify.c")
    local documented, named, setups = {}, 0, 0
    for _, c in ipairs(error_schema().properties.error.properties.code.enum) do
      if type(c) == "string" then documented[c] = true end
      if type(c) == "string" and c:sub(1, #prefix) == prefix then setups = setups + 1 end
    end
    for code in list:gmatch('"([^"]+)"') do
      named = named + 1
      assert.is_true(documented[code] == true, code .. " is not in Kombo's description")
    end
    assert.equals(4, named)
    assert.is_true(setups >= 2, "no " .. prefix .. "* code in the description")
  end)

  it("error response: the code err.already_exists stands for is one of the ATS error response's", function()
    local ALREADY_EXISTS = require("kombo.errors").ALREADY_EXISTS
    local found = false
    for _, c in ipairs(error_schema().properties.error.properties.code.enum) do
      if c == ALREADY_EXISTS then found = true end
    end
    assert.is_true(found, ALREADY_EXISTS)
  end)

  it("error response: every code the stand-in (and so the integration specs) uses is documented", function()
    local documented = {}
    for _, c in ipairs(error_schema().properties.error.properties.code.enum) do documented[c] = true end
    local standin = read_file("spec/standin/standin.lua")
    local n = 0
    for code in standin:gmatch('"((%u+)%.[%u_]+)"') do
      if code:find("^PLATFORM%.") or code:find("^INTEGRATION%.") or code:find("^REMOTE%.")
        or code:find("^ATS%.") then
        n = n + 1
        assert.is_true(documented[code] == true, code .. " is not in the description")
      end
    end
    assert.truthy(n >= 9)
  end)
end)
