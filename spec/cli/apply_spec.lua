-- kombo apply end to end: bin/kombo as a subprocess against the local
-- Kombo stand-in, what it received read back with GET /_requests.  Rows
-- from CSV and JSON Lines, their files streamed, ATS.APPLICATION_ALREADY_EXISTS
-- as existing, dry runs that send nothing, preflight, the settle of rows
-- with no answer (found, lagging lists, unknown), the row reports and the
-- failed rows fed back, exit codes 0/1/2/130, the key in no output.
local servers = require "support.servers"
local cli = require "cli.support"
local cjson = servers.cjson
local socket = require "socket"

local function has(s, pat) return (s or ""):find(pat, 1, true) ~= nil end

local function apply(args, env, cwd, seconds, stdin)
  local argv = { "apply" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return cli.kombo(argv, env, cwd, seconds, stdin)
end

local function control(method, path, body)
  local status, _, text = servers.http(method, servers.standin_url() .. path,
    { ["content-type"] = "application/json" }, body or "")
  assert(status == 200, path .. ": " .. tostring(status) .. " " .. tostring(text))
  return text
end

-- The creates the stand-in received for an integration, per email (lower
-- case): posts, accepted (200) and refused as existing (409), the last
-- accepted record.
local function creates(integ)
  local per, n = {}, 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "POST" and rec.operation == "PostAtsJobsJobIdApplications" then
      local c = type(rec.json) == "table" and rec.json.candidate
      local email = tostring(type(c) == "table" and c.email_address or "?"):lower()
      local e = per[email] or { posts = 0, accepted = 0, exists = 0 }
      per[email] = e
      e.posts = e.posts + 1
      local st = type(rec.response) == "table" and rec.response.status
      if st == 200 then e.accepted, e.rec, n = e.accepted + 1, rec, n + 1 end
      if st == 409 then e.exists = e.exists + 1 end
    end
  end
  return per, n
end

local function posts(integ)
  local n = 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "POST" then n = n + 1 end
  end
  return n
end

local CSV_HEAD = "job_id,first_name,last_name,email_address,phone_number,cv,cover_letter,location.city,location.country\n"

local function sample()
  return cli.dir({
    ["docs/ada.pdf"] = "%PDF-1.4 Ada's CV\n", ["docs/alan.pdf"] = "%PDF-1.4 Alan's CV\n",
    ["docs/letter.txt"] = "Dear hiring manager,\n",
    ["m.csv"] = CSV_HEAD
      .. "job-1,Ada,Lovelace,ada@example.com,+44 20 1,docs/ada.pdf,docs/letter.txt,London,GB\n"
      .. 'job-2,Alan,"Turing, A.",Alan@Example.com,,docs/alan.pdf,,,\n',
  })
end

-- A row of the journal for a create written whole with no answer, `ago` seconds ago.
local function written_line(id, line, ago)
  local t = os.time() - ago
  return ("sending %s %d 1 %d\nwritten %s %d 1 %d %d\n"):format(id, line, t, id, line, t, t + 1)
end

local function identity(integ, job, email)
  return require("kombo.cli.apply").identity(integ, job, email)
end

describe("kombo apply: the command #cli", function()
  it("kombo --help lists apply; kombo apply --help prints its usage; --version", function()
    local rc, out = cli.kombo({ "--help" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("\n  apply MANIFEST ", 1, true), out)
    rc, out = apply({ "--help" }, cli.env())
    assert.equals(0, rc)
    assert.equals(require("kombo.cli.apply").USAGE, out)
    for _, option in ipairs { "--dry-run", "--preflight", "--report FILE", "--report-failed FILE",
                              "--resend-unknown", "--journal FILE", "--concurrency N" } do
      assert.truthy(has(out, option), option)
    end
    rc, out = cli.kombo({ "help", "apply" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("^Usage: kombo apply"), out)
    rc, out = apply({ "--version" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("^kombo apply %(kombo%-lua%) %d+%.%d+%.%d+\n$"), out)
  end)
end)

describe("kombo apply --dry-run #cli", function()
  it("checks every row with the library's validation and sends nothing (no key needed)", function()
    local dir = sample()
    cli.write(dir .. "/bad.csv", CSV_HEAD
      .. "job-1,Ada,Lovelace,ada@example.com,,docs/ada.pdf,,,\n"
      .. "job-1,No,Email,,,docs/ada.pdf,,,\n"
      .. "job-1,Bad,Email,not-an-email,,docs/ada.pdf,,,\n"
      .. "job-1,Missing,File,m@example.com,,docs/missing.pdf,,,\n"
      .. ",No,Job,j@example.com,,,,,\n"
      .. "job-1,No,Country,c@example.com,,,,Paris,\n"
      .. "job-1,Phone,Number,p@example.com,12,docs/ada.pdf,docs,,\n")
    local env = cli.env({ KOMBO_API_KEY = servers.NONE })
    local rc, out, err = apply({ "--dry-run", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(out, "all 2 rows are good (dry run: nothing was sent)"), out)
    rc, out = apply({ "--dry-run", dir .. "/bad.csv" }, env)
    assert.equals(2, rc, out)
    assert.truthy(has(out, "6 of 7 rows are bad (nothing was sent)"), out)
    assert.truthy(has(out, "line 3: has no email_address"), out)
    assert.truthy(has(out, 'line 4: email_address must be an email address (got "not-an-email")'), out)
    assert.truthy(has(out, "line 5: cv " .. dir .. "/docs/missing.pdf: cannot be opened: No such file"), out)
    assert.truthy(has(out, "line 6: has no job_id"), out)
    assert.truthy(has(out, "line 7: location.country is required"), out)
    assert.truthy(has(out, "line 8: cover_letter "), out) -- a directory
    assert.is_false(has(out, "line 2:"))
    assert.equals(0, #servers.requests(cli.env().KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("a header with a column that is no field of the candidate or of the application is refused (exit 2)", function()
    local dir = cli.dir({ ["m.csv"] = "job_id,email_address,first_nmae,location,cv\njob-1,a@example.com,A,x,\n",
                          ["n.csv"] = "job_id,first_name\njob-1,A\n" })
    local rc, _, err = apply({ "--dry-run", dir .. "/m.csv" }, cli.env())
    assert.equals(2, rc, err)
    assert.truthy(has(err, 'unknown column "first_nmae"'), err)
    assert.truthy(has(err, 'column "location" is a field that a CSV cell cannot give'), err)
    rc, _, err = apply({ "--dry-run", dir .. "/n.csv" }, cli.env())
    assert.equals(2, rc, err)
    assert.truthy(has(err, "the header needs the columns job_id and email_address"), err)
    cli.rmtree(dir)
  end)

  it("--preflight checks the documents against ats_create_application's restrictions, once per integration",
    function()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    control("POST", "/_restrictions?integration=" .. integ .. "&target=create_application", cjson.encode {
      types = { CV = { is_supported = true, max_file_size_bytes = 20, accepted_mime_types = cjson.null,
                       min_amount = cjson.null, max_amount = 1 },
                COVER_LETTER = { is_supported = false } } })
    local dir = sample()
    local rc, out = apply({ "--dry-run", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out) -- without --preflight the rows are fine
    rc, out = apply({ "--dry-run", "--preflight", dir .. "/m.csv" }, env)
    assert.equals(2, rc, out)
    assert.truthy(has(out, "1 of 2 rows are bad"), out)
    assert.truthy(out:find("line 2: preflight: cover_letter%.type COVER_LETTER is not supported"), out)
    local recs = servers.requests(integ)
    assert.equals(1, #recs) -- one fetch of the restrictions, no create
    assert.equals("ats_create_application", recs[1].route)
    -- a real run with --preflight refuses the row before sending it: failed, not sent
    rc, out = apply({ "--preflight", "--report-failed", dir .. "/failed.csv", dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "1 created, 1 failed"), out)
    assert.truthy(has(out, "failed: line 2: validation"), out)
    local per = creates(integ)
    assert.is_nil(per["ada@example.com"])
    assert.equals(1, per["alan@example.com"].accepted)
    assert.equals(CSV_HEAD .. "job-1,Ada,Lovelace,ada@example.com,+44 20 1,docs/ada.pdf,docs/letter.txt,London,GB\n",
      cli.read(dir .. "/failed.csv"))
    cli.rmtree(dir)
  end)
end)

describe("kombo apply: applications #cli", function()
  it("CSV: one application per row, the candidate's fields and the files as sent, exit 0; a rerun is done", function()
    local dir = sample()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local rc, out, err = apply({ "m.csv" }, env, dir)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(out, "2 rows: 2 created"), out)
    local per = creates(integ)
    local ada = per["ada@example.com"].rec
    assert.truthy(ada.path:find("/ats/jobs/job%-1/applications$"), ada.path)
    assert.same({ first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com",
                  phone_number = "+44 20 1", location = { city = "London", country = "GB" } }, ada.json.candidate)
    local a = ada.json.attachments
    assert.equals(2, #a)
    assert.same({ "ada.pdf", "CV", "application/pdf" }, { a[1].name, a[1].type, a[1].content_type })
    assert.equals(require("kombo").base64("%PDF-1.4 Ada's CV\n"), a[1].data) -- the file's bytes, streamed
    assert.same({ "letter.txt", "COVER_LETTER" }, { a[2].name, a[2].type })
    assert.equals("Turing, A.", per["alan@example.com"].rec.json.candidate.last_name)
    local journal = cli.read(dir .. "/m.csv.journal")
    assert.truthy(journal:find("^kombo apply journal 1\n"), journal)
    assert.equals(2, cli.count_lines(dir .. "/m.csv.journal", "^done %x+ %d app_%d+$"))
    rc, out = apply({ "m.csv" }, env, dir)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "0 created, 2 done before (journal)"), out)
    assert.equals(2, posts(integ))
    cli.rmtree(dir)
  end)

  it("JSON Lines: any member of the body, screening answers with files, fields beside the candidate", function()
    local dir = cli.dir({ ["cv.pdf"] = "%PDF-1.4 cv\n", ["sample.md"] = "# work\n", ["m.jsonl"] = table.concat({
      '{"job_id":"job-1","candidate":{"first_name":"Jo","last_name":"March","email_address":"jo@example.com"},'
        .. '"phone_number":"+1 5","attachments":[{"file":"cv.pdf","type":"CV"}],'
        .. '"screening_question_answers":[{"question_id":"q-demo-text","answer":"Yes"},'
        .. '{"question_id":"q-demo-file","answer":{"file":"sample.md"}}],"stage_id":"stage-2"}',
      '{"job_id":"job-1","first_name":"Meg","last_name":"March","email_address":"meg@example.com","cv":"cv.pdf",'
        .. '"gdpr_consent":{"expires_at":"2030-01-01T00:00:00Z","given":true}}',
    }, "\n") .. "\n" })
    local env = cli.env()
    local rc, out, err = apply({ "--json", dir .. "/m.jsonl" }, env)
    assert.equals(0, rc, out .. err)
    local report = cjson.decode(out)
    assert.equals(2, report.counts.created)
    assert.equals("created", report.results[1].status)
    assert.truthy(report.results[1].id:find("^app_"))
    local per = creates(env.KOMBO_INTEGRATION_ID)
    local jo = per["jo@example.com"].rec.json
    assert.equals("+1 5", jo.candidate.phone_number)
    assert.equals("stage-2", jo.stage_id)
    assert.equals("cv.pdf", jo.attachments[1].name)
    assert.equals("Yes", jo.screening_question_answers[1].answer)
    assert.equals("sample.md", jo.screening_question_answers[2].answer.name)
    assert.is_string(jo.screening_question_answers[2].answer.data)
    assert.is_true(per["meg@example.com"].rec.json.gdpr_consent.given)
    cli.rmtree(dir)
  end)

  it("ATS.APPLICATION_ALREADY_EXISTS is existing, not a failure: exit 0, journaled, not sent again", function()
    local dir = sample()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    assert.equals(0, (apply({ "--journal", dir .. "/first", dir .. "/m.csv" }, env)))
    local rc, out = apply({ "--report", dir .. "/r.csv", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "0 created, 2 existing (ATS.APPLICATION_ALREADY_EXISTS)"), out)
    assert.is_false(has(out, "failed"))
    assert.equals(2, cli.count_lines(dir .. "/m.csv.journal", "^existing %x+ %d %-$"))
    local r = cli.read(dir .. "/r.csv")
    assert.truthy(r:find("\n2,existing,,ATS.APPLICATION_ALREADY_EXISTS,The candidate ada@example.com has already "
      .. "applied", 1, true), r)
    rc, out = apply({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "2 done before (journal)"), out)
    local per = creates(integ)
    assert.same({ 2, 1, 1 }, { per["ada@example.com"].posts, per["ada@example.com"].accepted,
                               per["ada@example.com"].exists })
    cli.rmtree(dir)
  end)

  it("rows of one application (same job and email, any case) are sent once; the others are duplicates", function()
    local dir = sample()
    cli.write(dir .. "/m.csv", CSV_HEAD .. "job-1,Ada,L,ada@example.com,,,,,\njob-1,Ada,L,ADA@Example.com,,,,,\n"
      .. "job-2,Ada,L,ada@example.com,,,,,\n")
    local env = cli.env()
    local rc, out = apply({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "2 created, 1 duplicate rows"), out)
    assert.truthy(has(out, "line 3: the same application (integration, job and email_address) as line 2"), out)
    cli.rmtree(dir)
  end)

  it("a create with no answer is unknown (exit 1), not failed: never in the failed rows", function()
    local dir = sample()
    cli.write(dir .. "/m.csv", CSV_HEAD .. "scenario-close,Ada,L,ada@example.com,,,,,\n"
      .. "scenario-error-422,Alan,T,alan@example.com,,,,,\n")
    local env = cli.env()
    local rc, out = apply({ "--report", dir .. "/r.json", "--report-failed", dir .. "/f.csv", "--timeout", "5",
                            dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "0 created, 1 failed, 1 unknown"), out)
    assert.truthy(has(out, "unknown: line 2: its application went out whole and no answer said what became of it"),
      out)
    local r = cjson.decode(cli.read(dir .. "/r.json"))
    assert.same({ line = 2, status = "unknown", id = cjson.null, code = "network" },
      { line = r[1].line, status = r[1].status, id = r[1].id, code = r[1].code })
    assert.equals("failed", r[2].status)
    assert.equals(CSV_HEAD .. "scenario-error-422,Alan,T,alan@example.com,,,,,\n", cli.read(dir .. "/f.csv"))
    assert.equals(1, cli.count_lines(dir .. "/m.csv.journal", "^failed %x+ 2 network unknown$"))
    cli.rmtree(dir)
  end)
end)

describe("kombo apply: rows with no answer are settled before anything is sent #cli", function()
  it("an application the candidate's listing shows is existing (found); none leaves the row unknown", function()
    local dir = sample()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local ada, alan = identity(integ, "job-1", "ada@example.com"), identity(integ, "job-2", "alan@example.com")
    -- Ada's went out whole and landed (sent here with another journal); Alan's went out and did not land
    cli.write(dir .. "/ada.csv", CSV_HEAD .. "job-1,Ada,Lovelace,ada@example.com,,,,,\n")
    assert.equals(0, (apply({ dir .. "/ada.csv" }, env)))
    cli.write(dir .. "/m.csv.journal", "kombo apply journal 1\n" .. written_line(ada, 2, 5) .. written_line(alan, 3, 5))
    local rc, out, err = apply({ "--report", dir .. "/r.csv", dir .. "/m.csv" }, env)
    assert.equals(1, rc, out .. err)
    assert.truthy(has(out, "0 created, 1 found (settled), 1 unknown"), out)
    assert.truthy(has(out, "unknown: line 3: its application went out whole and got no answer; no application of "
      .. "alan@example.com to job job-2 is listed"), out)
    assert.truthy(has(out, "--resend-unknown"), out)
    assert.truthy(cli.read(dir .. "/r.csv"):find('\n2,existing,app_%d+,,"listed, created after the request was written"\n'),
      cli.read(dir .. "/r.csv"))
    assert.truthy(cli.read(dir .. "/r.csv"):find("\n3,unknown,,,", 1, true))
    assert.equals(1, cli.count_lines(dir .. "/m.csv.journal", "^found " .. ada .. " 2 app_%d+$"))
    local per = creates(integ)
    assert.equals(1, per["ada@example.com"].posts)
    assert.is_nil(per["alan@example.com"]) -- not sent
    -- a rerun settles it again (still nothing), and does not send it
    rc, out = apply({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "1 done before (journal), 1 unknown"), out)
    assert.is_nil(creates(integ)["alan@example.com"])
    -- --resend-unknown sends it
    rc, out = apply({ "--resend-unknown", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 created, 1 done before (journal)"), out)
    assert.equals(1, creates(integ)["alan@example.com"].accepted)
    cli.rmtree(dir)
  end)

  it("Kombo's lists lag a create: unknown while the list has not synced, existing once it has", function()
    local dir = sample()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    control("POST", "/_sync?integration=" .. integ .. "&lag=3")
    local ada = identity(integ, "job-1", "ada@example.com")
    cli.write(dir .. "/ada.csv", CSV_HEAD .. "job-1,Ada,Lovelace,ada@example.com,,,,,\n")
    assert.equals(0, (apply({ dir .. "/ada.csv" }, env)))
    local t0 = socket.gettime()
    cli.write(dir .. "/m.csv", CSV_HEAD .. "job-1,Ada,Lovelace,ada@example.com,,,,,\n")
    cli.write(dir .. "/m.csv.journal", "kombo apply journal 1\n" .. written_line(ada, 2, 2))
    local rc, out = apply({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "1 unknown"), out)
    assert.truthy(has(out, "after the next sync"), out)
    socket.sleep(math.max(0, 3.2 - (socket.gettime() - t0)))
    rc, out = apply({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "0 created, 1 found (settled)"), out)
    assert.equals(1, creates(integ)["ada@example.com"].posts) -- sent once, by the first run
    control("DELETE", "/_sync?integration=" .. integ)
    cli.rmtree(dir)
  end)

  it("a candidates listing that fails leaves the row unknown, with the reason", function()
    local dir = sample()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    control("POST", "/_lists?integration=" .. integ .. "&page=1&scenario=error-422&times=5")
    cli.write(dir .. "/m.csv", CSV_HEAD .. "job-1,Ada,Lovelace,ada@example.com,,,,,\n")
    cli.write(dir .. "/m.csv.journal", "kombo apply journal 1\n" .. written_line(identity(integ, "job-1",
      "ada@example.com"), 2, 5))
    local rc, out = apply({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "unknown: line 2: its application went out whole and got no answer; the candidates could "
      .. "not be listed"), out)
    assert.equals(0, posts(integ))
    control("DELETE", "/_lists?integration=" .. integ)
    cli.rmtree(dir)
  end)
end)

describe("kombo apply: row reports #cli", function()
  it("--report as CSV, JSON and JSON Lines: a line per row with its status, id, code and message", function()
    local dir = sample()
    cli.write(dir .. "/m.csv", CSV_HEAD .. "job-1,Ada,L,ada@example.com,,,,,\n"
      .. "scenario-error-422,Alan,T,alan@example.com,,,,,\njob-1,Ada,L,ada@example.com,,,,,\n")
    local env = cli.env()
    local rc = apply({ "--journal", dir .. "/j1", "--report", dir .. "/r.csv", dir .. "/m.csv" }, env)
    assert.equals(1, rc)
    local text = cli.read(dir .. "/r.csv")
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equals("line,status,id,code,message", lines[1])
    assert.truthy(lines[2]:find("^2,created,app_%d+,,$"), lines[2])
    assert.truthy(lines[3]:find("^3,failed,,REMOTE.INPUT_INVALID,The remote system rejected the input"), lines[3])
    assert.truthy(lines[4]:find("^4,skipped,,,\"the same application %(integration, job and email_address%) as "
      .. "line 2: sent once\"$"), lines[4])
    assert.equals(4, #lines)
    rc = apply({ "--journal", dir .. "/j1", "--report", dir .. "/r.json", dir .. "/m.csv" }, env)
    assert.equals(1, rc)
    local r = cjson.decode(cli.read(dir .. "/r.json"))
    assert.equals(3, #r)
    assert.same({ 2, "existing" }, { r[1].line, r[1].status })
    assert.truthy(r[1].id:find("^app_"))
    assert.equals("failed", r[2].status)
    rc = apply({ "--journal", dir .. "/j1", "--report", dir .. "/r.jsonl", dir .. "/m.csv" }, env)
    assert.equals(1, rc)
    local n = 0
    for l in cli.read(dir .. "/r.jsonl"):gmatch("[^\n]+") do n = n + 1; assert.is_table(cjson.decode(l)) end
    assert.equals(3, n)
    -- a report's name says its format; a dry run reports too
    local _, _, err = apply({ "--report", dir .. "/r.txt", dir .. "/m.csv" }, env)
    assert.truthy(has(err, "--report' must name a .csv, .json or .jsonl file"), err)
    rc = apply({ "--dry-run", "--report", dir .. "/d.csv", dir .. "/m.csv" }, env)
    assert.equals(0, rc)
    assert.truthy(cli.read(dir .. "/d.csv"):find("\n2,skipped,,,dry run: the row is good; nothing was sent\n", 1, true))
    cli.rmtree(dir)
  end)

  it("--report-failed writes the failed rows as a manifest: fixed and fed back, they are created", function()
    local dir = cli.dir({ ["docs/cv.pdf"] = "%PDF-1.4\n", ["m.jsonl"] = table.concat({
      '{"job_id":"job-1","first_name":"A","last_name":"L","email_address":"a@example.com","cv":"docs/cv.pdf"}',
      '{"job_id":"scenario-error-422","first_name":"B","last_name":"L","email_address":"b@example.com",'
        .. '"attachments":[{"file":"docs/cv.pdf","type":"CV"}]}',
      '{"job_id":"scenario-error-400","first_name":"C","last_name":"L","email_address":"c@example.com","cv":"docs/cv.pdf"}',
    }, "\n") .. "\n", ["out/.keep"] = "" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    -- written in another directory: the relative paths are made to name the same files
    local rc, out = apply({ "--report-failed", dir .. "/out/failed.jsonl", dir .. "/m.jsonl" }, env)
    assert.equals(1, rc, out)
    local failed = cli.read(dir .. "/out/failed.jsonl")
    local rows = {}
    for l in failed:gmatch("[^\n]+") do rows[#rows + 1] = cjson.decode(l) end
    assert.equals(2, #rows)
    assert.equals(dir .. "/docs/cv.pdf", rows[1].attachments[1].file)
    assert.equals(dir .. "/docs/cv.pdf", rows[2].cv)
    assert.equals("scenario-error-400", rows[2].job_id)
    -- fixed (the jobs the stand-in refused) and run again from elsewhere, with a journal of its own
    cli.write(dir .. "/out/failed.jsonl", (failed:gsub("scenario%-error%-4%d%d", "job-2")))
    rc, out = apply({ "failed.jsonl" }, env, dir .. "/out")
    assert.equals(0, rc, out)
    assert.truthy(has(out, "2 created"), out)
    local per = creates(integ)
    assert.equals(1, per["b@example.com"].accepted)
    assert.equals(1, per["c@example.com"].accepted)
    assert.equals(1, per["a@example.com"].accepted)
    -- a report for a manifest of the other format is refused up front
    local _, _, err = apply({ "--report-failed", dir .. "/f.csv", dir .. "/m.jsonl" }, env)
    assert.truthy(has(err, "--report-failed must not end in .csv: the manifest is JSON Lines"), err)
    cli.rmtree(dir)
  end)
end)

describe("kombo apply: exit codes and secrets #cli", function()
  it("2: usage, manifest and journal errors, bad rows in a real run (nothing sent), no key", function()
    local dir = sample()
    cli.write(dir .. "/bad.csv", CSV_HEAD .. "job-1,Ada,L,not-an-email,,,,,\njob-1,Alan,T,alan@example.com,,,,,\n")
    cli.write(dir .. "/attach.journal", "kombo-attach journal 2\n")
    local env = cli.env()
    local m = dir .. "/m.csv"
    for _, args in ipairs { { "--bogus", m }, {}, { m, m }, { "--concurrency", "31", m }, { dir .. "/nope.csv" },
                            { "--journal", dir .. "/attach.journal", m }, { dir .. "/bad.csv" },
                            { "--report", m, m } } do
      local rc, out, err = apply(args, env)
      assert.equals(2, rc, table.concat(args, " ") .. ": " .. out .. err)
    end
    local rc, _, err = apply({ "--journal", dir .. "/attach.journal", m }, env)
    assert.equals(2, rc)
    assert.truthy(has(err, "is not a kombo apply journal"), err)
    rc, _, err = apply({ m }, cli.env({ KOMBO_API_KEY = servers.NONE }))
    assert.equals(2, rc)
    assert.truthy(has(err, "KOMBO_API_KEY"), err)
    assert.equals(0, #servers.requests(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("130 after SIGINT: the creates in flight finish, no new one starts; a rerun creates the rest once #slow",
    function()
    local N = 8
    local lines = { "job_id,first_name,last_name,email_address" }
    for i = 1, N do lines[#lines + 1] = ("scenario-hold-300,F%d,L%d,p%d@example.com"):format(i, i, i) end
    local dir = cli.dir({ ["m.csv"] = table.concat(lines, "\n") .. "\n" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local jpath = dir .. "/m.csv.journal"
    local h = cli.spawn({ "apply", "--concurrency", "2", dir .. "/m.csv" }, env, nil, "kombo")
    assert.truthy(cli.wait_for(function() return cli.count_lines(jpath, "^done ") >= 1 end, 20), "no progress")
    cli.signal(h, "INT")
    local rc, out, err = cli.wait(h, 20)
    assert.equals(130, rc, tostring(out) .. tostring(err))
    assert.truthy(has(out, "stopped by a signal (drain)"), out)
    local started, finished = cli.count_lines(jpath, "^sending "), cli.count_lines(jpath, "^done ")
    assert.equals(started, finished)
    assert.truthy(finished < N)
    rc, out, err = apply({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(out, ("%d created, %d done before"):format(N - finished, finished)), out)
    local per, n = creates(integ)
    assert.equals(N, n)
    for email, e in pairs(per) do assert.equals(1, e.posts, email) end
    cli.rmtree(dir)
  end)

  it("the API key appears in no output, journal or report, whatever the run", function()
    local KEY = servers.LONG_KEY -- the stand-in refuses it: the first create stops the run (401)
    local dir = sample()
    cli.write(dir .. "/bad.csv", CSV_HEAD .. "job-1,Ada,L,not-an-email,,,,,\n")
    cli.write(dir .. "/" .. KEY .. ".csv", cli.read(dir .. "/m.csv"))
    local env = cli.env({ KOMBO_API_KEY = KEY })
    local m = dir .. "/m.csv"
    local reports = {}
    local function rep(name) reports[#reports + 1] = dir .. "/" .. name; return dir .. "/" .. name end
    local runs = {
      { "--help" }, { "--api-key", KEY, m }, { "--api-key=" .. KEY, m }, { m, KEY }, { "--journal", KEY, m },
      { "--dry-run", m }, { "--dry-run", "--preflight", "--report", rep("r0.csv"), m },
      { "--report", rep("r1.csv"), "--report-failed", rep("f1.csv"), "--journal", dir .. "/j1", m },
      { "--json", "--report", rep("r2.json"), "--journal", dir .. "/j2", m },
      { "--report", rep("r3.jsonl"), "--journal", dir .. "/j3", dir .. "/" .. KEY .. ".csv" },
      { "--report-failed", rep("f4.csv"), dir .. "/bad.csv" },
      { "--server-url", "http://127.0.0.1:" .. servers.free_port(), "--journal", dir .. "/j5", m },
    }
    local saw_401 = false
    for _, args in ipairs(runs) do
      local rc, out, err = apply(args, env, dir)
      local all = out .. err
      assert.is_nil(all:find(KEY, 1, true), table.concat(args, " ") .. " printed the key: " .. all)
      assert.is_nil(all:lower():find(KEY:sub(12, 30):lower(), 1, true))
      assert.truthy(rc == 0 or rc == 1 or rc == 2, tostring(rc))
      if has(all, "PLATFORM.AUTHENTICATION_INVALID") then saw_401 = true end
    end
    assert.truthy(saw_401) -- the key was really sent, and refused
    for _, f in ipairs { "j1", "j2", "j3", "j5", KEY, "r1.csv", "f1.csv", "r2.json", "r3.jsonl", "f4.csv" } do
      local text = cli.read(dir .. "/" .. f)
      assert.truthy(text, f)
      assert.is_nil(text:find(KEY:sub(12, 30), 1, true), f)
    end
    assert.truthy(cli.read(dir .. "/r1.csv"):find("\n2,failed,,PLATFORM.AUTHENTICATION_INVALID,", 1, true))
    cli.rmtree(dir)
  end)
end)
