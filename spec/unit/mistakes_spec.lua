-- Mistakes get one clear answer: an unknown key is a problem that suggests
-- the known one, one mistake is one problem, an empty document is refused,
-- and errors read well in the ways people use them.
local kombo = require "kombo"
local h = require "unit.helpers"

local function problems_for(args, method)
  return h.validation_error(h.client(), method or "attach_to_candidate", args).problems
end

local function only(problems, path)
  assert.are.same({ path }, h.paths(problems), h.dump(problems))
  assert.equals(1, #problems, h.dump(problems))
  return problems[1].message
end

describe("unknown keys", function()
  local cases = {
    { "contentType in the attachment", { body = { attachment = h.attachment { contentType = "application/pdf" } } },
      "body.attachment.contentType", "content_type" },
    { "content-type in the attachment", { body = { attachment = h.attachment { ["content-type"] = "x/y" } } },
      "body.attachment.content-type", "content_type" },
    { "Type in the attachment", { body = { attachment = h.attachment { Type = "CV" } } },
      "body.attachment.Type", "type" },
    { "contnet_type (a typo) in the attachment", { body = { attachment = h.attachment { contnet_type = "x/y" } } },
      "body.attachment.contnet_type", "content_type" },
    { "dataUrl in the attachment", { body = { attachment = h.attachment { dataUrl = "https://x.example/cv" } } },
      "body.attachment.dataUrl", "data_url" },
    { "remoteFields in the body", { body = { attachment = h.attachment(), remoteFields = {} } },
      "body.remoteFields", "remote_fields" },
    { "attachments in the body", { body = { attachment = h.attachment(), attachments = {} } },
      "body.attachments", "attachment" },
    { "candidateId at the top", { candidateId = "c2" }, "candidateId", "candidate_id" },
    { "integrationId at the top", { integrationId = "i2" }, "integrationId", "integration_id" },
    { "onProgress at the top", { onProgress = function() end }, "onProgress", "on_progress" },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. " is a problem suggesting " .. case[4], function()
      local args = h.args(case[2])
      local msg = only(problems_for(args), case[3])
      assert.matches("is not a known field (did you mean " .. case[4] .. "?)", msg, 1, true)
    end)
  end

  it("a key with nothing near it is named without a suggestion", function()
    local msg = only(problems_for(h.args { body = { attachment = h.attachment { xyzzy = 1 } } }),
      "body.attachment.xyzzy")
    assert.equals("is not a known field", msg)
  end)

  it("application_id given to attach_to_candidate points to attach_to_application, and is suggested by it", function()
    local args = h.args({ application_id = "a1" })
    local msg = only(problems_for(args), "application_id")
    assert.equals("is not a field of attach_to_candidate (use attach_to_application for an application)", msg)
    local app = h.args({ applicationId = "a1" }, "application")
    assert.matches("did you mean application_id?",
      only(problems_for(app, "attach_to_application"), "applicationId"), 1, true)
  end)

  it("remote_fields still pass unknown keys through", function()
    local rec = h.send(h.client(), "attach_to_candidate",
      h.args { body = { attachment = h.attachment(), remote_fields = { newAts = { someField = "x" } } } })
    assert.equals("x", rec.json.remote_fields.newAts.someField)
  end)
end)

describe("one mistake, one problem", function()
  it("a file that cannot be opened does not also say the name is missing", function()
    local msg = only(problems_for(h.args { body = { attachment = { file = "/nonexistent/cv.pdf", type = "CV" } } }),
      "body.attachment.file")
    assert.matches("cannot be opened: No such file or directory", msg, 1, true)
  end)

  it("a source without size does not also say the content is missing", function()
    local msg = only(problems_for(h.args { body = { attachment = {
      source = function() end, name = "cv.pdf", type = "CV" } } }), "body.attachment.size")
    assert.matches("is required with source", msg, 1, true)
  end)

  -- The paths below are joined only when a problem is reported (the reader's
  -- and the validator's, lazily): each must still name its own member.
  it("a size beside data is reported at the file object's size", function()
    local msg = only(problems_for(h.args { body = { attachment = {
      name = "cv.pdf", type = "CV", content_type = "application/pdf", data = h.PDF_B64, size = 3 } } }),
      "body.attachment.size")
    assert.matches("is only used with source", msg, 1, true)
  end)

  it("a source's size that is not a whole number is reported at size", function()
    local attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf",
      source = function() end, size = 1.5 }
    local msg = only(problems_for(h.args { body = { attachment = attachment } }), "body.attachment.size")
    assert.matches("must be a whole number of bytes", msg, 1, true)
  end)

  it("a wrong type's enum and a bad content type are each at their own member's path", function()
    local problems = problems_for(h.args { body = { attachment = {
      name = "cv.pdf", type = "PDF", content_type = "pdf", data = h.PDF_B64 } } })
    local at = {}
    for _, p in ipairs(problems) do at[p.path] = p.message end
    assert.matches("must be one of CV, COVER_LETTER, OTHER", at["body.attachment.type"] or "", 1, true)
    assert.matches("must look like type/subtype", at["body.attachment.content_type"] or "", 1, true)
    assert.equals(2, #problems, h.dump(problems))
  end)

  -- Only the key "source" itself is the content's source: a key that begins
  -- with it and a NUL is another (unknown) member, a function that cannot
  -- be JSON.
  it("a key 'source' followed by a NUL is not the source", function()
    local attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf", data = h.PDF_B64 }
    attachment["source\0x"] = function() end
    local problems = problems_for(h.args { body = { attachment = attachment } })
    for _, p in ipairs(problems) do
      assert.is_nil(p.message:find("required with source", 1, true), h.dump(problems))
    end
    assert.truthy(#problems >= 1)
  end)

  -- issue 19: with another problem found, the rules ran without the
  -- model's defaults and also said the name (from the file's path) was missing.
  it("a misspelt key beside a file is one problem, not also 'name is required'", function()
    local problems = problems_for(h.args { body = { attachment = {
      file = "examples/Resume.pdf", type = "CV", contentType = "x" } } })
    local msg = only(problems, "body.attachment.contentType")
    assert.equals("is not a known field (did you mean content_type?)", msg)
  end)

  it("with a problem found while reading, the rest are still reported, with the defaults applied", function()
    local problems = problems_for(h.args { candidateId = "c2", body = { attachment = {
      file = "/nonexistent/cv.pdf", type = "RESUME" } } })
    assert.are.same({ "body.attachment.file", "body.attachment.type", "candidateId" }, h.paths(problems),
      h.dump(problems))
    assert.matches("cannot be opened", h.at(problems, "body.attachment.file")[1], 1, true)
  end)

  it("a name of the wrong type is one problem, not also 'is required'", function()
    local msg = only(problems_for(h.args { body = { attachment = h.attachment { name = 42 } } }),
      "body.attachment.name")
    assert.equals("must be a string (got number)", msg)
  end)

  it("an empty document is refused: bytes, source and file of 0 bytes", function()
    assert.matches("0 bytes", only(problems_for(h.args { body = { attachment = {
      bytes = "", name = "e.pdf", type = "CV" } } }), "body.attachment.bytes"), 1, true)
    assert.matches("0 bytes", only(problems_for(h.args { body = { attachment = {
      source = function() end, size = 0, name = "e.pdf", type = "CV" } } }), "body.attachment.size"), 1, true)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb")); f:close()
    local msg = only(problems_for(h.args { body = { attachment = { file = path, type = "CV" } } }),
      "body.attachment.file")
    os.remove(path)
    assert.matches("is 0 bytes: an empty document is refused", msg, 1, true)
  end)
end)

describe("errors read well", function()
  local function validation_err()
    return h.validation_error(h.client(), "attach_to_candidate",
      h.args { body = { attachment = h.attachment { type = "RESUME" } } })
  end

  it('"upload failed: " .. err works, on either side', function()
    local err = validation_err()
    assert.equals("upload failed: " .. tostring(err), "upload failed: " .. err)
    assert.equals(tostring(err) .. " (giving up)", err .. " (giving up)")
  end)

  it("tostring(err) names the kind once", function()
    local text = tostring(validation_err())
    assert.matches("^kombo validation error: invalid request: ", text)
    local _, n = text:gsub("validation", "")
    assert.equals(1, n, text)
  end)

  it("kombo.encode_json and kombo.null are on the module", function()
    assert.equals("function", type(kombo.encode_json))
    assert.equals("null", kombo.encode_json(kombo.null))
  end)
end)
