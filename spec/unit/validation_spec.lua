-- Validation of every request rule: through the public API (an offline
-- client; a request that fails validation is never sent) and, for inputs
-- that must be accepted, through core.prepare.
local kombo = require "kombo"
local h = require "unit.helpers"

local hex, NONE = h.hex, h.NONE

-- The problems the public API reports for `args` (target "candidate" unless given).
local function problems_for(args, target, client_opts)
  local client = h.client(client_opts)
  local method = target == "application" and "attach_to_application" or "attach_to_candidate"
  return h.validation_error(client, method, args).problems
end

-- Asserts exactly one problem, at `path`, whose message matches `pattern`.
local function assert_only_problem(problems, path, pattern)
  assert.are.same({ path }, h.paths(problems), h.dump(problems))
  assert.equals(1, #problems, h.dump(problems))
  if pattern then
    assert.matches(pattern, problems[1].message, 1, true)
  end
end

local function with_attachment(over)
  return h.args({ body = { attachment = h.attachment(over) } })
end

local function with_url_attachment(over)
  return h.args({ body = { attachment = h.url_attachment(over) } })
end

describe("validation", function()
  describe("a valid request", function()
    it("with data is accepted by core.prepare", function()
      local call, problems = h.prepare()
      assert.is_not_nil(call, h.dump(problems))
    end)

    it("with data_url and no content_type is accepted by core.prepare", function()
      local call, problems = h.prepare { attachment = h.url_attachment() }
      assert.is_not_nil(call, h.dump(problems))
    end)

    it("is accepted by the public API (transport captured, nothing sent)", function()
      local rec, res = h.send(h.client(), "attach_to_candidate", h.args())
      assert.equals("success", res.status)
      assert.equals(h.OFFLINE_URL .. "/ats/candidates/cand-1/attachments", rec.url)
    end)
  end)

  for _, target in ipairs { "candidate", "application" } do
    local id_field = target .. "_id"
    describe(id_field, function()
      local cases = {
        { "is required", NONE, "is required" },
        { "must not be empty", "", "must not be empty" },
        { "must be valid UTF-8 (lone continuation byte)", "abc" .. hex "80", "must be valid UTF-8" },
        { "must be valid UTF-8 (overlong)", hex "C0 AF", "must be valid UTF-8" },
        { "must not contain CR", "cand\r1", "must not contain CR, LF or NUL" },
        { "must not contain LF", "cand\n1", "must not contain CR, LF or NUL" },
        { "must not contain NUL", "cand\0001", "must not contain CR, LF or NUL" },
      }
      for _, case in ipairs(cases) do
        it(case[1], function()
          local problems = problems_for(h.args({ [id_field] = case[2] }, target), target)
          assert_only_problem(problems, id_field, case[3])
        end)
      end

      it("accepts any other UTF-8, spaces and punctuation", function()
        local call, problems = h.prepare { target = target, id = "Ünïcødé id / with ? # % & spaces" }
        assert.is_not_nil(call, h.dump(problems))
      end)
    end)
  end

  describe("integration_id", function()
    it("missing from both the call and the client is a problem at 'integration_id'", function()
      local problems = problems_for(h.args(), "candidate", { integration_id = NONE })
      assert_only_problem(problems, "integration_id", "is required")
    end)

    it("missing from the call is taken from the client", function()
      local rec = h.send(h.client { integration_id = "client-int" }, "attach_to_candidate", h.args())
      assert.equals("client-int", h.header_map(rec.headers)["x-integration-id"])
    end)

    it("given in the call overrides the client's", function()
      local rec = h.send(h.client { integration_id = "client-int" }, "attach_to_candidate",
        h.args { integration_id = "call-int" })
      assert.equals("call-int", h.header_map(rec.headers)["x-integration-id"])
    end)

    it("an invalid one on the client raises at kombo.new, naming the option", function()
      local ok, msg = pcall(h.client, { integration_id = "bad\r\nX-Evil: 1" })
      assert.is_false(ok)
      assert.matches("option 'integration_id' must not contain CR, LF or NUL", tostring(msg), 1, true)
    end)


    it("given in the call is still validated when the client has a good one", function()
      local problems = problems_for(h.args { integration_id = "call\nint" })
      assert_only_problem(problems, "integration_id", "must not contain CR, LF or NUL")
    end)

    local cases = {
      { "must not be empty", "", "must not be empty" },
      { "must be valid UTF-8", hex "FF FE", "must be valid UTF-8" },
      { "must not contain CR", "a\rb", "must not contain CR, LF or NUL" },
      { "must not contain LF", "a\nb", "must not contain CR, LF or NUL" },
      { "must not contain NUL", "a\0b", "must not contain CR, LF or NUL" },
    }
    for _, case in ipairs(cases) do
      it(case[1] .. " (from the call)", function()
        assert_only_problem(problems_for(h.args { integration_id = case[2] }), "integration_id", case[3])
      end)
      it(case[1] .. " (from the client: raises at kombo.new)", function()
        local ok, msg = pcall(h.client, { integration_id = case[2] })
        assert.is_false(ok)
        assert.matches("option 'integration_id' " .. case[3], tostring(msg), 1, true)
      end)
    end
  end)

  describe("body.attachment.name", function()
    local cases = {
      { "is required", NONE, "is required" },
      { "must not be empty", "", "must not be empty" },
      { "must not be longer than 4096 bytes", ("n"):rep(4097), "is too long" },
      { "must be valid UTF-8", "cv" .. hex "E2 82" .. ".pdf", "must be valid UTF-8" },
      { "must not contain NUL", "cv\0.pdf", "must not contain NUL" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        assert_only_problem(problems_for(with_attachment { name = case[2] }),
          "body.attachment.name", case[3])
      end)
    end

    it("may be exactly 4096 bytes", function()
      local call, problems = h.prepare { attachment = h.attachment { name = ("n"):rep(4096) } }
      assert.is_not_nil(call, h.dump(problems))
    end)
  end)

  describe("body.attachment.type", function()
    for _, good in ipairs { "CV", "COVER_LETTER", "OTHER" } do
      it("accepts " .. good, function()
        local call, problems = h.prepare { attachment = h.attachment { type = good } }
        assert.is_not_nil(call, h.dump(problems))
      end)
    end

    it("is required", function()
      assert_only_problem(problems_for(with_attachment { type = NONE }), "body.attachment.type",
        "is required")
    end)

    for _, bad in ipairs { "cv", "RESUME", "", "CV ", "COVER-LETTER" } do
      it(("rejects %q"):format(bad), function()
        assert_only_problem(problems_for(with_attachment { type = bad }), "body.attachment.type",
          "must be one of CV, COVER_LETTER, OTHER")
      end)
    end
  end)

  describe("data and data_url", function()
    it("neither is a problem at body.attachment", function()
      assert_only_problem(problems_for(with_attachment { data = NONE }), "body.attachment",
        "needs exactly one of data")
    end)

    it("both is a problem at body.attachment", function()
      assert_only_problem(problems_for(with_attachment { data_url = "https://files.example.com/a" }),
        "body.attachment", "has both data and data_url")
    end)
  end)

  describe("body.attachment.data", function()
    local cases = {
      { "must not be empty", "", "must not be empty" },
      { "bad characters (url-safe alphabet)", "ab-_", "bad byte at offset 2" },
      { "bad characters (whitespace)", "QUJD REVG", "must be base64" },
      { "bad characters (newline)", "QUJD\nREVG", "must be base64" },
      { "bad characters (non-ASCII)", "QUJ" .. hex "C3", "must be base64" },
      { "bad length (3)", "QUJ", "length 3 is not a multiple of 4" },
      { "bad length (unpadded)", "QUJDRA", "length 6 is not a multiple of 4" },
      { "bad padding (= in the middle)", "QQ==QUJD", "bad byte at offset 2" },
      { "bad padding (three =)", "Q===", "bad byte at offset 1" },
      { "bad padding (= before a letter)", "QQ=A", "bad byte at offset 2" },
      { "bad padding (only =)", "====", "must be base64" },
    }
    for _, case in ipairs(cases) do
      it("rejects " .. case[1], function()
        assert_only_problem(problems_for(with_attachment { data = case[2] }), "body.attachment.data",
          case[3])
      end)
    end

    for _, good in ipairs { "QQ==", "QUI=", "QUJD", "+/+/", h.PDF_B64 } do
      it(("accepts %q"):format(good), function()
        local call, problems = h.prepare { attachment = h.attachment { data = good } }
        assert.is_not_nil(call, h.dump(problems))
      end)
    end
  end)

  describe("body.attachment.data_url", function()
    local bad = {
      { "ftp: scheme", "ftp://files.example.com/cv.pdf", "absolute http:// or https:// URL" },
      { "file: scheme", "file:///etc/passwd", "absolute http:// or https:// URL" },
      { "a relative URL", "/files/cv.pdf", "absolute http:// or https:// URL" },
      { "a scheme-relative URL", "//files.example.com/cv.pdf", "absolute http:// or https:// URL" },
      { "no host (https://)", "https://", "must name a host" },
      { "no host (https:///path)", "https:///cv.pdf", "must name a host" },
      { "no host (port only)", "http://:8080/cv.pdf", "must name a host" },
      { "no host (userinfo only)", "http://user@/cv.pdf", "must name a host" },
      { "no host (empty IPv6 literal)", "http://[]/cv.pdf", "must name a host" },
      { "a space", "https://files.example.com/my cv.pdf", "whitespace or control characters" },
      { "a tab", "https://files.example.com/cv.pdf\t", "whitespace or control characters" },
      { "a newline", "https://files.example.com/cv.pdf\n", "whitespace or control characters" },
      { "leading whitespace", " https://files.example.com/cv.pdf", "whitespace or control characters" },
      { "an empty string", "", "must not be empty" },
      { "invalid UTF-8", "https://files.example.com/" .. hex "FF", "must be valid UTF-8" },
      { "more than 8192 bytes", "https://files.example.com/" .. ("a"):rep(8200), "is too long" },
    }
    for _, case in ipairs(bad) do
      it("rejects " .. case[1], function()
        local problems = problems_for(with_url_attachment { data_url = case[2] })
        assert.are.same({ "body.attachment.data_url" }, h.paths(problems), h.dump(problems))
        local joined = table.concat(h.at(problems, "body.attachment.data_url"), " | ")
        assert.matches(case[3], joined, 1, true)
      end)
    end

    local good = {
      "https://files.example.com/cv.pdf",
      "http://files.example.com/cv.pdf",
      "HTTPS://FILES.EXAMPLE.COM/CV.PDF",
      "https://files.example.com:8443/a/b?c=d&e=f#g",
      "https://user:pw@files.example.com/cv.pdf",
      "http://[::1]:8080/cv.pdf",
      "https://files.example.com",
    }
    for _, url in ipairs(good) do
      it(("accepts %q"):format(url), function()
        local call, problems = h.prepare { attachment = h.url_attachment { data_url = url } }
        assert.is_not_nil(call, h.dump(problems))
      end)
    end
  end)

  describe("body.attachment.content_type", function()
    it("is required with data", function()
      assert_only_problem(problems_for(with_attachment { content_type = NONE }),
        "body.attachment.content_type", "is required with data")
    end)

    it("is optional with data_url", function()
      local call, problems = h.prepare { attachment = h.url_attachment { content_type = NONE } }
      assert.is_not_nil(call, h.dump(problems))
    end)

    local good = { "application/pdf",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "text/plain",
      "image/svg_x.1-2" }
    for _, ct in ipairs(good) do
      it(("accepts %q with data"):format(ct), function()
        local call, problems = h.prepare { attachment = h.attachment { content_type = ct } }
        assert.is_not_nil(call, h.dump(problems))
      end)
      it(("accepts %q with data_url"):format(ct), function()
        local call, problems = h.prepare { attachment = h.url_attachment { content_type = ct } }
        assert.is_not_nil(call, h.dump(problems))
      end)
    end

    local bad = { "pdf", "a/b/c", "text/plain; charset=utf-8", "a /b", "/pdf", "application/", "",
      "text/pl+ain", "t" .. hex "C3 A9" .. "xt/plain", ("a"):rep(250) .. "/" .. ("b"):rep(10) }
    for _, ct in ipairs(bad) do
      it(("rejects %q with data"):format(ct:sub(1, 40)), function()
        local problems = problems_for(with_attachment { content_type = ct })
        assert_only_problem(problems, "body.attachment.content_type")
      end)
      it(("rejects %q with data_url"):format(ct:sub(1, 40)), function()
        local problems = problems_for(with_url_attachment { content_type = ct })
        assert_only_problem(problems, "body.attachment.content_type")
      end)
    end
  end)

  describe("leaf fields of the wrong Lua type", function()
    local wrong = { number = 42, boolean = true, table = { "x" } }
    local fields = {
      { path = "candidate_id", args = function(v) return h.args { candidate_id = v } end },
      { path = "application_id", target = "application",
        args = function(v) return h.args({ application_id = v }, "application") end },
      { path = "integration_id", args = function(v) return h.args { integration_id = v } end },
      { path = "body.attachment.name", args = function(v) return with_attachment { name = v } end },
      { path = "body.attachment.type", args = function(v) return with_attachment { type = v } end },
      { path = "body.attachment.content_type",
        args = function(v) return with_attachment { content_type = v } end },
      { path = "body.attachment.data", args = function(v) return with_attachment { data = v } end },
      { path = "body.attachment.data_url",
        args = function(v) return with_url_attachment { data_url = v } end },
    }
    for _, field in ipairs(fields) do
      for _, tname in ipairs { "number", "boolean", "table" } do
        it(("%s as a %s is one problem naming the path"):format(field.path, tname), function()
          local problems = problems_for(field.args(wrong[tname]), field.target)
          assert_only_problem(problems, field.path, "must be a string (got " .. tname .. ")")
        end)
      end
    end
  end)

  describe("a missing attachment", function()
    it("gives exactly one problem, body.attachment", function()
      local problems = problems_for(h.args { body = {} })
      assert_only_problem(problems, "body.attachment", "is required")
    end)

    it("is reported along with other problems", function()
      local problems = problems_for(h.args { candidate_id = "", body = {} })
      assert.are.same({ "body.attachment", "candidate_id" }, h.paths(problems), h.dump(problems))
      assert.equals(2, #problems)
    end)
  end)

  describe("the error", function()
    local six = {
      candidate_id = "",
      integration_id = "int\r\n",
      body = { attachment = { name = "", type = "PDF", data = "QUJ", content_type = "pdf" } },
    }

    it("reports all problems at once (6 mistakes, 6 problems)", function()
      local problems = problems_for(six)
      assert.are.same({ "body.attachment.content_type", "body.attachment.data",
        "body.attachment.name", "body.attachment.type", "candidate_id", "integration_id" },
        h.paths(problems), h.dump(problems))
      assert.equals(6, #problems, h.dump(problems))
    end)

    it("has kind 'validation', outcome 'not_sent' and no attempts", function()
      local err = h.validation_error(h.client(), "attach_to_candidate", six)
      assert.equals("validation", err.kind)
      assert.equals("not_sent", err.outcome)
      assert.equals(0, err.attempts)
      assert.is_true(kombo.is_error(err))
    end)

    it("has problems as a list of {path=, message=} strings", function()
      local err = h.validation_error(h.client(), "attach_to_candidate", six)
      assert.equals(6, #err.problems)
      for _, p in ipairs(err.problems) do
        assert.equals("string", type(p.path))
        assert.equals("string", type(p.message))
        assert.is_true(#p.message > 0)
      end
    end)

    it("mentions every path in tostring(err) and err.message", function()
      local err = h.validation_error(h.client(), "attach_to_candidate", six)
      local text = tostring(err)
      assert.matches("^kombo validation error: ", text)
      for _, p in ipairs(err.problems) do
        assert.matches(p.path, text, 1, true)
        assert.matches(p.path, err.message, 1, true)
      end
    end)

    it("is the same through attach_to_application (paths use application_id)", function()
      local args = h.merge(six, { candidate_id = NONE, application_id = "" })
      local problems = problems_for(args, "application")
      assert.are.same({ "application_id", "body.attachment.content_type", "body.attachment.data",
        "body.attachment.name", "body.attachment.type", "integration_id" },
        h.paths(problems), h.dump(problems))
    end)

    it("comes from the core as nil plus a problems list", function()
      local call, problems = h.prepare { id = "" }
      assert.is_nil(call)
      assert.are.same({ { path = "candidate_id", message = "must not be empty" } }, problems)
    end)
  end)
  -- issue 18 (5): an id longer than the limit is a validation problem, not
  -- an out-of-memory failure after three attempts.
  describe("the length of an id", function()
    local MAX = 1024
    it(("a candidate_id of %d bytes is accepted"):format(MAX), function()
      local rec = h.send(h.client(), "attach_to_candidate", h.args { candidate_id = ("c"):rep(MAX) })
      assert.is_not_nil(rec)
    end)

    it("a 1 MB candidate_id is a validation problem that states the limit", function()
      assert_only_problem(problems_for(h.args { candidate_id = ("c"):rep(1024 * 1024) }), "candidate_id",
        "must be at most 1024 bytes")
    end)

    it("an application_id and an integration_id one byte over the limit are problems too", function()
      assert_only_problem(problems_for(h.args({ application_id = ("a"):rep(MAX + 1) }, "application"),
        "application"), "application_id", "must be at most 1024 bytes")
      assert_only_problem(problems_for(h.args { integration_id = ("i"):rep(MAX + 1) }), "integration_id",
        "must be at most 1024 bytes")
    end)

    it("a read with a 1 MB id fails validation before anything is sent", function()
      local err = h.validation_error(h.client(), "get_candidate_attachments", { candidate_id = ("c"):rep(1024 * 1024) })
      assert_only_problem(err.problems, "candidate_id", "must be at most 1024 bytes")
      assert.equals(0, err.attempts)
    end)

    it("a client's integration_id over the limit raises at kombo.new", function()
      local ok, msg = pcall(h.client, { integration_id = ("i"):rep(MAX + 1) })
      assert.is_false(ok)
      assert.matches("option 'integration_id' must be at most 1024 bytes", tostring(msg), 1, true)
    end)
  end)

  -- issue 18 (8): a missing or misspelt body is a validation problem with
  -- a suggestion, like a missing candidate_id.
  describe("body", function()
    it("missing is a problem at body, not an error raised", function()
      assert_only_problem(problems_for { candidate_id = "cand-1" }, "body", "is required")
    end)

    it("misspelt (bdy) is a problem at body and one at bdy suggesting body", function()
      local problems = problems_for { candidate_id = "cand-1", bdy = { attachment = h.attachment() } }
      assert.are.same({ "bdy", "body" }, h.paths(problems), h.dump(problems))
      assert.are.same({ "is not a known field (did you mean body?)" }, h.at(problems, "bdy"))
      assert.are.same({ "is required" }, h.at(problems, "body"))
    end)

    it("missing, with a missing candidate_id too: both are reported", function()
      local problems = problems_for {}
      assert.are.same({ "body", "candidate_id" }, h.paths(problems), h.dump(problems))
    end)
  end)

  describe("the id of the other target", function()
    it("application_id given to attach_to_candidate points to attach_to_application", function()
      local problems = problems_for { application_id = "app-1", body = { attachment = h.attachment() } }
      assert.are.same({ "application_id", "candidate_id" }, h.paths(problems), h.dump(problems))
      assert.are.same({ "is not a field of attach_to_candidate (use attach_to_application for an application)" },
        h.at(problems, "application_id"))
    end)

    it("candidate_id given to attach_to_application points to attach_to_candidate", function()
      local problems = problems_for({ candidate_id = "cand-1", body = { attachment = h.attachment() } }, "application")
      assert.are.same({ "is not a field of attach_to_application (use attach_to_candidate for a candidate)" },
        h.at(problems, "candidate_id"))
    end)

    it("application_id given to get_candidate_attachments points to get_application_attachments", function()
      local err = h.validation_error(h.client(), "get_candidate_attachments", { application_id = "app-1" })
      assert.are.same({ "is not a field of get_candidate_attachments (use get_application_attachments for an "
        .. "application)" }, h.at(err.problems, "application_id"))
    end)
  end)

  -- issue 18 (9): a call's preflight is a boolean.
  describe("preflight", function()
    for _, bad in ipairs { "yes", 1, "false" } do
      it(("%q is refused: it must be a boolean"):format(tostring(bad)), function()
        assert_only_problem(problems_for(h.args { preflight = bad }), "preflight",
          "must be a boolean (got " .. type(bad) .. ")")
      end)
    end

    it("false is accepted", function()
      assert.is_not_nil(h.send(h.client(), "attach_to_candidate", h.args { preflight = false }))
    end)
  end)
end)
