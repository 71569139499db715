-- kombo-attach's row reports (--report, --report-failed): the same report as
-- kombo apply's (apply_spec.lua), with "uploaded" where kombo apply says
-- "created".  A line per row with its status, the attachment's id, the
-- error's code and message; the failed rows as a manifest that runs again;
-- unknown rows never in it; the writer in process (paths, quoting, formats).
local servers = require "support.servers"
local cli = require "cli.support"
local cjson = servers.cjson
local report = require "kombo.cli.report"
local manifest = require "kombo.cli.manifest"

local function has(s, pat) return (s or ""):find(pat, 1, true) ~= nil end

local function lines_of(text)
  local out = {}
  for l in (text or ""):gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

describe("kombo-attach --report #cli", function()
  it("a line per row: uploaded, existing (done before), failed, skipped (a duplicate), unknown", function()
    local dir = cli.dir({ ["docs/a.txt"] = "a", ["docs/b.txt"] = "b", ["m.csv"] = "candidate_id,file,type\n"
      .. "c1,docs/a.txt,CV\nscenario-error-422,docs/b.txt,CV\nc1,./docs/a.txt,CV\nscenario-close,docs/b.txt,OTHER\n" })
    local env = cli.env()
    local rc, out = cli.run({ "--timeout", "5", "--report", dir .. "/r.csv", dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "1 uploaded, 1 failed, 1 unknown, 1 duplicate rows"), out)
    local l = lines_of(cli.read(dir .. "/r.csv"))
    assert.equals("line,status,id,code,message", l[1])
    assert.truthy(l[2]:find("^2,uploaded,att_%d+,,$"), l[2])
    assert.truthy(l[3]:find("^3,failed,,REMOTE.INPUT_INVALID,The remote system rejected the input"), l[3])
    assert.equals("4,skipped,,,the same document to the same target as line 2: uploaded once", l[4])
    assert.truthy(l[5]:find("^5,unknown,,network,.*its upload went out whole"), l[5])
    assert.equals(5, #l)
    -- again, as JSON: the done row is existing, with its id from the journal
    rc = cli.run({ "--timeout", "5", "--report", dir .. "/r.json", dir .. "/m.csv" }, env)
    assert.equals(1, rc)
    local r = cjson.decode(cli.read(dir .. "/r.json"))
    assert.equals(4, #r)
    assert.same({ 2, "existing" }, { r[1].line, r[1].status })
    assert.truthy(r[1].id:find("^att_%d+$"))
    assert.truthy(r[1].message:find("journal", 1, true))
    cli.rmtree(dir)
  end)

  it("--report-failed: the failed rows as a CSV manifest, paths rewritten elsewhere; fed back, they upload", function()
    local dir = cli.dir({ ["docs/a.txt"] = "a", ["docs/b.txt"] = "b", ["out/.keep"] = "",
      ["m.csv"] = 'candidate_id,file,type,name\nc1,docs/a.txt,CV,"Doe, A.txt"\n'
        .. 'scenario-error-422,docs/b.txt,CV,"B ""quoted"".txt"\nscenario-close,docs/b.txt,OTHER,\n' })
    local env = cli.env()
    local rc, out = cli.run({ "--timeout", "5", "--report-failed", dir .. "/out/failed.csv", dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    -- only the refused row (the unknown one may have landed: never in it)
    assert.equals('candidate_id,file,type,name\nscenario-error-422,' .. dir .. '/docs/b.txt,CV,"B ""quoted"".txt"\n',
      cli.read(dir .. "/out/failed.csv"))
    -- in the manifest's directory, the row is as it was written
    rc = cli.run({ "--timeout", "5", "--journal", dir .. "/j2", "--report-failed", dir .. "/failed.csv",
                   dir .. "/m.csv" }, env)
    assert.equals(1, rc)
    assert.equals('candidate_id,file,type,name\nscenario-error-422,docs/b.txt,CV,"B ""quoted"".txt"\n',
      cli.read(dir .. "/failed.csv"))
    -- fixed and run from its own directory with a journal of its own
    cli.write(dir .. "/out/failed.csv", (cli.read(dir .. "/out/failed.csv"):gsub("scenario%-error%-422", "c2")))
    rc, out = cli.run({ "failed.csv" }, env, dir .. "/out")
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 uploaded"), out)
    local _, accepted = cli.uploads(env.KOMBO_INTEGRATION_ID)
    assert.equals(1, accepted['B "quoted".txt'])
    -- a report that cannot be written is found before anything is sent
    local before = #cli.uploads(env.KOMBO_INTEGRATION_ID)
    local rc2, _, err = cli.run({ "--report", dir .. "/no/such/r.csv", "--journal", dir .. "/j3", dir .. "/m.csv" }, env)
    assert.equals(2, rc2)
    assert.truthy(has(err, "--report " .. dir .. "/no/such/r.csv cannot be written"), err)
    assert.equals(before, #cli.uploads(env.KOMBO_INTEGRATION_ID))
    assert.is_nil(cli.read(dir .. "/j3"))
    -- nothing failed: a manifest of no rows (the header alone)
    cli.write(dir .. "/ok.csv", "candidate_id,file,type\nc3,docs/a.txt,CV\n")
    rc = cli.run({ "--report-failed", dir .. "/none.csv", dir .. "/ok.csv" }, env)
    assert.equals(0, rc)
    assert.equals("candidate_id,file,type\n", cli.read(dir .. "/none.csv"))
    cli.rmtree(dir)
  end)

  it("a dry run with bad rows reports them failed, and --report-failed holds just those", function()
    local dir = cli.dir({ ["a.txt"] = "a", ["m.jsonl"] = '{"candidate_id":"c1","file":"a.txt","type":"CV"}\n'
      .. '{"candidate_id":"c2","file":"missing.txt","type":"CV"}\n' })
    local rc = cli.run({ "--dry-run", "--report", dir .. "/r.jsonl", "--report-failed", dir .. "/bad.jsonl",
                         dir .. "/m.jsonl" }, cli.env())
    assert.equals(2, rc)
    local l = lines_of(cli.read(dir .. "/r.jsonl"))
    assert.same({ line = 1, status = "skipped", id = cjson.null, code = cjson.null,
                  message = "dry run: the row is good; nothing was sent" }, cjson.decode(l[1]))
    local bad = cjson.decode(l[2])
    assert.equals("failed", bad.status)
    assert.equals("validation", bad.code)
    assert.truthy(bad.message:find("missing.txt cannot be opened", 1, true))
    assert.equals('{"candidate_id":"c2","file":"missing.txt","type":"CV"}\n', cli.read(dir .. "/bad.jsonl"))
    cli.rmtree(dir)
  end)
end)

describe("the report writer #cli", function()
  it("knows a report's format by its extension and refuses a failed-rows name of the other format", function()
    assert.equals("csv", report.format_of("r.CSV"))
    assert.equals("json", report.format_of("x/r.json"))
    assert.equals("jsonl", report.format_of("r.ndjson"))
    assert.is_nil(report.format_of("r.txt"))
    assert.is_nil(report.format_of("csv"))
    assert.truthy(report.format_mismatch("f.csv", "jsonl"))
    assert.truthy(report.format_mismatch("f.jsonl", "csv"))
    assert.is_nil(report.format_mismatch("f.csv", "csv"))
    assert.is_nil(report.format_mismatch("failed", "jsonl"))
  end)

  it("quotes CSV cells that need it, and writes whole files only (no .tmp left)", function()
    assert.equals('"a,b"', report.csv_cell("a,b"))
    assert.equals('"say ""hi"""', report.csv_cell('say "hi"'))
    assert.equals('"two\nlines"', report.csv_cell("two\nlines"))
    assert.equals('" padded"', report.csv_cell(" padded"))
    assert.equals("", report.csv_cell(nil))
    local dir = cli.dir({})
    assert.is_true(report.write(dir .. "/r.csv", { 2, 3 }, function(line)
      return { line = line, status = "failed", message = "has a key: kombo_sk_secret_value_123" }
    end, "kombo_sk_secret_value_123"))
    assert.equals("line,status,id,code,message\n2,failed,,,has a key: <redacted>\n3,failed,,,has a key: <redacted>\n",
      cli.read(dir .. "/r.csv"))
    assert.is_nil(cli.read(dir .. "/r.csv.tmp"))
    assert.is_nil(report.write(dir .. "/no/such/dir/r.csv", { 2 }, function(line) return { line = line } end))
    cli.rmtree(dir)
  end)

  it("redacts the key in the failed rows too (a row is the user's, the key is not)", function()
    local KEY = "kombo_sk_secret_value_123"
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type,name\nc1,a.txt,CV,x" .. KEY .. ".txt\n",
                          ["m.jsonl"] = '{"candidate_id":"c1","file":"a.txt","type":"CV","name":"' .. KEY .. '"}\n' })
    for _, m in ipairs { "m.csv", "m.jsonl" } do
      local r = assert(manifest.open(dir .. "/" .. m))
      assert.is_true(report.write_rows(dir .. "/f-" .. m, r, { [1] = true, [2] = true }, { dir = dir, paths = {} }, KEY))
      r:close()
      local text = cli.read(dir .. "/f-" .. m)
      assert.is_nil(text:find(KEY, 1, true), text)
      assert.truthy(text:find("<redacted>", 1, true), text)
    end
    cli.rmtree(dir)
  end)

  it("rewrites a JSON Lines row's file paths in place, and nothing else of it", function()
    local dir = cli.dir({ ["m.jsonl"] = '{"cv":"a.pdf", "attachments":[{"file":"b.pdf","type":"CV"},'
      .. '{"file":"/abs/c.pdf"}],"remote_fields":{"file":"not a path"},"job_id":"j"}\n' })
    local r = assert(manifest.open(dir .. "/m.jsonl", { strings = false }))
    assert.is_true(report.write_rows(dir .. "/out.jsonl", r, { [1] = true },
      { dir = "/base", paths = { json = { "cv", "attachments.[].file" } } }))
    r:close()
    assert.equals('{"cv":"\\/base\\/a.pdf", "attachments":[{"file":"\\/base\\/b.pdf","type":"CV"},'
      .. '{"file":"/abs/c.pdf"}],"remote_fields":{"file":"not a path"},"job_id":"j"}\n', cli.read(dir .. "/out.jsonl"))
    cli.rmtree(dir)
  end)
end)
