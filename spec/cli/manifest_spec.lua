-- kombo-attach's manifest reader and journal, in process: CSV quoting
-- (RFC 4180), JSON Lines, line numbers, row checks, keys, the torn line.
local manifest = require "kombo.cli.manifest"
local journal = require "kombo.cli.journal"
local core = require "kombo.core"
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
      local rows, err, dir = csv(text)
      cli.rmtree(dir)
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

  it("identity: the target and the document, not the path, the row's place or the content type", function()
    local dir = cli.dir({ ["a.txt"] = "hello", ["b.txt"] = "hello", ["c.txt"] = "other" })
    local function ids(text, d)
      cli.write(dir .. "/m.csv", text)
      local rows = assert(manifest.read(dir .. "/m.csv"))
      for _, r in ipairs(rows) do assert.same({}, manifest.check(r, { dir = d or dir, integration_id = "i" })) end
      local out = {}
      for i, r in ipairs(rows) do out[i] = r.id end
      return out
    end
    local a = ids("candidate_id,file,type,name\nc1,a.txt,CV,x.txt\nc2,a.txt,CV,x.txt\n")
    assert.truthy(a[1]:find("^%x+$"))
    assert.equals(32, #a[1])
    assert.are_not.equals(a[1], a[2]) -- another target
    local b = ids("candidate_id,file,type,name,content_type\nc2,b.txt,CV,x.txt,text/plain\nc1,./b.txt,CV,x.txt,a/b\n")
    assert.same({ a[2], a[1] }, b) -- the same bytes under another path, moved rows, another content type
    local c = ids("candidate_id,file,type,name\nc1,c.txt,CV,x.txt\nc1,a.txt,OTHER,x.txt\nc1,a.txt,CV,y.txt\n")
    for _, id in ipairs(c) do assert.are_not.equals(a[1], id) end -- other bytes, type or name
    assert.equals(a[1], manifest.identity("i", "candidate", "c1", "CV", "x.txt", "sha256:" .. core.sha256("hello")))
    cli.rmtree(dir)
  end)

  it("duplicates: a row that repeats an earlier identity is marked with that row's line", function()
    local dir = cli.dir({ ["a.txt"] = "hello", ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,a.txt,CV\n"
      .. "c1,a.txt,CV\n" })
    local rows = assert(manifest.read(dir .. "/m.csv"))
    for _, r in ipairs(rows) do manifest.check(r, { dir = dir, integration_id = "i" }) end
    assert.equals(1, manifest.mark_duplicates(rows))
    assert.is_nil(rows[1].duplicate_of)
    assert.is_nil(rows[2].duplicate_of)
    assert.equals(2, rows[3].duplicate_of)
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

  local function load(path)
    local text = cli.read(path) or ""
    local state, info = journal.parse(text, path)
    return state, info, text
  end

  it("a new journal gets its header; events are appended; the last one of an id wins", function()
    local path = dir .. "/j"
    local j = assert(journal.open(path, nil))
    local r1, r2 = { id = "a1", line = 2 }, { id = "b2", line = 3 }
    j:sending(r1, 1, 100)
    j:written(r1, 1, 100.5, 400)
    j:done(r1, "att 1")
    j:sending(r2, 1, 101)
    j:written(r2, 1, 101.25, 401)
    j:failed(r2, { kind = "network", outcome = "unknown" })
    j:close()
    assert.equals("kombo-attach journal 2\nsending a1 2 1 100.000\nwritten a1 2 1 100.500 400.000\n"
      .. "done a1 2 att_1\nsending b2 3 1 101.000\nwritten b2 3 1 101.250 401.000\nfailed b2 3 network unknown\n",
      cli.read(path))
    local state = assert(load(path))
    assert.equals("done", state.a1.event)
    assert.equals("att_1", state.a1.attachment)
    assert.equals("skip", journal.disposition(state.a1))
    assert.equals("unknown", state.b2.outcome)
    assert.equals(101.25, state.b2.written.time) -- the written record of the attempt it ends
    assert.equals(401, state.b2.written.deadline)
    assert.equals("settle", journal.disposition(state.b2))
  end)

  it("dispositions: only a request written whole without an answer is settled", function()
    local function last(lines)
      local state = assert(journal.parse("kombo-attach journal 2\n" .. table.concat(lines, "\n") .. "\n", "j"))
      return journal.disposition(state.x)
    end
    assert.equals("send", journal.disposition(nil))
    assert.equals("send", last({ "sending x 2 1 1" }))
    assert.equals("settle", last({ "sending x 2 1 1", "written x 2 1 2 3" }))
    assert.equals("send", last({ "sending x 2 1 1", "written x 2 1 2 3", "sending x 2 2 4" })) -- a retry: proven
    assert.equals("send", last({ "written x 2 1 2 3", "failed x 2 api rejected" }))
    assert.equals("settle", last({ "written x 2 1 2 3", "failed x 2 timeout unknown" }))
    assert.equals("skip", last({ "written x 2 1 2 3", "found x 2 att_9" }))
    -- a later call (another run, --resend-unknown) disproves nothing of the earlier one's
    assert.equals("settle", last({ "written x 2 1 2 3", "sending x 2 1 5" }))
    assert.equals("settle", last({ "written x 2 1 2 3", "sending x 2 1 5", "written x 2 1 6 7",
      "failed x 2 api rejected" }))
    assert.equals("settle", last({ "written x 2 1 2 3", "failed x 2 timeout unknown", "sending x 2 1 5",
      "written x 2 1 6 7", "sending x 2 2 8" }))
  end)

  it("a torn last line is ignored, and stays ignored after the next run appends", function()
    local path = dir .. "/j"
    cli.write(path, "kombo-attach journal 2\nwritten k 2 1 1 2\ndone k 2 att_00")
    local state, info, text = load(path)
    assert.truthy(info.torn)
    assert.equals("written", state.k.event)
    local j = assert(journal.open(path, text))
    j:found({ id = "k", line = 2 }, "att_007")
    j:close()
    state, info = load(path)
    assert.is_not_nil(state, info)
    assert.is_false(info.torn)
    assert.equals("found", state.k.event)
    assert.equals("kombo-attach journal 2\nwritten k 2 1 1 2\ndone k 2 att_00\ntorn\nfound k 2 att_007\n",
      cli.read(path))
  end)

  it("a journal cut off inside its header is completed, never truncated; another file is refused", function()
    local path = dir .. "/j"
    cli.write(path, "kombo-att")
    local state, _, text = load(path)
    assert.same({}, state)
    assert(journal.open(path, text)):close()
    assert.equals("kombo-attach journal 2\n", cli.read(path))
    cli.write(path, "candidate_id,file,type\n")
    local s2, err = load(path)
    assert.is_nil(s2)
    assert.truthy(err:find("is not a kombo-attach journal", 1, true))
    cli.write(path, "kombo-attach journal 2\nsending k 2 1 1\nrubbish here\ndone k 2 a\n")
    s2, err = load(path)
    assert.is_nil(s2)
    assert.truthy(err:find("line 3 is not a journal event", 1, true))
  end)

  it("format 1 is read: its events by their old keys, and a later run goes on in format 2", function()
    local path = dir .. "/j"
    cli.write(path, "kombo-attach journal 1\nstarted k.1 2\ndone k.1 2 att_1\nstarted k.2 3\n")
    local state, info, text = load(path)
    assert.same({}, state)
    assert.equals(1, info.format)
    assert.equals("done", info.v1["k.1"].event)
    assert.equals("started", info.v1["k.2"].event)
    local j = assert(journal.open(path, text, true))
    j:done({ id = "new", line = 3 }, "att_2")
    j:close()
    state, info = load(path)
    assert.equals("done", state.new.event)
    assert.equals("done", info.v1["k.1"].event)
  end)
end)
