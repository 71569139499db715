-- kombo-attach's promise, under realistic timing: each row lands exactly
-- once across crashes and reruns, and none is silently skipped.  Issue 17's
-- fault campaign, as specs: uploads slower than listings killed and rerun,
-- candidates that already hold an older file of the same name, two runs of
-- one journal at once, one manifest by three spellings, an integration that
-- cannot list attachments, listings without evidence.
local servers = require "support.servers"
local cli = require "cli.support"
local manifest = require "kombo.cli.manifest"
local socket = require "socket"

local function has(s, pat) return (s or ""):find(pat, 1, true) ~= nil end

local function control(path)
  local status, _, text = servers.http("POST", servers.standin_url() .. path, {}, "")
  assert(status == 200, path .. ": " .. tostring(status) .. " " .. tostring(text))
  return text
end

local function evidence(integ, mode)
  control(("/_listing?integration=%s&evidence=%s"):format(integ, mode))
end

-- An older attachment of the same name already on a candidate.
local function seed_older(integ, candidate, name, doc_type)
  control(("/_listing?integration=%s&seed=candidate&id=%s&name=%s&type=%s&age=86400&content=old"):format(
    integ, candidate, name, doc_type or "CV"))
end

-- The rows of a manifest as kombo-attach identifies them.
local function rows_of(dir, env)
  local rows = assert(manifest.read(dir .. "/m.csv"))
  for _, row in ipairs(rows) do
    assert.same({}, manifest.check(row, { dir = dir, integration_id = env.KOMBO_INTEGRATION_ID }))
  end
  return rows
end

-- Accepted uploads per (candidate, name) at the stand-in.
local function accepted(integ)
  local n, per = 0, {}
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "POST" and type(rec.response) == "table" and rec.response.status == 200 then
      local k = tostring(rec.path) .. " " .. tostring(rec.attachment and rec.attachment.name)
      per[k] = (per[k] or 0) + 1
      n = n + 1
    end
  end
  return n, per
end

local function max_count(per)
  local m = 0
  for _, c in pairs(per) do m = math.max(m, c) end
  return m
end

