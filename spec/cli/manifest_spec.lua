-- kombo-attach's manifest reader and journal, in process: CSV quoting
-- (RFC 4180), JSON Lines, line numbers, row checks, keys, the torn line.
local manifest = require "kombo.cli.manifest"
local journal = require "kombo.cli.journal"
local cli = require "cli.support"

local function csv(text)
  local dir = cli.dir({ ["m.csv"] = text, ["a.txt"] = "hello", ["sub/b.txt"] = "bee" })
  local rows, fmt = manifest.read(dir .. "/m.csv")
  return rows, fmt, dir
end

describe("kombo-attach manifest: CSV #cli", function()
  it("quoted fields keep commas, doubled quotes and line breaks; line numbers count physical lines", function()
    local rows, fmt, dir = csv('candidate_id,file,type,name\r\n'
      .. 'c1,a.txt,CV,"Doe, Frank ""the"" CV.pdf"\r\n'
      .. 'c2,a.txt,CV,"two\nlines"\n'
      .. '\n'
      .. '"c3",sub/b.txt,OTHER,\n')
    assert.equals("csv", fmt)
    assert.equals(3, #rows)
    assert.same({ candidate_id = "c1", file = "a.txt", type = "CV", name = 'Doe, Frank "the" CV.pdf' }, rows[1].fields)
    assert.equals(2, rows[1].line)
    assert.equals("two\nlines", rows[2].fields.name)
    assert.equals(3, rows[2].line)
    assert.equals(6, rows[3].line) -- after the two-line field and the blank line
    assert.is_nil(rows[3].fields.name) -- an empty cell is absent
    assert.equals("c3", rows[3].fields.candidate_id)
    cli.rmtree(dir)
  end)

  it("malformed quoting is a manifest error with its line", function()
    for text, want in pairs {
      ['candidate_id,file,type\nc1,a.txt,"CV\n'] = "line 2: a quoted field is never closed",
      ['candidate_id,file,type\nc1,a.txt,"CV"x\n'] = "line 2: text after the closing quote",
      ['candidate_id,file,type\nc1,a"b.txt,CV\n'] = "line 2: a quote inside an unquoted field",
      ['candidate_id,file,kind\n'] = 'line 1: unknown column "kind"',
      ['candidate_id,type\n'] = "line 1: the header needs the columns",
      [''] = "the manifest is empty",
    } do
      local rows, err = csv(text)
      assert.is_nil(rows)
      assert.truthy(err:find(want, 1, true), err)
    end
  end)

  it("checks rows: relative paths from the manifest's directory, absolute ones as they are", function()
    local rows, _, dir = csv("candidate_id,file,type\nc1,sub/b.txt,CV\nc2," .. "ABS" .. ",CV\n")
    rows[2].fields.file = dir .. "/a.txt"
    local ctx = { dir = dir, integration_id = "i1" }
    assert.same({}, manifest.check(rows[1], ctx))
    assert.same({}, manifest.check(rows[2], ctx))
    assert.equals(dir .. "/sub/b.txt", rows[1].job.body.attachment.file)
    assert.equals("b.txt", rows[1].job.body.attachment.name)
    assert.equals(3, rows[1].size)
    assert.equals(dir .. "/a.txt", rows[2].job.body.attachment.file)
    assert.equals("i1", rows[1].job.integration_id)
    cli.rmtree(dir)
  end)

  it("checks rows: a file that is not a regular one is a reason naming what it is, with no read", function()
    local rows, _, dir = csv("candidate_id,file,type\nc1,/dev/zero,CV\nc2,sub,CV\nc3,a.txt,CV\n")
    local ctx = { dir = dir, integration_id = "i1" }
    assert.same({ "file /dev/zero is a character device, not a regular file" }, manifest.check(rows[1], ctx))
    assert.same({ "file sub is a directory, not a regular file" }, manifest.check(rows[2], ctx))
    assert.same({}, manifest.check(rows[3], ctx))
    assert.equals(5, rows[3].size)
    cli.rmtree(dir)
  end)

  it("keys: identical rows are told apart, a moved row keeps its key, an edited one gets another", function()
    local dir = cli.dir({ ["a.txt"] = "hello" })
    local function keys(text) -- the same directory: a file's key is its absolute path
      cli.write(dir .. "/m.csv", text)
      local rows = assert(manifest.read(dir .. "/m.csv"))
      for _, r in ipairs(rows) do manifest.check(r, { dir = dir, integration_id = "i" }) end
      manifest.assign_keys(rows)
      local out = {}
      for i, r in ipairs(rows) do out[i] = r.key end
      return out
    end
    local a = keys("candidate_id,file,type\nc1,a.txt,CV\nc1,a.txt,CV\nc2,a.txt,CV\n")
    assert.truthy(a[1]:find("^%x+%.1$"))
    assert.equals(a[1]:gsub("%.1$", ".2"), a[2])
    local b = keys("candidate_id,file,type\nc2,a.txt,CV\nc1,a.txt,CV\n")
    assert.equals(a[3], b[1])
    assert.equals(a[1], b[2])
    local c = keys("candidate_id,file,type\nc2,a.txt,OTHER\n")
    assert.are_not.equal(a[3], c[1])
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach manifest: JSON Lines #cli", function()
  it("one object a line; null is absent; blank lines skipped; bad lines are bad rows with their line", function()
    local dir = cli.dir({ ["m.jsonl"] = '{"candidate_id":"c1","file":"a.txt","type":"CV","name":null}\n'
      .. '\n'
      .. '{"application_id":"a1","data_url":"https://x.example/cv.pdf","type":"CV","name":"cv.pdf"}\r\n'
      .. '[1,2]\n'
      .. '{"candidate_id":7}\n'
      .. '{"candidate_id":"c","colour":"red"}\n'
      .. '{not json\n' })
    local rows, fmt = manifest.read(dir .. "/m.jsonl")
    assert.equals("jsonl", fmt)
    assert.equals(6, #rows)
    assert.same({ candidate_id = "c1", file = "a.txt", type = "CV" }, rows[1].fields)
    assert.equals(3, rows[2].line)
    assert.equals("a1", rows[2].fields.application_id)
    assert.equals("is not a JSON object", rows[3].shape)
    assert.equals("candidate_id must be a string, got number", rows[4].shape)
    assert.truthy(rows[5].shape:find('unknown key "colour"', 1, true))
    assert.truthy(rows[6].shape:find("^is not JSON"))
    assert.equals(7, rows[6].line)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach journal #cli", function()
  local dir
  before_each(function() dir = cli.dir() end)
  after_each(function() cli.rmtree(dir) end)

  it("a missing journal is empty; events are appended and the last one of a key wins", function()
    local path = dir .. "/j"
    local state, info = journal.load(path)
    assert.same({}, state)
    local j = assert(journal.open(path, info))
    j:started({ key = "k.1", line = 2 })
    j:done({ key = "k.1", line = 2 }, "att 1")
    j:started({ key = "k.2", line = 3 })
    j:failed({ key = "k.2", line = 3 }, { kind = "network", outcome = "unknown" })
    j:close()
    assert.equals("kombo-attach journal 1\nstarted k.1 2\ndone k.1 2 att_1\nstarted k.2 3\n"
      .. "failed k.2 3 network unknown\n", cli.read(path))
    state = assert(journal.load(path))
    assert.equals("done", state["k.1"].event)
    assert.equals("att_1", state["k.1"].id)
    assert.equals("unknown", state["k.2"].outcome)
  end)

  it("a torn last line is ignored, and stays ignored after the next run appends", function()
    local path = dir .. "/j"
    cli.write(path, "kombo-attach journal 1\nstarted k.1 2\ndone k.1 2 att_00")
    local state, info = journal.load(path)
    assert.truthy(info.torn)
    assert.equals("started", state["k.1"].event)
    local j = assert(journal.open(path, info))
    j:found({ key = "k.1", line = 2 })
    j:close()
    state, info = journal.load(path)
    assert.is_not_nil(state, info)
    assert.is_false(info.torn)
    assert.equals("found", state["k.1"].event)
    assert.equals("kombo-attach journal 1\nstarted k.1 2\ndone k.1 2 att_00\ntorn\nfound k.1 2\n", cli.read(path))
  end)

  it("a journal cut off inside its header starts afresh; another file is refused", function()
    local path = dir .. "/j"
    cli.write(path, "kombo-att")
    local state, info = journal.load(path)
    assert.same({}, state)
    assert(journal.open(path, info)):close()
    assert.equals("kombo-attach journal 1\n", cli.read(path))
    cli.write(path, "candidate_id,file,type\n")
    local s2, err = journal.load(path)
    assert.is_nil(s2)
    assert.truthy(err:find("is not a kombo-attach journal", 1, true))
    cli.write(path, "kombo-attach journal 1\nstarted k.1 2\nrubbish here\ndone k.1 2 a\n")
    s2, err = journal.load(path)
    assert.is_nil(s2)
    assert.truthy(err:find("line 3 is not a journal event", 1, true))
  end)
end)
