-- What a new user trips on (issue 18): one message and a stop when the key or
-- the integration is wrong, errors that name what to fix (the environment
-- variable, the column), JSON Lines mistakes in plain words, an empty
-- manifest, feedback on Ctrl-C.
local servers = require "support.servers"
local cli = require "cli.support"

local function has(s, pat) return (s or ""):find(pat, 1, true) ~= nil end

local function count(s, pat)
  local n, i = 0, 0
  while true do
    i = (s or ""):find(pat, i + 1, true)
    if not i then return n end
    n = n + 1
  end
end

local function rows(n, candidate)
  local files, lines = { ["a.txt"] = "a" }, { "candidate_id,file,type,name" }
  for i = 1, n do lines[#lines + 1] = ("%s,a.txt,CV,doc-%02d.txt"):format(candidate or "c1", i) end
  files["m.csv"] = table.concat(lines, "\n") .. "\n"
  return cli.dir(files)
end

describe("kombo-attach: a wrong key or integration stops the run #cli", function()
  it("a wrong key: one message, exit 2, no new upload after the first answer", function()
    local dir = rows(20)
    local env = cli.env { KOMBO_API_KEY = "wrong-key-123456" }
    local rc, out, err = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(2, rc, out .. err)
    assert.equals(1, count(out, "failed: line"), out) -- not 20 identical lines
    assert.truthy(has(out, "stopped after the first answer: PLATFORM.AUTHENTICATION_INVALID"), out)
    assert.truthy(has(out, "check KOMBO_API_KEY"), out)
    assert.is_false(has(out .. err, "wrong-key-123456"))
    local posts = #cli.uploads(env.KOMBO_INTEGRATION_ID)
    assert.truthy(posts <= 4, posts .. " uploads were sent") -- the slow start's first four at most
    cli.rmtree(dir)
  end)

  it("a dry run with --preflight and a wrong key: one message naming the error, exit 2", function()
    local dir = rows(5)
    local env = cli.env { KOMBO_API_KEY = "wrong-key-123456" }
    local rc, out, err = cli.run({ "--dry-run", "--preflight", dir .. "/m.csv" }, env)
    assert.equals(2, rc, out .. err)
    assert.truthy(has(err, "PLATFORM.AUTHENTICATION_INVALID"), err)
    assert.equals(0, count(out, "line 3"), out) -- not every row called bad
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: errors name what to fix #cli", function()
  it("no key names KOMBO_API_KEY; a bad server URL names its source; no internals", function()
    local dir = rows(1)
    local rc, _, err = cli.run({ dir .. "/m.csv" }, cli.env { KOMBO_API_KEY = servers.NONE })
    assert.equals(2, rc)
    assert.truthy(has(err, "KOMBO_API_KEY"), err)
    assert.is_false(has(err, ".lua:"), err)
    rc, _, err = cli.run({ "--server-url", "notaurl", dir .. "/m.csv" }, cli.env())
    assert.equals(2, rc)
    assert.truthy(has(err, "--server-url"), err)
    assert.is_false(has(err, ".lua:") or has(err, "bad argument"), err)
    rc, _, err = cli.run({ dir .. "/m.csv" }, cli.env { KOMBO_SERVER_URL = "localhost:8080" })
    assert.equals(2, rc)
    assert.truthy(has(err, "KOMBO_SERVER_URL"), err)
    rc, _, err = cli.run({ "--dry-run", "--server-url", "ftp://x.example", dir .. "/m.csv" }, cli.env())
    assert.equals(2, rc, err) -- a dry run checks it too
    cli.rmtree(dir)
  end)

  it("JSON Lines mistakes in plain words with the column; a key given twice is a bad row", function()
    local dir = cli.dir({ ["a.txt"] = "a", ["m.jsonl"] = table.concat({
      '{"candidate_id":"c1","file":"a.txt","type":"CV",}',
      '{"candidate_id":"c2","file":"a.txt","type":"CV","type":"OTHER"}',
    }, "\n") .. "\n" })
    local rc, out = cli.run({ "--dry-run", dir .. "/m.jsonl" }, cli.env())
    assert.equals(2, rc, out)
    assert.truthy(has(out, "line 1: is not JSON: expected a key in double quotes, found } (column 49)"), out)
    assert.truthy(has(out, 'line 2: has the key "type" twice'), out)
    assert.is_false(has(out, "T_OBJ_END"), out)
    cli.rmtree(dir)
  end)

  it("a manifest with a header and no rows is an error, not 'all 0 rows are good'", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\n" })
    local rc, out, err = cli.run({ "--dry-run", dir .. "/m.csv" }, cli.env())
    assert.equals(2, rc, out)
    assert.truthy(has(err, "has no rows"), err)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: Ctrl-C says what it does #cli", function()
  it("the first SIGINT says the uploads in flight will finish and how to abort them #slow", function()
    local dir = rows(8, "scenario-hold-600")
    local env = cli.env()
    local h = cli.spawn({ "--concurrency", "2", dir .. "/m.csv" }, env)
    assert.truthy(cli.wait_for(function() return cli.count_lines(dir .. "/m.csv.journal", "^written ") >= 2 end,
      20), "no upload went out")
    cli.signal(h, "INT")
    local rc, out, err = cli.wait(h, 20)
    assert.equals(130, rc, tostring(out) .. tostring(err))
    assert.truthy(has(err, "stopping: "), err)
    assert.truthy(has(err, "press Ctrl-C again to abort them"), err)
    cli.rmtree(dir)
  end)
end)
