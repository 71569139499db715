-- kombo-attach --json with an API key holding bytes that JSON escapes
-- ('"', '\', '/', control bytes, non-ASCII): wherever the key reaches the
-- output (the manifest's path, a server's echo), stdout is valid JSON and
-- neither stdout nor stderr holds 6 consecutive bytes of the key, as it is
-- or escaped.
local servers = require "support.servers"
local badserver = require "support.badserver"
local cli = require "cli.support"
local cjson = servers.cjson

local KEYS = {
  'kombo_sk"live\\Zq8/vN3rT6"yW1pL4x\\Q',
  'a"b\\c"d\\e"f\\g/h"i\\j"k\\l"m\\n', -- a special byte every other byte
}
local CONTROL_KEY = 'kombo_sk\tlive"\\Zq8\1vN3\195\169rT6\127yW1pL4x' -- not a header value: argv only

-- Six consecutive bytes of the key (ASCII case folded) in text, or nil.
local function key_run(text, key)
  -- (the variable's name, which a message may give, is not the key)
  text, key = text:gsub("KOMBO_API_KEY", "<variable>"):lower(), key:lower()
  for i = 1, #key - 5 do
    if text:find(key:sub(i, i + 5), 1, true) then return key:sub(i, i + 5) end
  end
end

local function check(out, err, key)
  assert.is_nil(key_run(out .. err, key), out .. err)
  local line = out:match("^[^\n]*")
  local ok, report = pcall(cjson.decode, line)
  assert.is_true(ok, "stdout is not JSON: " .. out)
  return report
end

describe("kombo-attach --json: no key bytes and valid JSON for any key #cli #secrets", function()
  local srv
  setup(function() srv = badserver.start(servers.UNDER_VALGRIND and 300 or 60) end)
  teardown(function() badserver.stop(srv) end)

  for i, key in ipairs { KEYS[1], KEYS[2], CONTROL_KEY } do
    it(("key %d as the manifest argument: in the report's manifest and error"):format(i), function()
      local rc, out, err = cli.run({ "--json", key }, cli.env({ KOMBO_API_KEY = key }))
      assert.equals(2, rc, out .. err)
      local report = check(out, err, key)
      assert.equals(2, report.exit)
      assert.equals("<redacted>", report.manifest)
      assert.truthy(report.error:find("<redacted>", 1, true), report.error)
    end)
  end

  for i, key in ipairs(KEYS) do
    it(("key %d in the manifest's path, refused by the stand-in (401)"):format(i), function()
      local dir = cli.dir({ [key .. "/m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\n", [key .. "/a.txt"] = "a" })
      local rc, out, err = cli.run({ "--json", dir .. "/" .. key .. "/m.csv" }, cli.env({ KOMBO_API_KEY = key }))
      assert.equals(2, rc, out .. err) -- a wrong key stops the run (exit 2)
      local report = check(out, err, key)
      assert.equals(1, report.counts.failed)
      assert.equals(401, report.failures[1].status)
      assert.equals(dir .. "/<redacted>/m.csv", report.manifest)
      cli.rmtree(dir)
    end)

    it(("key %d echoed JSON-escaped by the server: failures redacted"):format(i), function()
      local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\n", ["a.txt"] = "a" })
      local rc, out, err = cli.run({ "--json", dir .. "/m.csv" },
        cli.env({ KOMBO_API_KEY = key, KOMBO_SERVER_URL = badserver.url(srv, "echo-auth-escaped") }))
      assert.equals(2, rc, out .. err) -- a wrong key stops the run (exit 2)
      local report = check(out, err, key)
      local f = report.failures[1]
      assert.equals(401, f.status)
      assert.equals('The key <redacted> is invalid (<redacted>); you sent {"authorization":"Bearer <redacted>"}',
        f.message)
      assert.equals("https://app.kombo.dev/logs?key=<redacted>", f.log_url)
      cli.rmtree(dir)
    end)
  end
end)
