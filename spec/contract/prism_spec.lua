-- Contract tests against Prism serving spec/contract/kombo-openapi.json
-- (scripts/prism; Prism's paths have no /v1 prefix, so server_url is its
-- base URL).  Prism checks the request against the API description:
-- what our client sends must pass, and what our validator refuses must be
-- refused by the description too (sent raw, bypassing the client).
local servers = require "support.servers"
local cjson = servers.cjson

local function assert_prism_success(res, err)
  assert.is_nil(err, err and tostring(err))
  assert.equals("success", res.status)
  assert.is_table(res.data)
  assert.is_table(res.warnings)
  -- Prism's static example from the positive response
  assert.is_string(res.warnings[1].message)
  assert.equals(200, res.http.status)
  assert.equals(1, res.http.attempts)
  assert.truthy(res.http.headers["content-type"]:find("^application/json"))
end

describe("contract: every read operation passes Prism's validation #contract", function()
  local function ok(res, err)
    assert.is_nil(err, err and tostring(err))
    assert.equals("success", res.status)
    assert.equals(200, res.http.status)
    return res
  end

  it("get_candidate_attachments: results as described, null as kombo.null", function()
    local res = ok(servers.prism_client():get_candidate_attachments { candidate_id = "8Xi6iZrwusZqJmDGXs49GBmJ" })
    local a = res.data.results[1]
    assert.is_string(a.id)
    assert.is_string(a.file_name)
    assert.equals(servers.cjson.null, a.application_id)
  end)

  it("get_application_attachments", function()
    local res = ok(servers.prism_client():get_application_attachments { application_id = "8Xi6iZrwusZqJmDGXs49GBmJ" })
    assert.is_table(res.data.results)
  end)

  for _, target in ipairs { "candidate", "application" } do
    it("attachment_restrictions(" .. target .. ")", function()
      local res = ok(servers.prism_client():attachment_restrictions(target))
      assert.is_table(res.data.attachment_restrictions.types.OTHER)
    end)
  end

  it("check_api_key (no X-Integration-Id)", function()
    local res = ok(servers.prism_client():check_api_key())
    assert.is_string(res.data.environment_id)
    assert.is_string(res.data.customer_id)
  end)
end)

