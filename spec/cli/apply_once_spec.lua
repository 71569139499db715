-- kombo apply's promise under realistic timing: a run killed at any moment
-- and rerun with the same journal creates no application twice, and every
-- row ends created, existing, failed with a reason, or unknown when nothing
-- proves either way.  The stand-in holds each create (scenario-hold-<ms>
-- as the job), so that kills land while requests are in flight; it answers
-- a repeated application 409 ATS.APPLICATION_ALREADY_EXISTS, so a create
-- sent again after it landed shows as a 409 here (where an ATS that does
-- not check would hold two applications).  The long campaign is the soak
-- stage's (scripts/soak).
local servers = require "support.servers"
local cli = require "cli.support"
local socket = require "socket"

local function has(s, pat) return (s or ""):find(pat, 1, true) ~= nil end

-- Per email: creates accepted (200) and refused as repeated (409).
local function creates(integ)
  local per = {}
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "POST" and rec.operation == "PostAtsJobsJobIdApplications" then
      local c = type(rec.json) == "table" and rec.json.candidate
      local email = tostring(type(c) == "table" and c.email_address or "?")
      local e = per[email] or { accepted = 0, repeated = 0 }
      per[email] = e
      local st = type(rec.response) == "table" and rec.response.status
      if st == 200 then e.accepted = e.accepted + 1 end
      if st == 409 then e.repeated = e.repeated + 1 end
    end
  end
  return per
end

-- n rows, each its own candidate, to jobs that hold the create `hold(i)` ms.
local function manifest(n, hold)
  local lines = { "job_id,first_name,last_name,email_address,cv" }
  for i = 1, n do
    lines[#lines + 1] = ("scenario-hold-%d,First%d,Last%d,person%02d@example.com,cv.txt"):format(hold(i), i, i, i)
  end
  return cli.dir({ ["m.csv"] = table.concat(lines, "\n") .. "\n", ["cv.txt"] = "a CV\n" })
end

-- The report's status per line.
local function statuses(path)
  local out = {}
  for line, status in (cli.read(path) or ""):gmatch("\n(%d+),(%a+),") do out[tonumber(line)] = status end
  return out
end

-- Every row: created/existing and accepted exactly once, or unknown; none
-- accepted twice, none sent again after it landed.
local function check_rows(integ, n, report, context)
  local per, st = creates(integ), statuses(report)
  local unknown = 0
  for i = 1, n do
    local email = ("person%02d@example.com"):format(i)
    local e = per[email] or { accepted = 0, repeated = 0 }
    local s = st[i + 1]
    assert.truthy(e.accepted <= 1, context .. ": " .. email .. " created " .. e.accepted .. " times")
    assert.equals(0, e.repeated, context .. ": " .. email .. " was sent again after it landed")
    if s == "unknown" then
      unknown = unknown + 1
    else
      assert.truthy(s == "created" or s == "existing", context .. ": line " .. (i + 1) .. " is " .. tostring(s))
      assert.equals(1, e.accepted, context .. ": line " .. (i + 1) .. " is " .. s .. " but was accepted "
        .. e.accepted .. " times")
    end
  end
  return unknown
end

describe("kombo apply: killed and rerun #cli", function()
  it("killed with every create in flight: the rerun waits, finds each as existing and sends none again #slow #once",
    function()
    local N = 6
    local dir = manifest(N, function(i) return 600 + 50 * i end)
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local jpath = dir .. "/m.csv.journal"
    local h = cli.spawn({ "apply", "--concurrency", "6", "--timeout", "2", dir .. "/m.csv" }, env, nil, "kombo")
    -- (the slow start sends 4 at first)
    assert.truthy(cli.wait_for(function() return cli.count_lines(jpath, "^written ") >= 4 end, 20),
      "the creates did not go out")
    cli.signal(h, "KILL")
    assert.equals(137, cli.wait(h, 10))
    local written = cli.count_lines(jpath, "^written ") - cli.count_lines(jpath, "^done ")
    assert.truthy(written >= 3, "too few creates in flight at the kill")
    local rc, out, err = cli.kombo({ "apply", "--timeout", "2", "--report", dir .. "/r.csv", dir .. "/m.csv" }, env)
    assert.equals(0, rc, out .. err)
    assert.truthy(has(err, "waiting "), err) -- not while those creates could still be in flight
    assert.truthy(has(out, ("%d found (settled)"):format(written)), out)
    assert.equals(0, check_rows(integ, N, dir .. "/r.csv", "one kill"))
    cli.rmtree(dir)
  end)

  it("killed at random moments, again and again, then run to the end: none twice, none silently missing #slow #once",
    function()
    local N, KILLS = 24, 6
    local seed = os.time()
    math.randomseed(seed)
    local dir = manifest(N, function(i) return 150 * (i % 3 + 1) end)
    local env = cli.env()
    local integ = env.KOMBO_INTEGRATION_ID
    local args = { "apply", "--concurrency", "4", "--timeout", "1", "--report", dir .. "/r.csv", dir .. "/m.csv" }
    local moments = {}
    for k = 1, KILLS do
      local d = 0.15 + math.random() * 1.2
      moments[k] = ("%.2f"):format(d)
      local h = cli.spawn(args, env, nil, "kombo")
      socket.sleep(d)
      os.execute(("kill -KILL %d 2>/dev/null"):format(h.pid)) -- (a run may have ended first)
      cli.wait(h, 10)
    end
    local context = ("seed %d, kills after %s s"):format(seed, table.concat(moments, ", "))
    local rc, out, err = cli.kombo(args, env)
    local unknown = check_rows(integ, N, dir .. "/r.csv", context)
    assert.equals(unknown > 0 and 1 or 0, rc, context .. ": " .. out .. err)
    assert.equals(unknown, tonumber(out:match("(%d+) unknown") or "0"), out)
    -- what is left unknown stays so (no proof), and a rerun sends none of it again
    if unknown > 0 then
      rc, out = cli.kombo(args, env)
      assert.equals(1, rc, out)
      check_rows(integ, N, dir .. "/r.csv", context .. ", rerun")
    end
    cli.rmtree(dir)
  end)
end)
