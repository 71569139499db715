-- The bytes on the wire over libcurl, pinned by golden copies
-- (spec/support/wire.lua says why and how; spec/nginx/wire_spec.lua holds
-- the cosocket transport to the same copies).
local badserver = require "support.badserver"
local sys = require "support.sys"
local wire = require "support.wire"
local kombo = require "kombo"

describe("the bytes on the wire, libcurl #integration #wire", function()
  local srv, dir, files, cases

  setup(function()
    srv = badserver.start(60)
    dir = os.tmpname()
    os.remove(dir)
    assert(sys.sh(("mkdir -p '%s'"):format(dir)))
    files, cases = wire.cases(dir)
    for path, content in pairs(files) do
      local f = assert(io.open(path, "wb"))
      f:write(content)
      f:close()
    end
  end)

  teardown(function()
    badserver.stop(srv)
    if dir then sys.sh(("rm -rf '%s'"):format(dir)) end
  end)

  it("every case's request, head and body, is its golden copy", function()
    local client = kombo.new { api_key = "wire-key", integration_id = "wire",
                               server_url = badserver.url(srv, "capture"), transport = "curl", retries = false }
    for _, case in ipairs(cases) do
      local res, err = client[case.method](client, case.args, case.opts)
      assert(res, case.name .. ": " .. tostring(err))
    end
    client:close()
    local got = badserver.captured(srv)
    assert.equals(#cases, #got)
    for i, case in ipairs(cases) do wire.check(case.name, got[i]) end
  end)
end)
