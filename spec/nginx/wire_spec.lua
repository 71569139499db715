-- The bytes on the wire over cosockets, pinned by the same golden copies as
-- libcurl's (spec/support/wire.lua; spec/integration/wire_spec.lua): the
-- test app's /call_options runs each case inside nginx against badserver's
-- "capture" mode.  The requests are the same bytes as libcurl's but for
-- one header.
local S = require "nginx.support"
local badserver = require "support.badserver"
local wire = require "support.wire"

describe("the bytes on the wire, cosockets #nginx #wire", function()
  local APP, SRV, DIR, files, cases

  setup(function()
    S.ensure_lib51()
    local _
    _, APP = S.standin_and_app()
    SRV = badserver.start(60)
    DIR = S.tmpdir("wire-files")
    files, cases = wire.cases(DIR)
    for path, content in pairs(files) do S.write_file(path, content) end
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
    badserver.stop(SRV)
    if DIR then S.sh(("rm -rf '%s'"):format(DIR)) end
  end)

  it("every case's request, head and body, is its golden copy", function()
    local opts = { api_key = "wire-key", integration_id = "wire", server_url = badserver.url(SRV, "capture"),
                   retries = false }
    for _, case in ipairs(cases) do
      local r = S.json("POST", APP.url .. "/call_options",
        { method = case.method, args = case.args, opts = opts, call = case.opts or {} }, 60)
      assert(r.ok, case.name .. ": " .. require("cjson").encode(r))
    end
    local got = badserver.captured(SRV)
    assert.equals(#cases, #got)
    for i, case in ipairs(cases) do
      -- The one difference: the cosocket transport says keep-alive, last
      -- (libcurl leaves it to HTTP/1.1's default).
      local head_end = got[i]:find("\r\n\r\n", 1, true)
      assert.equals("\r\nConnection: keep-alive", got[i]:sub(head_end - 24, head_end - 1), case.name)
      wire.check(case.name, got[i]:sub(1, head_end - 25) .. got[i]:sub(head_end))
    end
  end)
end)
