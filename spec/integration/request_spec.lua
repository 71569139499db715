-- Successful uploads against the local Kombo stand-in: what arrives on the
-- wire (method, raw URI, headers, JSON body) and what the caller gets back.
local servers = require "support.servers"
local kombo = require "kombo"
local cjson = servers.cjson

local EXPECTED_HEADERS = { "accept", "authorization", "content-length", "content-type", "host",
                           "user-agent", "x-integration-id" }

-- The one request the stand-in recorded for integration_id; asserts the
-- parts every upload shares.
local function the_request(integration_id, key)
  local recs = servers.requests(integration_id)
  assert.equals(1, #recs, "expected exactly one recorded request for " .. integration_id)
  local rec = recs[1]
  assert.equals("POST", rec.method)
  assert.same(EXPECTED_HEADERS, servers.keys(rec.headers))
  assert.equals("Bearer " .. (key or servers.API_KEY), rec.headers.authorization)
  assert.equals(integration_id, rec.headers["x-integration-id"])
  assert.equals("application/json", rec.headers["content-type"])
  assert.equals("application/json", rec.headers.accept)
  assert.equals("kombo-lua/0.1.0 (", rec.headers["user-agent"]:sub(1, #"kombo-lua/0.1.0 ("))
  assert.truthy(rec.headers["user-agent"]:find("libcurl/", 1, true), rec.headers["user-agent"])
  assert.equals(("%d"):format(rec.body_length), rec.headers["content-length"])
  assert.equals(#rec.body, rec.body_length)
  assert.is_true(rec.body_stored)
  assert.same(rec.json, cjson.decode(rec.body)) -- the stand-in parsed what we sent as strict JSON
  assert.equals(1.1, rec.http_version)
  return rec
end

describe("integration: uploads that succeed #integration", function()
  it("attach_to_candidate sends the exact request and returns the positive response", function()
    local client, integ = servers.client()
    local attachment = servers.attachment()
    local res, err = client:attach_to_candidate {
      candidate_id = "cand-1", body = { attachment = attachment },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.is_table(res.data)
    assert.is_table(res.warnings)
    assert.equals(0, #res.warnings)
    -- the API's fields, as the stand-in sent them
    assert.equals("cand-1", res.data.candidate_id)
    assert.equals("Frank Doe CV.pdf", res.data.name)
    assert.equals("application/pdf", res.data.content_type)
    assert.equals("CV", res.data.type)
    assert.equals(9, res.data.size_bytes) -- "%PDF-1.4\n"
    assert.is_string(res.data.id)
    assert.equals(cjson.null, res.data.remote_id)
    -- only the API's members are the result's own keys; http is metadata
    assert.same({ "data", "status", "warnings" }, servers.keys(res))
    assert.equals(200, res.http.status)
    assert.equals(1, res.http.attempts)
    assert.is_number(res.http.elapsed)
    assert.truthy(res.http.elapsed >= 0 and res.http.elapsed < servers.bound(5))
    assert.equals("application/json", res.http.headers["content-type"])

    local rec = the_request(integ)
    assert.equals("/ats/candidates/cand-1/attachments", rec.uri)
    assert.equals("candidates", rec.route)
    assert.equals("cand-1", rec.path_id)
    assert.same({ attachment = { name = "Frank Doe CV.pdf", content_type = "application/pdf",
                                 type = "CV", data = servers.PDF_B64 } }, rec.json)
    assert.equals(200, rec.response.status)
  end)

  it("the per-call integration_id wins over the client's", function()
    local client, client_integ = servers.client()
    local call_integ = servers.unique("per-call")
    local res, err = client:attach_to_candidate {
      integration_id = call_integ, candidate_id = "cand-2", body = { attachment = servers.attachment() },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    the_request(call_integ)
    assert.equals(0, #servers.requests(client_integ))
  end)

  it("ok-warnings: warnings are surfaced as a list of {message}", function()
    local client, integ = servers.client()
    local res, err = client:attach_to_candidate {
      candidate_id = "scenario-ok-warnings", body = { attachment = servers.attachment() },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(2, #res.warnings)
    for _, w in ipairs(res.warnings) do
      assert.is_string(w.message)
      assert.truthy(#w.message > 0)
    end
    the_request(integ)
  end)

  it("ok-charset: application/json; charset=utf-8 is accepted", function()
    local client = servers.client()
    local res, err = client:attach_to_candidate {
      candidate_id = "scenario-ok-charset", body = { attachment = servers.attachment() },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals("application/json; charset=utf-8", res.http.headers["content-type"])
  end)

  it("a data_url attachment is sent without data", function()
    local client, integ = servers.client()
    local attachment = servers.url_attachment { type = "COVER_LETTER" }
    local res, err = client:attach_to_candidate {
      candidate_id = "cand-url", body = { attachment = attachment },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(cjson.null, res.data.size_bytes)
    assert.equals(cjson.null, res.data.content_type)
    assert.equals("COVER_LETTER", res.data.type)
    local rec = the_request(integ)
    assert.same({ attachment = { name = "cv.pdf", type = "COVER_LETTER",
                                 data_url = "https://files.example.com/cv.pdf" } }, rec.json)
    assert.equals("https://files.example.com/cv.pdf", rec.attachment.data_url)
  end)

  it("attach_to_application posts to /ats/applications/{id}/attachments", function()
    local client, integ = servers.client()
    local res, err = client:attach_to_application {
      application_id = "app-77",
      body = {
        attachment = servers.attachment { type = "OTHER", name = "notes.txt", content_type = "text/plain",
                                          data = "SGVsbG8=" },
        remote_fields = { oracle = { override_document_category = "MISC",
                                     multi_post_to_all_current_applications = true } },
      },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals("app-77", res.data.application_id)
    assert.is_nil(res.data.candidate_id)
    assert.equals(5, res.data.size_bytes)
    local rec = the_request(integ)
    assert.equals("/ats/applications/app-77/attachments", rec.uri)
    assert.equals("applications", rec.route)
    assert.equals("app-77", rec.path_id)
    assert.same({
      attachment = { name = "notes.txt", content_type = "text/plain", type = "OTHER", data = "SGVsbG8=" },
      remote_fields = { oracle = { override_document_category = "MISC",
                                   multi_post_to_all_current_applications = true } },
    }, rec.json)
  end)

  it("remote_fields pass through; greenhouse on_behalf_of arrives as post_headers[\"On-Behalf-Of\"]", function()
    local client, integ = servers.client()
    local remote_fields = {
      greenhouse = { on_behalf_of = "4080" },
      workable = { on_behalf_of_user_remote_id = "user-9" },
      some_future_ats = { flag = true, list = { 1, 2, 3 } },
    }
    local res, err = client:attach_to_candidate {
      candidate_id = "cand-rf", body = { attachment = servers.attachment(), remote_fields = remote_fields },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    local rec = the_request(integ)
    assert.same({
      attachment = { name = "Frank Doe CV.pdf", content_type = "application/pdf", type = "CV",
                     data = servers.PDF_B64 },
      remote_fields = {
        greenhouse = { post_headers = { ["On-Behalf-Of"] = "4080" } },
        workable = { on_behalf_of_user_remote_id = "user-9" },
        some_future_ats = { flag = true, list = { 1, 2, 3 } },
      },
    }, rec.json)
    assert.is_true(rec.attachment.has_remote_fields)
    -- the caller's table is not modified by the alias
    assert.same({ on_behalf_of = "4080" }, remote_fields.greenhouse)
  end)

  it("a candidate id with '/ ? # %' and UTF-8 arrives percent-encoded as one path segment", function()
    local client, integ = servers.client()
    local id = "a/b ?c#d%e\195\188"
    local res, err = client:attach_to_candidate {
      candidate_id = id, body = { attachment = servers.attachment() },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(id, res.data.candidate_id)
    local rec = the_request(integ)
    assert.equals("/ats/candidates/a%2Fb%20%3Fc%23d%25e%C3%BC/attachments", rec.uri)
    assert.equals(cjson.null, rec.query)
    assert.equals("candidates", rec.route)
    assert.equals(id, rec.path_id)
  end)

  it("a server_url with /v1 and a trailing slash works", function()
    local client, integ = servers.client { server_url = servers.standin_url() .. "/v1/" }
    local res, err = client:attach_to_candidate {
      candidate_id = "cand-v1", body = { attachment = servers.attachment() },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    local rec = the_request(integ)
    assert.equals("/v1/ats/candidates/cand-v1/attachments", rec.uri)
  end)

  it("keeps the connection alive across sequential calls on one client", function()
    local client, integ = servers.client()
    for i = 1, 4 do
      local res, err = client:attach_to_candidate {
        candidate_id = "cand-ka-" .. i, body = { attachment = servers.attachment() },
      }
      assert.is_nil(err)
      assert.equals("success", res.status)
    end
    local recs = servers.requests(integ)
    assert.equals(4, #recs)
    for i = 2, 4 do
      assert.equals(recs[1].connection, recs[i].connection, "call " .. i .. " used a new connection")
      assert.equals(recs[i - 1].connection_requests + 1, recs[i].connection_requests)
      assert.equals(recs[1].remote_port, recs[i].remote_port)
    end
    client:close()
  end)

  it("a large data payload arrives intact (streamed body)", function()
    local client, integ = servers.client()
    -- 1.5 MiB of base64 ("AAAA" decodes to three zero bytes)
    local data = ("QUJD"):rep(393216)
    local res, err = client:attach_to_candidate {
      candidate_id = "cand-big", body = { attachment = servers.attachment { data = data } },
    }
    assert.is_nil(err)
    assert.equals("success", res.status)
    assert.equals(#data / 4 * 3, res.data.size_bytes)
    local recs = servers.requests(integ)
    assert.equals(1, #recs)
    assert.equals(#data, recs[1].attachment.data_length)
    assert.equals(data, recs[1].json.attachment.data)
  end)

  it("the result encodes back to the API's answer (http is not a member)", function()
    local client = servers.client()
    local res = assert(client:attach_to_candidate {
      candidate_id = "cand-enc", body = { attachment = servers.attachment() },
    })
    local again = cjson.decode(cjson.encode(res))
    assert.same({ "data", "status", "warnings" }, servers.keys(again))
    assert.is_nil(again.http)
    assert.is_false(kombo.is_error(res))
  end)
end)