describe("kombo-attach: a row's identity #cli", function()
  it("is the target and the document: the same manifest by three spellings, or reordered, is done", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,b.txt,CV\nc3,b.txt,OTHER\n",
      ["a.txt"] = "aaa", ["b.txt"] = "bbb", ["sub/x"] = "" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local rc, out = cli.run({ "m.csv" }, env, dir)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "3 uploaded"), out)
    for _, spelling in ipairs({ dir .. "/m.csv", "sub/../m.csv", "./m.csv" }) do
      rc, out = cli.run({ spelling }, env, dir)
      assert.equals(0, rc, spelling .. ": " .. out)
      assert.truthy(has(out, "0 uploaded, 3 done before (journal)"), spelling .. ": " .. out)
    end
    -- rows moved, and a file renamed (the same bytes): still the same rows
    cli.write(dir .. "/renamed.txt", "aaa")
    cli.write(dir .. "/m.csv", "candidate_id,file,type,name\nc3,b.txt,OTHER,b.txt\nc1,renamed.txt,CV,a.txt\n"
      .. "c2,b.txt,CV,b.txt\n")
    rc, out = cli.run({ "m.csv" }, env, dir)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "0 uploaded, 3 done before (journal)"), out)
    -- the same name with other bytes is another document
    cli.write(dir .. "/a.txt", "a new version")
    cli.write(dir .. "/m.csv", "candidate_id,file,type\nc1,a.txt,CV\n")
    rc, out = cli.run({ "m.csv" }, env, dir)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 uploaded"), out)
    assert.equals(4, (accepted(integ)))
    cli.rmtree(dir)
  end)

  it("a duplicate row (same target, same document) is uploaded once and named, in the dry run too", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc1,./a.txt,CV\nc2,a.txt,CV\n",
      ["a.txt"] = "aaa" })
    local env = cli.env()
    local rc, out = cli.run({ "--dry-run", "m.csv" }, env, dir)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "line 3: the same document to the same target as line 2"), out)
    rc, out = cli.run({ "m.csv" }, env, dir)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "2 uploaded, 1 duplicate rows"), out)
    assert.equals(2, (accepted(env.KOMBO_INTEGRATION_ID)))
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: manifests read twice #cli", function()
  it("standard input ('-') is spooled: it needs --journal, and a rerun from it is done", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,a.txt,CV\n", ["a.txt"] = "aaa" })
    local env = cli.env()
    local rc, _, err = cli.run({ "-" }, env, dir, nil, dir .. "/m.csv")
    assert.equals(2, rc)
    assert.truthy(has(err, "needs --journal"), err)
    local out
    rc, out = cli.run({ "--dry-run", "-" }, env, dir, nil, dir .. "/m.csv")
    assert.equals(0, rc, out)
    assert.truthy(has(out, "all 2 rows are good"), out)
    rc, out = cli.run({ "--journal", "j", "-" }, env, dir, nil, dir .. "/m.csv")
    assert.equals(0, rc, out)
    assert.truthy(has(out, "2 uploaded"), out)
    rc, out = cli.run({ "--journal", "j", "-" }, env, dir, nil, dir .. "/m.csv")
    assert.equals(0, rc, out)
    assert.truthy(has(out, "0 uploaded, 2 done before"), out)
    assert.equals(2, (accepted(env.KOMBO_INTEGRATION_ID)))
    cli.rmtree(dir)
  end)

  it("a manifest that is a pipe (a FIFO) is read once and spooled", function()
    local dir = cli.dir({ ["a.txt"] = "aaa" })
    local fifo = dir .. "/m.csv"
    assert(os.execute("mkfifo " .. cli.q(fifo)))
    assert(os.execute(("(printf 'candidate_id,file,type\\nc1,a.txt,CV\\n' > %s) >/dev/null 2>&1 &"):format(
      cli.q(fifo))))
    local env = cli.env()
    local rc, out = cli.run({ "--journal", dir .. "/j", fifo }, env, nil, 20)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 uploaded"), out)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: one run per journal #cli", function()
  it("a second run of the same journal refuses at once (exit 2, naming the holder); the first lands each row once #slow",
    function()
    local N = 8
    local files, lines = {}, { "candidate_id,file,type" }
    for i = 1, N do
      files[("f%d.txt"):format(i)] = "doc " .. i
      lines[#lines + 1] = ("scenario-hold-300,f%d.txt,CV"):format(i)
    end
    files["m.csv"] = table.concat(lines, "\n") .. "\n"
    local dir = cli.dir(files)
    local env = cli.env()
    local h = cli.spawn({ "--concurrency", "2", dir .. "/m.csv" }, env)
    assert.truthy(cli.wait_for(function() return cli.count_lines(dir .. "/m.csv.journal", "^sending ") >= 1 end,
      20), "the first run did not start")
    local t0 = socket.gettime()
    local rc, out, err = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(2, rc, out .. err)
    assert.truthy(socket.gettime() - t0 < 5, "the second run waited")
    assert.truthy(has(err, "is in use"), err)
    assert.truthy(has(err, "process " .. h.pid), err)
    local rc1, out1, err1 = cli.wait(h, 30)
    assert.equals(0, rc1, tostring(out1) .. tostring(err1))
    local n, per = accepted(env.KOMBO_INTEGRATION_ID)
    assert.equals(N, n)
    assert.equals(1, max_count(per))
    -- the journal reads cleanly, and the lock is free again
    rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, ("0 uploaded, %d done before"):format(N)), out)
    cli.rmtree(dir)
  end)

  it("a journal that is a FIFO is refused without blocking", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\n", ["a.txt"] = "a" })
    assert(os.execute("mkfifo " .. cli.q(dir .. "/m.csv.journal")))
    local t0 = socket.gettime()
    local rc, _, err = cli.run({ dir .. "/m.csv" }, cli.env())
    assert.equals(2, rc, err)
    assert.truthy(has(err, "FIFO"), err)
    assert.truthy(socket.gettime() - t0 < 10)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: settling proves or says it cannot #cli", function()
  -- Six candidates that each already hold an older CV.pdf; uploads that the
  -- stand-in holds 0.6-0.9 s, killed once every one of them went out whole.
  it("killed with every upload in flight, beside older files of the same name: each lands once, none lost #slow",
    function()
    local N = 6
    local files, lines = {}, { "candidate_id,file,type,name" }
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    for i = 1, N do
      local cand = ("scenario-hold-%d"):format(600 + 50 * i)
      files[("cv%d.pdf"):format(i)] = "%PDF-1.4 new CV " .. i
      lines[#lines + 1] = ("%s,cv%d.pdf,CV,CV.pdf"):format(cand, i)
      seed_older(integ, cand, "CV.pdf")
    end
    files["m.csv"] = table.concat(lines, "\n") .. "\n"
    local dir = cli.dir(files)
    local jpath = dir .. "/m.csv.journal"
    local h = cli.spawn({ "--concurrency", "6", "--timeout", "2", dir .. "/m.csv" }, env)
    -- (the slow start sends 4 at first)
    assert.truthy(cli.wait_for(function() return cli.count_lines(jpath, "^written ") >= 4 end, 20),
      "the uploads did not go out")
    cli.signal(h, "KILL")
    assert.equals(137, cli.wait(h, 10))
    local written = cli.count_lines(jpath, "^written ") - cli.count_lines(jpath, "^done ")
    assert.truthy(written >= 3, "too few uploads in flight at the kill")
    local rc, out, err = cli.run({ "--timeout", "2", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(err, "waiting "), err) -- not while those uploads could still be in flight
    assert.truthy(has(out, ("%d found uploaded (settled)"):format(written)), out)
    local n, per = accepted(integ)
    assert.equals(N, n) -- each new CV once; the older files were never taken for them
    assert.equals(1, max_count(per))
    cli.rmtree(dir)
  end)

  it("a row that never went out whole is sent again, even where an older file of its name exists", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type,name\nc1,cv.pdf,CV,CV.pdf\n", ["cv.pdf"] = "new" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    seed_older(integ, "c1", "CV.pdf")
    local rows = rows_of(dir, env)
    cli.write(dir .. "/m.csv.journal", ("kombo-attach journal 2\nsending %s 2 1 %.3f\n"):format(rows[1].id,
      os.time() - 5))
    local rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 uploaded"), out)
    assert.equals(1, (accepted(integ)))
    assert.equals(0, cli.gets(integ)) -- no listing: nothing needed settling
    cli.rmtree(dir)
  end)

  it("a row written whole with no answer and no trace in the listing is unknown; --resend-unknown sends it",
    function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type,name\nc1,cv.pdf,CV,CV.pdf\n", ["cv.pdf"] = "new" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    seed_older(integ, "c1", "CV.pdf")
    local rows = rows_of(dir, env)
    local t = os.time() - 10
    cli.write(dir .. "/m.csv.journal", ("kombo-attach journal 2\nsending %s 2 1 %d\nwritten %s 2 1 %d %d\n"):format(
      rows[1].id, t, rows[1].id, t, t + 1))
    local rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "0 uploaded, 1 unknown"), out)
    assert.truthy(has(out, "unknown: line 2"), out)
    assert.truthy(has(out, "--resend-unknown"), out)
    assert.equals(0, (accepted(integ)))
    rc, out = cli.run({ "--resend-unknown", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 uploaded"), out)
    assert.equals(1, (accepted(integ)))
    cli.rmtree(dir)
  end)

  it("an integration that cannot list: written rows stay unknown, rows never sent whole are sent", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,b.txt,CV\nc3,c.txt,CV\n",
      ["a.txt"] = "a", ["b.txt"] = "b", ["c.txt"] = "c" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    evidence(integ, "unavailable")
    local rows = rows_of(dir, env)
    local t = os.time() - 10
    cli.write(dir .. "/m.csv.journal", table.concat({ "kombo-attach journal 2",
      ("sending %s 2 1 %d"):format(rows[1].id, t), ("written %s 2 1 %d %d"):format(rows[1].id, t, t + 1),
      ("sending %s 3 1 %d"):format(rows[2].id, t), "" }, "\n"))
    local rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "2 uploaded, 1 unknown"), out)
    assert.truthy(has(out, "INTEGRATION.MODEL_NOT_AVAILABLE") or has(out, "could not be listed"), out)
    assert.equals(2, (accepted(integ)))
    rc, out = cli.run({ dir .. "/m.csv" }, env) -- a rerun does not send it either
    assert.equals(1, rc, out)
    assert.equals(2, (accepted(integ)))
    cli.rmtree(dir)
  end)

  it("evidence by time when the listing gives no file; none at all leaves the row unknown", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type,name\nc1,cv.pdf,CV,CV.pdf\n", ["cv.pdf"] = "new" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local rows = rows_of(dir, env)
    local t = os.time() - 3
    cli.write(dir .. "/m.csv.journal", ("kombo-attach journal 2\nwritten %s 2 1 %d %d\n"):format(rows[1].id, t, t))
    -- the upload did land (sent here by a plain run with another journal)
    assert.equals(0, (cli.run({ "--journal", dir .. "/other.journal", dir .. "/m.csv" }, env)))
    evidence(integ, "none")
    local rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "1 unknown"), out)
    evidence(integ, "time")
    rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(0, rc, out)
    assert.truthy(has(out, "1 found uploaded (settled)"), out)
    assert.equals(1, (accepted(integ)))
    local st = servers.http("GET", servers.standin_url() .. "/_listing")
    assert.equals(200, st)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: what a review found #cli", function()
  it("a mistyped manifest leaves no journal or lock file behind; a device is refused, not spooled", function()
    local dir = cli.dir({})
    local rc, _, err = cli.run({ "no-such.csv" }, cli.env(), dir)
    assert.equals(2, rc, err)
    assert.equals("", (io.popen("ls -A " .. cli.q(dir)):read("*a")))
    local t0 = socket.gettime()
    rc, _, err = cli.run({ "--dry-run", "/dev/zero" }, cli.env(), dir, 15)
    assert.equals(2, rc, err)
    assert.truthy(has(err, "character device"), err)
    assert.truthy(socket.gettime() - t0 < 10)
    cli.rmtree(dir)
  end)

  it("a manifest changed between the check and the uploads: nothing from the new one is sent #slow", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type\nc1,a.txt,CV\nc2,a.txt,CV\n", ["a.txt"] = "a" })
    local env = cli.env()
    local rows = rows_of(dir, env)
    local t = os.time()
    -- row 1 was written whole 1 s ago with a 4 s timeout: the run waits ~3 s before settling it
    cli.write(dir .. "/m.csv.journal", ("kombo-attach journal 2\nwritten %s 2 1 %d %d\n"):format(rows[1].id, t - 1,
      t + 3))
    local h = cli.spawn({ "--timeout", "4", dir .. "/m.csv" }, env)
    socket.sleep(1)
    cli.write(dir .. "/m.csv", "candidate_id,file,type\nc1,a.txt,CV\nc9,a.txt,CV\n")
    local rc, out, err = cli.wait(h, 20)
    assert.equals(2, rc, tostring(out) .. tostring(err))
    assert.truthy(has(err, "the manifest changed during the run"), err)
    assert.equals(0, (accepted(env.KOMBO_INTEGRATION_ID)))
    cli.rmtree(dir)
  end)

  it("two rows of one name and type to one target: time alone credits neither with the other's file", function()
    local dir = cli.dir({ ["m.csv"] = "candidate_id,file,type,name\nc1,a.pdf,CV,CV.pdf\nc1,b.pdf,CV,CV.pdf\n",
      ["a.pdf"] = "version a", ["b.pdf"] = "version b" })
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local rows = rows_of(dir, env)
    local t = os.time() - 5
    -- only the second document landed (sent by a run with another journal, after `t`)
    cli.write(dir .. "/only-b.csv", "candidate_id,file,type,name\nc1,b.pdf,CV,CV.pdf\n")
    assert.equals(0, (cli.run({ dir .. "/only-b.csv" }, env)))
    cli.write(dir .. "/m.csv.journal", ("kombo-attach journal 2\nwritten %s 2 1 %d %d\nwritten %s 3 1 %d %d\n")
      :format(rows[1].id, t, t + 1, rows[2].id, t, t + 1))
    evidence(integ, "time") -- no files to compare
    local rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "0 uploaded, 2 unknown"), out)
    evidence(integ, "full") -- with the files, each is told apart
    rc, out = cli.run({ dir .. "/m.csv" }, env)
    assert.equals(1, rc, out)
    assert.truthy(has(out, "1 found uploaded (settled), 1 unknown"), out)
    assert.truthy(has(out, "unknown: line 2"), out)
    cli.rmtree(dir)
  end)
