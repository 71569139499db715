-- The id is percent-encoded as exactly one path segment.
local testing = require "kombo.testing" -- test-only helpers, not part of kombo.core
local h = require "unit.helpers"

local hex = h.hex

local function url_for(id, target, server_url)
  local call, problems = h.prepare({ id = id, target = target }, { server_url = server_url })
  assert(call, h.dump(problems))
  local url = call:request()
  call:close()
  return url
end

describe("testing.percent_encode", function()
  local cases = {
    { "unreserved characters untouched", "AZaz09-._~", "AZaz09-._~" },
    { "empty string", "", "" },
    { "slash", "a/b", "a%2Fb" },
    { "question mark", "a?b", "a%3Fb" },
    { "hash", "a#b", "a%23b" },
    { "percent", "100%", "100%25" },
    { "an already-encoded sequence (encoded again)", "a%2Fb", "a%252Fb" },
    { "space", "a b", "a%20b" },
    { "plus", "a+b", "a%2Bb" },
    { "reserved sub-delims", "!$&'()*,;=", "%21%24%26%27%28%29%2A%2C%3B%3D" },
    { "colon and at", "u:p@h", "u%3Ap%40h" },
    { "é as UTF-8 bytes", hex "C3 A9", "%C3%A9" },
    { "emoji", hex "F0 9F 98 80", "%F0%9F%98%80" },
    { "upper-case hex (0xFF, 0xAB)", hex "FF AB", "%FF%AB" },
    { "NUL, CR and LF", "\0\r\n", "%00%0D%0A" },
    { "backslash and quotes", "\\\"'", "%5C%22%27" },
    { "two dots inside an id", "a..b", "a..b" },
    { "all of / ? # % .. space é together", "a/b?c#d%e..f g " .. hex "C3 A9",
      "a%2Fb%3Fc%23d%25e..f%20g%20%C3%A9" },
  }
  for _, case in ipairs(cases) do
    it("encodes " .. case[1], function()
      assert.equals(case[3], testing.percent_encode(case[2]))
    end)
  end

  it("leaves every unreserved byte untouched and encodes every other byte", function()
    for b = 0, 255 do
      local c = string.char(b)
      local want = c:match("[A-Za-z0-9%-%._~]") and c or ("%%%02X"):format(b)
      assert.equals(want, testing.percent_encode(c), ("byte 0x%02X"):format(b))
    end
  end)
end)

describe("the request URL", function()
  it("is {server_url}/ats/candidates/{id}/attachments for a candidate", function()
    assert.equals("http://127.0.0.1:9/v1/ats/candidates/cand-1/attachments", url_for("cand-1"))
  end)

  it("is {server_url}/ats/applications/{id}/attachments for an application", function()
    assert.equals("http://127.0.0.1:9/v1/ats/applications/app-1/attachments", url_for("app-1", "application"))
  end)

  it("encodes the candidate id as one segment", function()
    local id = "a/b?c#d%e..f g " .. hex "C3 A9"
    assert.equals("http://127.0.0.1:9/v1/ats/candidates/a%2Fb%3Fc%23d%25e..f%20g%20%C3%A9/attachments",
      url_for(id))
  end)

  it("encodes the application id as one segment", function()
    assert.equals("http://127.0.0.1:9/v1/ats/applications/..%2F..%2Fadmin/attachments",
      url_for("../../admin", "application"))
  end)

  it("keeps an id with only unreserved characters as it is", function()
    assert.equals("http://127.0.0.1:9/v1/ats/candidates/8sP2-qC_nM.JW~E3f/attachments", url_for("8sP2-qC_nM.JW~E3f"))
  end)

  for _, id in ipairs { ".", ".." } do
    it(("refuses the dot-segment id %q (it would not stay one segment)"):format(id), function()
      -- "/ats/candidates/../attachments" is normalised to "/ats/attachments"
      -- by libcurl and by servers; %2E%2E is a dot-segment too (WHATWG URL).
      local call, problems = h.prepare { id = id }
      local url = call and call:request()
      assert.is_nil(call, "prepared, with URL " .. tostring(url))
      assert.are.same({ "candidate_id" }, h.paths(problems), h.dump(problems))
    end)
  end

  it("does not double a trailing slash of server_url", function()
    assert.equals("http://127.0.0.1:9/v1/ats/candidates/c/attachments",
      url_for("c", nil, "http://127.0.0.1:9/v1/"))
  end)

  it("comes out the same through the public API", function()
    local rec = h.send(h.client(), "attach_to_candidate", h.args { candidate_id = "x y/z" })
    assert.equals("http://127.0.0.1:9/v1/ats/candidates/x%20y%2Fz/attachments", rec.url)
  end)

  it("comes out the same through the public API for applications", function()
    local rec = h.send(h.client(), "attach_to_application",
      h.args({ application_id = hex "C3 A9" .. "?" }, "application"))
    assert.equals("http://127.0.0.1:9/v1/ats/applications/%C3%A9%3F/attachments", rec.url)
  end)
end)
