-- client:run_many against the stand-in (libcurl multi engine): attach_many's
-- batch for any operation.  Every job is one call of the named method with
-- that job's arguments; bad jobs are reported by index; the outcome rule per
-- job; misuse raises.  The admission itself is attach_many's (bulk_spec.lua).
local servers = require "support.servers"
local kombo = require "kombo"

local function candidate(i)
  return { first_name = "Ada" .. i, last_name = "Lovelace", email_address = ("ada%d@example.com"):format(i) }
end

-- The POSTs the stand-in recorded for this integration, by URI.
local function posts(integ)
  local by_uri, n = {}, 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "POST" then
      by_uri[rec.uri] = (by_uri[rec.uri] or 0) + 1
      n = n + 1
    end
  end
  return by_uri, n
end

describe("run_many #integration #bulk", function()
  it("create_application for 12 rows: every row sent once, results by index, its own body", function()
    local client, integ = servers.client()
    local jobs = {}
    for i = 1, 12 do jobs[i] = { job_id = "job-" .. i, body = { candidate = candidate(i) } } end
    local summary = client:run_many("create_application", jobs, { concurrency = 5 })
    assert.equals(12, summary.succeeded, servers.dump(summary.results))
    assert.equals(0, summary.failed)
    local by_uri, n = posts(integ)
    assert.equals(12, n)
    for i = 1, 12 do
      assert.equals(1, by_uri["/ats/jobs/job-" .. i .. "/applications"], "job " .. i)
      assert.equals("success", summary.results[i].status)
    end
    -- each request carried its own row
    for _, rec in ipairs(servers.requests(integ)) do
      local i = tonumber(rec.uri:match("job%-(%d+)"))
      assert.equals(("ada%d@example.com"):format(i), rec.json.candidate.email_address)
    end
  end)

  it("under a concurrency limit lower than asked for, every create lands once and the 429s stay few", function()
    local client, integ = servers.client()
    local status = servers.http("POST", ("%s/_concurrency?integration=%s&limit=3"):format(servers.standin_url(), integ),
      {}, "")
    assert.equals(200, status)
    local jobs = {}
    for i = 1, 20 do
      jobs[i] = { job_id = "scenario-hold-120", body = { candidate = candidate(100 + i) } }
    end
    local peak = 0
    local summary = client:run_many("create_application", jobs, { concurrency = 10, progress_interval = 0,
      on_progress = function(st) if st.in_flight > peak then peak = st.in_flight end end })
    assert.equals(20, summary.succeeded, servers.dump(summary.results))
    local accepted, n429 = {}, 0
    for _, rec in ipairs(servers.requests(integ)) do
      if rec.method == "POST" and rec.response and rec.response.status == 429 then n429 = n429 + 1
      elseif rec.method == "POST" then
        local email = rec.json.candidate.email_address
        accepted[email] = (accepted[email] or 0) + 1
      end
    end
    for i = 1, 20 do assert.equals(1, accepted[("ada%d@example.com"):format(100 + i)], "row " .. i) end
    -- the slow start's first wave (4) meets the limit once at most; then 3 at a time
    assert.is_true(n429 <= 2, "429s: " .. n429)
    assert.equals(n429, summary.retries)
  end)

  it("an iterator is read lazily, on_result gets every index once, on_progress ends at the total", function()
    local client = servers.client()
    local given, seen, last = 0, {}, nil
    local function next_job()
      if given == 9 then return nil end
      given = given + 1
      return { candidate_id = "cand-" .. given, body = { tag = { name = "imported" } } }
    end
    local summary = client:run_many("add_candidate_tag", next_job, {
      concurrency = 3,
      on_result = function(i, res, err)
        assert.is_nil(err)
        assert.equals("success", res.status)
        assert.is_nil(seen[i])
        seen[i] = true
      end,
      on_progress = function(stats) last = stats end,
    })
    assert.equals(9, summary.succeeded)
    assert.is_nil(summary.results) -- on_result had them
    for i = 1, 9 do assert.is_true(seen[i], "index " .. i) end
    assert.equals(9, last.done)
  end)

  it("a bad job is that job's validation error (by index), sends nothing, and the others go", function()
    local client, integ = servers.client()
    local jobs = {
      { job_id = "j1", body = { candidate = candidate(1) } },
      { job_id = "j2", body = { candidate = { first_name = 5 } } },
      "not a table",
      { job_id = "j4", body = { candidate = candidate(4) } },
    }
    local summary = client:run_many("create_application", jobs)
    assert.equals(2, summary.succeeded)
    assert.equals(2, summary.failed)
    local e2, e3 = summary.results[2], summary.results[3]
    assert.equals("validation", e2.kind)
    assert.truthy(servers.dump(e2.problems):find("body.candidate.first_name", 1, true), servers.dump(e2.problems))
    assert.equals("validation", e3.kind)
    assert.equals("job", e3.problems[1].path)
    assert.truthy(e3.problems[1].message:find("create_application arguments", 1, true))
    local by_uri, n = posts(integ)
    assert.equals(2, n)
    assert.is_nil(by_uri["/ats/jobs/j2/applications"])
  end)

  it("the outcome rule per job: a create answered 500 is unknown and not sent again; a 503 is", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_interval = 0.05 } }
    local jobs = {
      { job_id = "scenario-500-once", body = { candidate = candidate(1) } },
      { job_id = "scenario-503-once", body = { candidate = candidate(2) } },
    }
    local summary = client:run_many("create_application", jobs)
    local e1, r2 = summary.results[1], summary.results[2]
    assert.equals("unknown", e1.outcome)
    assert.equals(1, e1.attempts)
    assert.equals("success", r2.status)
    assert.equals(2, r2.http.attempts)
    local by_uri = posts(integ)
    assert.equals(1, by_uri["/ats/jobs/scenario-500-once/applications"])
    assert.equals(2, by_uri["/ats/jobs/scenario-503-once/applications"])
  end)

  it("a read too: get_candidate_attachments for several candidates", function()
    local client = servers.client()
    local summary = client:run_many("get_candidate_attachments",
      { { candidate_id = "a" }, { candidate_id = "b" }, { candidate_id = "c" } })
    assert.equals(3, summary.succeeded)
    for i = 1, 3 do assert.is_table(summary.results[i].data.results) end
  end)

  it("misuse raises at the caller: an unknown operation (with the nearest name), a bad option", function()
    local client = servers.client()
    local ok, err = pcall(client.run_many, client, "create_aplication", {})
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'run_many' (unknown operation 'create_aplication'", 1, true), err)
    assert.truthy(err:find("create_application", 40, true), err)
    for _, case in ipairs {
      { { 42, {} }, "operation name expected, got number" },
      { { "add_candidate_tag", 5 }, "bad argument #2 to 'run_many' (an array of jobs or an iterator function expected" },
      { { "add_candidate_tag", {}, { concurency = 2 } }, "bad argument #3 to 'run_many' (unknown option 'concurency'" },
    } do
      ok, err = pcall(client.run_many, client, (table.unpack or unpack)(case[1], 1, 3)) -- luacheck: ignore 143
      assert.is_false(ok)
      assert.truthy(err:find(case[2], 1, true), err)
    end
  end)

  it("a raising on_result drains and raises a BatchError naming run_many, no result lost", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 6 do jobs[i] = { candidate_id = "c" .. i, body = { tag = { name = "x" } } } end
    local ok, err = pcall(client.run_many, client, "add_candidate_tag", jobs, {
      concurrency = 2,
      on_result = function(i) if i == 1 then error("boom") end end,
    })
    assert.is_false(ok)
    assert.equals("callback", err.kind)
    assert.truthy(tostring(err):find("^run_many: on_result raised: "), tostring(err))
    assert.is_table(err.results[1])
  end)

  it("kombo.run_many runs on the default client", function()
    local _, integ = servers.client()
    kombo.configure { api_key = servers.API_KEY, server_url = servers.standin_url(),
      integration_id = integ, retries = false }
    local summary = kombo.run_many("add_candidate_tag", { { candidate_id = "d1", body = { tag = { name = "t" } } } })
    assert.equals(1, summary.succeeded)
  end)
end)
