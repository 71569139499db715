-- kombo-attach end to end: the command as a subprocess against the local
-- Kombo stand-in, its records read back with GET /_requests.  Dry runs,
-- uploads, the report and exit codes, the key in no output, the journal
-- across a SIGKILL, a torn line and a SIGINT.
local servers = require "support.servers"
local cli = require "cli.support"
local cjson = servers.cjson

local NONE = servers.NONE

local function has(s, pat) return (s or ""):find(pat, 1, true) ~= nil end

local function set_restrictions(integ, target, value)
  local status, _, text = servers.http("POST",
    ("%s/_restrictions?integration=%s&target=%s"):format(servers.standin_url(), integ, target),
    { ["content-type"] = "application/json" }, cjson.encode(value))
  assert(status == 200, "POST /_restrictions: " .. tostring(status) .. " " .. tostring(text))
end

-- n rows to one candidate id (a hold-<ms> scenario makes each upload take that long)
local function many(n, candidate)
  local files, lines = {}, { "candidate_id,file,type,name" }
  for i = 1, n do
    files[("docs/cv-%02d.txt"):format(i)] = ("CV number %d\n"):format(i)
    lines[#lines + 1] = ("%s,docs/cv-%02d.txt,CV,cv-%02d.txt"):format(candidate, i, i)
  end
  files["m.csv"] = table.concat(lines, "\n") .. "\n"
  return cli.dir(files)
end

local function exactly_once(integ, n)
  local _, accepted = cli.uploads(integ)
  for i = 1, n do
    local name = ("cv-%02d.txt"):format(i)
    assert.equals(1, accepted[name] or 0, name .. " accepted " .. tostring(accepted[name] or 0) .. " times")
  end
end

describe("kombo-attach --dry-run #cli", function()
  it("a good manifest: exit 0, every row checked, nothing sent", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,application_id,file,data_url,type,name\n"
      .. "c1,,docs/a.pdf,,CV,\n,a1,,https://files.example.com/b.pdf,COVER_LETTER,b.pdf\n",
      ["docs/a.pdf"] = "%PDF-1.4\n" })
    local env = cli.env()
    local rc, out, err = cli.run({ "--dry-run", dir .. "/m.csv" }, env)
    assert.equals(0, rc, err)
    assert.truthy(has(out, "all 2 rows are good"), out)
    assert.equals(0, #servers.requests(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("runs the library's own validation: rows the upload would refuse are refused up front (issue 18)", function()
    local big = string.rep("n", 1024 * 1024)
    local dir = cli.dir({ ["m.jsonl"] = table.concat({
      '{"candidate_id":"c1","file":"ok.txt","type":"CV","name":""}',
      '{"candidate_id":"","file":"ok.txt","type":"CV"}',
      '{"candidate_id":"c3","file":"ok.txt","type":"CV","name":"a\\u0000b.pdf"}',
      '{"candidate_id":"c4","file":"ok.txt","type":"CV","name":"' .. big .. '"}',
      '{"candidate_id":"c5","file":"ok.txt","type":"CV","content_type":"not a type"}',
      '{"candidate_id":"c6","data_url":"ftp://x.example/a.pdf","type":"CV","name":"a.pdf"}',
      '{"candidate_id":"c7","file":"ok.txt","type":"CV"}',
    }, "\n") .. "\n", ["ok.txt"] = "fine", ["bad\255.txt"] = "x" })
    cli.write(dir .. "/m2.csv", "candidate_id,file,type\nc1,bad\255.txt,CV\n")
    local env = cli.env()
    local rc, out = cli.run({ "--dry-run", dir .. "/m.jsonl" }, env)
    assert.equals(2, rc, out)
    assert.truthy(has(out, "6 of 7 rows are bad"), out)
    assert.truthy(has(out, "line 1: name must not be empty"), out)
    assert.truthy(has(out, "line 2: candidate_id must not be empty"), out)
    assert.truthy(has(out, "line 3: name must not contain NUL"), out)
    assert.truthy(has(out, "line 4: name "), out)
    assert.truthy(has(out, "line 5: content_type "), out)
    assert.truthy(has(out, "line 6: data_url "), out)
    assert.truthy(#out < 10000, "the 1 MB name is not echoed")
    rc, out = cli.run({ "--dry-run", dir .. "/m2.csv" }, env) -- a base name that is not UTF-8
    assert.equals(2, rc, out)
    assert.truthy(has(out, "line 2: name must be valid UTF-8"), out)
    rc, out = cli.run({ dir .. "/m.jsonl" }, env) -- the real run refuses them the same way, up front
    assert.equals(2, rc, out)
    assert.equals(0, #cli.uploads(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("a bad manifest: exit 2, every bad row with its line and reason, nothing sent", function()
    local dir = cli.dir({ ["m.jsonl"] = table.concat({
      '{"candidate_id":"c1","file":"ok.txt","type":"CV"}',
      '{"candidate_id":"c2","file":"missing.txt","type":"CV"}',
      '{"candidate_id":"c3","file":"empty.txt","type":"CV"}',
      '{"candidate_id":"c4","file":"ok.txt","type":"RESUME"}',
      '{"candidate_id":"..","file":"ok.txt","type":"CV"}',
      '{"file":"ok.txt","type":"CV"}',
      '{"candidate_id":"c7","data_url":"https://x.example/cv.pdf","type":"CV"}',
      '{"candidate_id":"c8","file":"unreadable.txt","type":"CV"}',
    }, "\n") .. "\n", ["ok.txt"] = "fine", ["empty.txt"] = "", ["unreadable.txt"] = "secret" })
    os.execute("chmod 000 " .. cli.q(dir .. "/unreadable.txt"))
    local root = (assert(io.popen("id -u")):read("*l")) == "0" -- root reads anything
    local env = cli.env()
    local rc, out = cli.run({ "--dry-run", dir .. "/m.jsonl" }, env)
    assert.equals(2, rc)
    assert.truthy(has(out, "line 2: file missing.txt cannot be opened: No such file or directory"), out)
    assert.truthy(has(out, "line 3: file empty.txt is empty"), out)
    assert.truthy(has(out, 'line 4: type must be one of CV, COVER_LETTER, OTHER (got "RESUME")'), out)
    assert.truthy(has(out, 'line 5: candidate_id must not be "." or ".."'), out)
    assert.truthy(has(out, "line 6: has neither candidate_id nor application_id"), out)
    assert.truthy(has(out, "line 7: needs a name with data_url"), out)
    assert.is_false(has(out, "line 1:"))
    if not root then assert.truthy(has(out, "line 8: file unreadable.txt cannot be opened: Permission denied"), out) end
    -- the same as JSON
    local rc2, jout = cli.run({ "--dry-run", "--json", dir .. "/m.jsonl" }, env)
    assert.equals(2, rc2)
    local report = cjson.decode(jout)
    assert.equals(8, report.rows)
    assert.equals(root and 6 or 7, #report.bad)
    assert.equals(2, report.bad[1].line)
    assert.equals(0, #servers.requests(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  -- A FIFO nobody writes to blocks a plain open() for reading: the run has
  -- a hard time limit, so a regression fails here instead of hanging.
  it("a FIFO, /dev/zero, /dev/urandom, a socket or a directory as a row's file: exit 2 at once, named", function()
    local dir = cli.dir({ ["ok.txt"] = "fine", ["sub/x.txt"] = "x", ["m.jsonl"] = table.concat({
      '{"candidate_id":"c1","file":"ok.txt","type":"CV"}',
      '{"candidate_id":"c2","file":"pipe.pdf","type":"CV"}',
      '{"candidate_id":"c3","file":"/dev/zero","type":"CV"}',
      '{"candidate_id":"c4","file":"/dev/urandom","type":"CV","name":"r.pdf"}',
      '{"candidate_id":"c5","file":"sub","type":"CV"}',
      '{"candidate_id":"c6","file":"sock.pdf","type":"CV"}',
    }, "\n") .. "\n" })
    assert(os.execute("mkfifo " .. cli.q(dir .. "/pipe.pdf")))
    local unix = require "socket.unix"
    local sock = assert((unix.stream or unix)())
    assert(sock:bind(dir .. "/sock.pdf"))
    local env = cli.env()
    local rc, out, err = cli.run({ "--dry-run", dir .. "/m.jsonl" }, env, nil, 15)
    sock:close()
    assert.is_true(rc ~= 124 and rc ~= 137, "kombo-attach --dry-run was stopped after 15 s: " .. out .. err)
    assert.equals(2, rc, out .. err)
    assert.truthy(has(out, "5 of 6 rows are bad"), out)
    assert.truthy(has(out, "line 2: file pipe.pdf is a FIFO (named pipe), not a regular file"), out)
    assert.truthy(has(out, "line 3: file /dev/zero is a character device, not a regular file"), out)
    assert.truthy(has(out, "line 4: file /dev/urandom is a character device, not a regular file"), out)
    assert.truthy(has(out, "line 5: file sub is a directory, not a regular file"), out)
    assert.truthy(has(out, "line 6: file sock.pdf is a socket, not a regular file"), out)
    assert.is_false(has(out, "line 1:"))
    assert.equals(0, #servers.requests(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("--preflight adds the integration's restrictions (and sends no upload)", function()
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    set_restrictions(integ, "candidate", { types = {
      CV = { is_supported = true, max_file_size_bytes = 10, accepted_mime_types = { "application/pdf" } },
      COVER_LETTER = { is_supported = false, max_file_size_bytes = cjson.null, accepted_mime_types = cjson.null },
      OTHER = { is_supported = true, max_file_size_bytes = cjson.null, accepted_mime_types = cjson.null } } })
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type,content_type\n"
      .. "c1,small.pdf,CV,application/pdf\nc2,big.pdf,CV,application/pdf\nc3,small.pdf,COVER_LETTER,\n"
      .. "c4,small.pdf,CV,text/plain\nc5,small.pdf,OTHER,\n",
      ["small.pdf"] = "%PDF-1.4\n", ["big.pdf"] = "%PDF-1.4\n" .. ("x"):rep(100) })
    local rc, out = cli.run({ "--dry-run", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out) -- without --preflight the rows are fine
    rc, out = cli.run({ "--dry-run", "--preflight", dir .. "/m.csv" }, env)
    assert.equals(2, rc)
    assert.truthy(has(out, "line 3: preflight: 109 bytes is above the integration's limit of 10"), out)
    assert.truthy(has(out, "line 4: preflight: type COVER_LETTER is not supported by the integration"), out)
    assert.truthy(has(out, "line 5: preflight: content_type text/plain is not accepted by the integration"), out)
    assert.is_false(has(out, "line 2:"))
    assert.is_false(has(out, "line 6:"))
    local recs = servers.requests(integ)
    assert.equals(0, #cli.uploads(integ))
    assert.equals(1, #recs) -- one fetch of the candidate restrictions
    assert.equals("ats_add_candidate_attachment", recs[1].route)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach uploads #cli", function()
  it("CSV: quoted names arrive exactly, relative paths from the manifest's directory, exit 0", function()
    local dir = cli.dir({ ["m.csv"] = 'candidate_id,file,type,name,content_type\r\n'
      .. 'c1,docs/a.txt,CV,"Doe, Frank ""Sr."" CV.txt",text/plain\r\n'
      .. '"c,2",docs/b.txt,OTHER,"multi\nline.txt",\r\n',
      ["docs/a.txt"] = "first\n", ["docs/b.txt"] = "second\n" })
    local env = cli.env()
    local rc, out, err = cli.run({ dir .. "/m.csv" }, env, "/") -- another working directory
    assert.equals(0, rc, out .. err)
    assert.truthy(has(out, "2 rows: 2 uploaded"), out)
    local posts = cli.uploads(env.KOMBO_INTEGRATION_ID)
    assert.equals(2, #posts)
    local by_id = {}
    for _, r in ipairs(posts) do by_id[r.path_id] = r end
    assert.equals('Doe, Frank "Sr." CV.txt', by_id.c1.attachment.name)
    assert.equals("text/plain", by_id.c1.attachment.content_type)
    assert.equals("multi\nline.txt", by_id["c,2"].attachment.name)
    assert.equals("OTHER", by_id["c,2"].attachment.type)
    assert.equals(by_id.c1.json.attachment.data, "Zmlyc3QK") -- base64 of "first\n"
    cli.rmtree(dir)
  end)

  it("JSONL to candidates and applications; a rerun skips every done row", function()
    local dir = cli.dir({ ["m.jsonl"] = '{"candidate_id":"c1","file":"a.txt","type":"CV"}\n'
      .. '{"application_id":"app1","file":"' .. "ABS" .. '","type":"COVER_LETTER","name":"letter.txt"}\n'
      .. '{"application_id":"app2","data_url":"https://files.example.com/x.pdf","type":"OTHER","name":"x.pdf"}\n',
      ["a.txt"] = "aaa\n", ["b.txt"] = "bbb\n" })
    cli.write(dir .. "/m.jsonl", cli.read(dir .. "/m.jsonl"):gsub("ABS", dir .. "/b.txt"))
    local env = cli.env()
    local rc, out, err = cli.run({ "--json", dir .. "/m.jsonl" }, env)
    assert.equals(0, rc, out .. err)
    local report = cjson.decode(out)
    assert.equals(3, report.counts.uploaded)
    assert.equals(0, #report.failures)
    local posts = cli.uploads(env.KOMBO_INTEGRATION_ID)
    assert.equals(3, #posts)
    local routes = {}
    for _, r in ipairs(posts) do routes[r.path_id] = r.route .. ":" .. tostring(r.attachment.name) end
    assert.same({ c1 = "candidates:a.txt", app1 = "applications:letter.txt", app2 = "applications:x.pdf" }, routes)
    assert.equals(3, cli.count_lines(dir .. "/m.jsonl.journal", "^done "))
    rc, out = cli.run({ dir .. "/m.jsonl" }, env)
    assert.equals(0, rc)
    assert.truthy(has(out, "0 uploaded, 3 done before (journal)"), out)
    assert.equals(3, #cli.uploads(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("failures and warnings in the report: row, kind, code, message, log_url; exit 1", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nscenario-error-422,a.txt,CV\n"
      .. "scenario-ok-warnings,a.txt,CV\n", ["a.txt"] = "aaa\n" })
    local env = cli.env()
    local rc, out = cli.run({ "--journal", dir .. "/j", dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "3 rows: 2 uploaded, 1 failed"), out)
    assert.truthy(out:find("failed: line 3: api REMOTE.INPUT_INVALID %(HTTP 422%): .+%(log: https://"), out)
    assert.truthy(has(out, "warning: line 4: "), out)
    assert.equals(1, cli.count_lines(dir .. "/j", "^failed %S+ 3 api rejected$"))
    local rc2, jout = cli.run({ "--json", "--journal", dir .. "/j2", dir .. "/m.csv" }, env)
    assert.equals(1, rc2)
    local report = cjson.decode(jout)
    assert.equals(1, #report.failures)
    local f = report.failures[1]
    assert.equals(3, f.line)
    assert.equals("api", f.kind)
    assert.equals("REMOTE.INPUT_INVALID", f.code)
    assert.equals(422, f.status)
    assert.truthy(f.log_url:find("^https://"))
    assert.truthy(#f.message > 0)
    assert.equals(2, #report.warnings)
    assert.equals(4, report.warnings[1].line)
    cli.rmtree(dir)
  end)

  it("exit 2: usage errors, manifest errors, bad rows in a real run (nothing sent), no key", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\n", ["a.txt"] = "a",
      ["bad.csv"] = "candidate_id,file,type\nc1,missing.txt,CV\n", ["col.csv"] = "candidate_id,file,kind\n" })
    local env = cli.env()
    local m = dir .. "/m.csv"
    for _, args in ipairs { { "--bogus", m }, {}, { m, m }, { "--concurrency", "0", m }, { "--concurrency", "x", m },
                            { "--concurrency" }, { "-x", m }, { "--dry-run=yes", m }, { dir .. "/nope.csv" },
                            { dir .. "/col.csv" }, { dir .. "/bad.csv" } } do
      local rc, out, err = cli.run(args, env)
      assert.equals(2, rc, table.concat(args, " ") .. ": " .. out .. err)
    end
    local rc, _, err = cli.run({ m }, cli.env({ KOMBO_API_KEY = NONE }))
    assert.equals(2, rc)
    assert.truthy(has(err, "KOMBO_API_KEY"), err)
    assert.equals(0, #servers.requests(env.KOMBO_INTEGRATION_ID))
    rc = cli.run({ "--help" }, env)
    assert.equals(0, rc)
    local out
    rc, out = cli.run({ "--version" }, env)
    assert.equals(0, rc)
    assert.truthy(out:find("^kombo%-attach %(kombo%-lua%) %d+%.%d+%.%d+\n$"), out)
    cli.rmtree(dir)
  end)

  it("exit 2 up front for a FIFO row or a /dev/zero row in a real run: nothing uploaded, no wait", function()
    for _, bad in ipairs { "pipe.pdf", "/dev/zero" } do
      local dir = cli.dir({ ["a.txt"] = "a", ["b.txt"] = "b",
        ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2," .. bad .. ",CV\nc3,b.txt,CV\n" })
      assert(os.execute("mkfifo " .. cli.q(dir .. "/pipe.pdf")))
      local env = cli.env()
      local rc, out, err = cli.run({ dir .. "/m.csv" }, env, nil, 15)
      assert.is_true(rc ~= 124 and rc ~= 137, bad .. ": kombo-attach was stopped after 15 s: " .. out .. err)
      assert.equals(2, rc, bad .. ": " .. out .. err)
      local what = bad == "pipe.pdf" and "is a FIFO (named pipe), not a regular file"
        or "is a character device, not a regular file"
      assert.truthy(has(out .. err, "line 3: file " .. bad .. " " .. what), out .. err)
      assert.equals(0, #servers.requests(env.KOMBO_INTEGRATION_ID))
      cli.rmtree(dir)
    end
  end)

  it("the API key appears in no output: help, usage errors, dry runs, failed uploads, JSON", function()
    local KEY = servers.LONG_KEY -- the stand-in refuses it: every upload fails with 401
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,a.txt,CV\n", ["a.txt"] = "a",
      ["bad.csv"] = "candidate_id,file,type\nc1,missing.txt,CV\n" })
    local env = cli.env({ KOMBO_API_KEY = KEY })
    local m = dir .. "/m.csv"
    local runs = {
      { "--help" }, { "--version" }, { "--api-key", KEY, m }, { "--api-key=" .. KEY, m }, { m, KEY },
      { "--dry-run", m }, { "--dry-run", "--preflight", m }, { dir .. "/bad.csv" }, { "--dry-run", dir .. "/bad.csv" },
      { "--journal", dir .. "/j1", m }, { "--json", "--journal", dir .. "/j2", m }, { "--quiet", "--journal", dir .. "/j3", m },
      { "--server-url", "http://127.0.0.1:" .. servers.free_port(), "--journal", dir .. "/j4", m },
    }
    local saw_401 = false
    for _, args in ipairs(runs) do
      local rc, out, err = cli.run(args, env)
      local all = out .. err
      assert.is_nil(all:find(KEY, 1, true), table.concat(args, " ") .. " printed the key: " .. all)
      assert.is_nil(all:find(KEY:sub(10, 30), 1, true))
      assert.truthy(rc == 0 or rc == 1 or rc == 2, tostring(rc))
      if has(all, "PLATFORM.AUTHENTICATION_INVALID") then saw_401 = true end
    end
    assert.truthy(saw_401) -- the key was really sent, and refused
    for _, j in ipairs { "j1", "j2", "j3", "j4" } do
      assert.is_nil((cli.read(dir .. "/" .. j) or ""):find(KEY, 1, true))
    end
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach journal across crashes #cli", function()
  it("a torn last line: the row is settled by the listing (its content), not sent again", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,b.txt,CV\n",
      ["a.txt"] = "a", ["b.txt"] = "b" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    assert.equals(0, (cli.run({ "--timeout", "1", dir .. "/m.csv" }, env)))
    local jpath = dir .. "/m.csv.journal"
    local text = cli.read(jpath)
    assert.truthy(text:find("\ndone %x+ 3 att_%d+\n$"))
    cli.write(jpath, text:sub(1, #text - 5)) -- killed while writing the last done line
    local rc, out, err = cli.run({ "--timeout", "1", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(out, "0 uploaded, 1 done before (journal), 1 found uploaded (settled)"), out)
    assert.truthy(has(out, "torn"), out)
    assert.equals(2, #cli.uploads(integ)) -- no third upload
    assert.equals(1, cli.gets(integ)) -- the one listing that settled it
    assert.truthy(cli.read(jpath):find("\ntorn\nfound %x+ 3 att_%d+\n$"))
    rc = cli.run({ dir .. "/m.csv" }, env) -- and the journal reads cleanly afterwards
    assert.equals(0, rc)
    cli.rmtree(dir)
  end)

  it("a format 1 journal's started row whose listing fails is reported unknown and not sent", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nscenario-500-always,a.txt,CV\n", ["a.txt"] = "a" })
    local env = cli.env()
    local manifest = require "kombo.cli.manifest"
    local rows = assert(manifest.read(dir .. "/m.csv"))
    manifest.check(rows[1], { dir = dir, integration_id = env.KOMBO_INTEGRATION_ID })
    local key = next(manifest.legacy_keys(rows))
    cli.write(dir .. "/m.csv.journal", "kombo-attach journal 1\nstarted " .. key .. " 2\n")
    local rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "unknown: line 2"), out)
    assert.truthy(has(out, "could not be listed"), out)
    assert.equals(0, #cli.uploads(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("a format 1 journal of another spelling of the manifest is refused, not silently ignored", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\n", ["a.txt"] = "a" })
    local env = cli.env()
    cli.write(dir .. "/m.csv.journal", "kombo-attach journal 1\ndone 0123456789abcdef.1 2 att_1\n")
    local rc, _, err = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(2, rc, err)
    assert.truthy(has(err, "journal format 1"), err)
    assert.equals(0, #cli.uploads(env.KOMBO_INTEGRATION_ID))
    cli.rmtree(dir)
  end)

  it("killed with SIGKILL mid-run and run again: every row uploaded exactly once, none missing #slow", function()
    local N = 12
    local dir = many(N, "scenario-hold-250")
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local jpath = dir .. "/m.csv.journal"
    local h = cli.spawn({ "--concurrency", "3", "--timeout", "2", dir .. "/m.csv" }, env)
    assert.truthy(cli.wait_for(function() return cli.count_lines(jpath, "^done ") >= 3 end, 20), "no progress")
    cli.signal(h, "KILL")
    local rc = cli.wait(h, 10)
    assert.equals(137, rc)
    local done_before = cli.count_lines(jpath, "^done ")
    assert.truthy(done_before < N, "the run ended before the kill")
    assert.truthy(cli.count_lines(jpath, "^sending ") > done_before) -- some in flight when killed
    local out, err
    rc, out, err = cli.run({ "--concurrency", "3", "--timeout", "2", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    exactly_once(integ, N)
    local _, accepted = cli.uploads(integ)
    local n = 0
    for _ in pairs(accepted) do n = n + 1 end
    assert.equals(N, n)
    cli.rmtree(dir)
  end)

  it("SIGINT drains: rows in flight finish, no new one starts, exit 130; a rerun does the rest once #slow", function()
    local N = 10
    local dir = many(N, "scenario-hold-300")
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local jpath = dir .. "/m.csv.journal"
    local h = cli.spawn({ "--concurrency", "2", dir .. "/m.csv" }, env)
    assert.truthy(cli.wait_for(function() return cli.count_lines(jpath, "^done ") >= 1 end, 20), "no progress")
    cli.signal(h, "INT")
    local rc, out, err = cli.wait(h, 20)
    assert.equals(130, rc, tostring(out) .. tostring(err))
    assert.truthy(has(out, "stopped by a signal (drain)"), out)
    local started, finished = cli.count_lines(jpath, "^sending "), cli.count_lines(jpath, "^done ")
    assert.equals(started, finished) -- every row taken was let finish
    assert.truthy(finished < N, "nothing was left for the rerun")
    assert.equals(finished, #cli.uploads(integ))
    rc, out, err = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(out, ("%d uploaded, %d done before"):format(N - finished, finished)), out)
    exactly_once(integ, N)
    cli.rmtree(dir)
  end)

  it("a second SIGINT aborts the uploads in flight; the rerun settles them and uploads each row once #slow", function()
    local N = 6
    local dir = many(N, "scenario-hold-700")
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local jpath = dir .. "/m.csv.journal"
    local h = cli.spawn({ "--concurrency", "3", "--timeout", "2", dir .. "/m.csv" }, env)
    assert.truthy(cli.wait_for(function()
      local recs = servers.requests(integ) -- three uploads have reached the stand-in
      return #recs >= 3
    end, 20), "no upload arrived")
    cli.signal(h, "INT")
    require("socket").sleep(0.1)
    cli.signal(h, "INT")
    local rc, out, err = cli.wait(h, 20)
    assert.equals(130, rc, tostring(out) .. tostring(err))
    assert.truthy(has(out, "stopped by a signal (abort)"), out)
    assert.equals(3, cli.count_lines(jpath, "^failed %S+ %d+ aborted "))
    assert.equals(0, cli.count_lines(jpath, "^done "))
    rc, out, err = cli.run({ "--timeout", "2", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    exactly_once(integ, N)
    cli.rmtree(dir)
  end)
end)