describe("contract: valid requests pass Prism's validation #contract", function()
  local variants = {
    { "data, CV", "candidate", { attachment = servers.attachment() } },
    { "data, COVER_LETTER", "candidate",
      { attachment = servers.attachment { type = "COVER_LETTER", name = "letter.txt", content_type = "text/plain",
                                          data = "RGVhciBLb21ibw==" } } },
    { "data, OTHER, content_type with . - _", "candidate",
      { attachment = servers.attachment { type = "OTHER", name = "x.docx",
        content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document" } } },
    { "data_url, no content_type", "candidate", { attachment = servers.url_attachment() } },
    { "data_url with content_type", "candidate",
      { attachment = servers.url_attachment { content_type = "application/pdf", type = "OTHER" } } },
    { "remote_fields.greenhouse (on_behalf_of alias)", "candidate",
      { attachment = servers.attachment(), remote_fields = { greenhouse = { on_behalf_of = "4080" } } } },
    { "remote_fields.greenhouse.post_headers On-Behalf-Of = kombo.null", "candidate",
      { attachment = servers.attachment(),
        remote_fields = { greenhouse = { post_headers = { ["On-Behalf-Of"] = cjson.null } } } } },
    { "remote_fields.workable", "candidate",
      { attachment = servers.attachment(), remote_fields = { workable = { on_behalf_of_user_remote_id = "u-1" } } } },
    { "application, data", "application", { attachment = servers.attachment() } },
    { "application, data_url", "application", { attachment = servers.url_attachment { type = "COVER_LETTER" } } },
    { "application, remote_fields.oracle", "application",
      { attachment = servers.attachment(),
        remote_fields = { oracle = { override_document_category = "IRC_CANDIDATE_RESUME",
                                     multi_post_to_all_current_applications = false } } } },
    { "application, oracle + greenhouse + workable", "application",
      { attachment = servers.attachment { type = "OTHER" },
        remote_fields = { oracle = { override_document_category = "MISC" },
                          greenhouse = { post_headers = { on_behalf_of = "7" } },
                          workable = { on_behalf_of_user_remote_id = "u-2" } } } },
  }

  for _, v in ipairs(variants) do
    local label, target, body = v[1], v[2], v[3]
    it(target .. ": " .. label, function()
      local client = servers.prism_client()
      local res, err
      if target == "application" then
        res, err = client:attach_to_application { application_id = "app-1", body = body }
      else
        res, err = client:attach_to_candidate { candidate_id = "cand-1", body = body }
      end
      assert_prism_success(res, err)
    end)
  end

  it("an id that needs percent-encoding is one path segment for Prism too", function()
    local client = servers.prism_client()
    local res, err = client:attach_to_candidate {
      candidate_id = "a/b ?#%", body = { attachment = servers.attachment() },
    }
    assert_prism_success(res, err)
  end)

  it("the client's integration_id is sent when the call has none", function()
    local client = servers.prism_client { integration_id = "personio:client-level" }
    local res, err = client:attach_to_candidate { candidate_id = "c", body = { attachment = servers.attachment() } }
    assert_prism_success(res, err)
  end)
end)

---------------------------------------------------------------- cross-check

-- Sends body (a Lua table, JSON-encoded) raw to Prism with the headers
-- our client would send.  Returns status, headers, violations (decoded).
local function raw_to_prism(path, body, integration_id)
  local headers = {
    ["authorization"] = "Bearer prism-contract-key",
    ["content-type"] = "application/json",
    ["accept"] = "application/json",
    ["x-integration-id"] = integration_id,
  }
  local status, resp_headers, resp_body = servers.http("POST", servers.prism_url() .. path, headers,
    cjson.encode(body))
  assert(status, "raw request to Prism failed: " .. tostring(resp_headers))
  local raw = resp_headers["sl-violations"]
  return status, resp_headers, raw and cjson.decode(raw), resp_body
end

-- A Prism violation as a dotted path: location minus "request", plus the
-- missing property of a "required" violation ("body.attachment.name").
local function violation_path(v)
  local parts = {}
  for i = 2, #v.location do parts[#parts + 1] = v.location[i] end
  if v.code == "required" then
    parts[#parts + 1] = v.message:match("required property '([^']+)'")
  end
  return table.concat(parts, ".")
end

describe("contract: what our validator refuses, Prism refuses too #contract", function()
  local cases = {
    { label = "type \"BAD\"", body = { attachment = servers.attachment { type = "BAD" } },
      prism = "body.attachment.type", ours = "body.attachment.type" },
    { label = "type in lower case", body = { attachment = servers.attachment { type = "cv" } },
      prism = "body.attachment.type", ours = "body.attachment.type" },
    { label = "missing name", body = { attachment = servers.attachment { name = servers.NONE } },
      prism = "body.attachment.name", ours = "body.attachment.name" },
    { label = "name not a string", body = { attachment = servers.attachment { name = 42 } },
      prism = "body.attachment.name", ours = "body.attachment.name" },
    { label = "missing type", body = { attachment = servers.attachment { type = servers.NONE } },
      prism = "body.attachment.type", ours = "body.attachment.type" },
    { label = "content_type \"not a type\"", body = { attachment = servers.attachment { content_type = "not a type" } },
      prism = "body.attachment.content_type", ours = "body.attachment.content_type" },
    { label = "content_type with parameters", body = { attachment = servers.attachment {
        content_type = "text/plain; charset=utf-8" } },
      prism = "body.attachment.content_type", ours = "body.attachment.content_type" },
    { label = "content_type without subtype", body = { attachment = servers.attachment { content_type = "pdf" } },
      prism = "body.attachment.content_type", ours = "body.attachment.content_type" },
    { label = "missing attachment", body = {},
      prism = "body.attachment", ours = "body.attachment" },
    { label = "oracle category not in the enum", target = "application",
      body = { attachment = servers.attachment(), remote_fields = { oracle = { override_document_category = "CV" } } },
      prism = "body.remote_fields.oracle.override_document_category",
      ours = "body.remote_fields.oracle.override_document_category" },
    { label = "workable user id not a string",
      body = { attachment = servers.attachment(), remote_fields = { workable = { on_behalf_of_user_remote_id = 5 } } },
      prism = "body.remote_fields.workable.on_behalf_of_user_remote_id",
      ours = "body.remote_fields.workable.on_behalf_of_user_remote_id" },
    { label = "missing integration id", body = { attachment = servers.attachment() }, no_integration_id = true,
      prism = "header.x-integration-id", ours = "integration_id" },
  }

  for _, case in ipairs(cases) do
    it(case.label, function()
      local target = case.target or "candidate"
      local path = target == "application" and "/ats/applications/app-1/attachments"
        or "/ats/candidates/cand-1/attachments"
      local integ = not case.no_integration_id and servers.unique("contract") or nil

      -- Prism, given the raw body, flags it
      local status, headers, violations = raw_to_prism(path, case.body, integ)
      assert.equals(422, status)
      assert.is_table(violations, "no sl-violations header")
      local found = {}
      for _, v in ipairs(violations) do
        assert.equals("Error", v.severity)
        found[#found + 1] = violation_path(v)
      end
      assert.truthy(headers["content-type"])
      assert.is_truthy(#found > 0)
      local listed = table.concat(found, ", ")
      local ok = false
      for _, p in ipairs(found) do if p == case.prism then ok = true end end
      assert.is_true(ok, "Prism flagged " .. listed .. ", expected " .. case.prism)

      -- our client refuses it, naming the corresponding path, sending nothing
      local client = servers.prism_client { integration_id = case.no_integration_id and servers.NONE or integ }
      local args = { body = case.body, integration_id = integ }
      local res, err
      servers.with_env({}, function()
        if target == "application" then
          args.application_id = "app-1"
          res, err = client:attach_to_application(args)
        else
          args.candidate_id = "cand-1"
          res, err = client:attach_to_candidate(args)
        end
      end)
      assert.is_nil(res)
      assert.equals("validation", err.kind)
      assert.equals("not_sent", err.outcome)
      local ours = {}
      for _, p in ipairs(err.problems) do ours[p.path] = true end
      assert.is_true(ours[case.ours] == true,
        "our problems: " .. err.message .. " (expected a problem at " .. case.ours .. ")")
    end)
  end

  it("the raw sender itself is accepted by Prism when the body is valid", function()
    local status, _, violations, body = raw_to_prism("/ats/candidates/cand-1/attachments",
      { attachment = servers.attachment() }, servers.unique("contract"))
    assert.equals(200, status)
    assert.is_nil(violations)
    assert.equals("success", cjson.decode(body).status)
  end)

  it("the body our client would send for a valid request is accepted raw as well", function()
    -- the same JSON the client renders (captured by the stand-in) replayed to Prism
    local client, integ = servers.client()
    local res = assert(client:attach_to_candidate {
      candidate_id = "cand-replay",
      body = { attachment = servers.attachment(), remote_fields = { greenhouse = { on_behalf_of = "1" } } },
    })
    assert.equals("success", res.status)
    local rec = assert(servers.requests(integ)[1])
    local status, _, violations = raw_to_prism("/ats/candidates/cand-replay/attachments",
      cjson.decode(rec.body), integ)
    assert.equals(200, status)
    assert.is_nil(violations)
  end)
end)