end)

describe("kombo-attach: kill and rerun cycles #cli", function()
  -- Uploads the stand-in holds 0.3 s, listings answered at once: the rerun
  -- must not list while the killed run's uploads are still being processed.
  it("five kills at different moments, then a full run: no row twice, none silently missing #slow", function()
    local N = 24
    local files, lines = {}, { "candidate_id,file,type" }
    for i = 1, N do
      files[("f%02d.txt"):format(i)] = "document " .. i
      lines[#lines + 1] = ("scenario-hold-300,f%02d.txt,CV"):format(i)
    end
    files["m.csv"] = table.concat(lines, "\n") .. "\n"
    local dir = cli.dir(files)
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local args = { "--concurrency", "4", "--timeout", "1", dir .. "/m.csv" }
    for _, d in ipairs({ 0.45, 0.8, 0.35, 0.6, 1.0 }) do
      local h = cli.spawn(args, env)
      socket.sleep(d)
      cli.signal(h, "KILL")
      cli.wait(h, 10)
    end
    local rc, out, err = cli.run(args, env)
    local n, per = accepted(integ)
    assert.equals(1, max_count(per), out) -- never twice
    -- every row is either accepted once or reported unknown (its request went
    -- out whole and the stand-in never got all of it): nothing silent
    local unknown = tonumber(out:match("(%d+) unknown") or "0")
    assert.equals(N, n + unknown, out .. err)
    assert.equals(unknown > 0 and 1 or 0, rc, out .. err)
    cli.rmtree(dir)
  end)
end)
