-- attach_many inside nginx: light threads over cosockets, under the
-- stand-in's concurrency limit; the worker keeps answering meanwhile; an
-- abort reports the uploads cut off as unknown.
local S = require "nginx.support"

local STANDIN, APP
local run_id = ("%d"):format(math.floor(S.now() * 1000) % 1000000000)
local function integration(name) return ("ngx-bulk-%s-%s"):format(name, run_id) end

describe("attach_many in nginx #bulk", function()
  setup(function()
    S.ensure_lib51()
    STANDIN, APP = S.standin_and_app()
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
  end)

  it("lands every job once under a limit lower than the concurrency, and the worker stays responsive", function()
    local integ = integration("limit")
    S.request("POST", ("%s/_concurrency?integration=%s&limit=3"):format(STANDIN, integ), "")
    local seq = S.standin_seq(STANDIN)
    -- The batch runs in the background (curl), /ping is timed meanwhile:
    -- the same worker serves both.
    local host, port = APP.url:match("^http://([^:/]+):(%d+)")
    local out = os.tmpname()
    -- (uploads held 400 ms: a blocked worker answers /ping after one; 0.3 s leaves room for a loaded machine)
    local body = S.cjson.encode { integration = integ, n = 20, concurrency = 8, candidate = "scenario-hold-400" }
    os.execute(("curl -s -m 60 -X POST --data-binary '%s' '%s/bulk' > '%s' &"):format(body, APP.url, out))
    local worst, pings = 0, 0
    local text
    local deadline = S.now() + 60
    repeat
      local ms = S.timed_get(host, tonumber(port), "/ping")
      worst, pings = math.max(worst, ms), pings + 1
      S.sleep(0.02)
      local f = io.open(out, "rb")
      text = f and f:read("*a") or ""
      if f then f:close() end
    until text:find("}%s*$") or S.now() > deadline
    os.remove(out)
    local ok, r = pcall(S.cjson.decode, text)
    assert(ok, "no answer from /bulk: " .. text .. "\n" .. S.error_log(APP):sub(-3000))
    assert.equals(20, r.succeeded, S.cjson.encode(r.results))
    assert.equals(0, r.failed)
    assert.is_true(r.peak <= 8)
    local names, n429 = {}, 0
    for _, rec in ipairs(S.standin_records(STANDIN, seq, integ)) do
      if rec.method == "POST" then
        if rec.response and rec.response.status == 429 then n429 = n429 + 1
        else
          local sent = S.cjson.decode(rec.body)
          names[sent.attachment.name] = (names[sent.attachment.name] or 0) + 1
        end
      end
    end
    for i = 1, 20 do assert.equals(1, names[("bulk-%03d.txt"):format(i)], "job " .. i) end
    assert.is_true(n429 <= 2, "429s " .. n429)
    assert.equals(n429, r.retries)
    assert.is_true(pings >= 5, pings .. " pings")
    assert.is_true(worst < 0.3, ("/ping took %.3f s during the batch"):format(worst))
  end)

  it("abort cuts the uploads in flight off: kind aborted, outcome unknown; jobs never taken are not reported", function()
    local integ = integration("abort")
    local r = S.json("POST", APP.url .. "/bulk", { integration = integ, n = 6, concurrency = 2,
      candidate = "scenario-hold-3000", abort_after = 0.4 }, 60)
    assert.equals("abort", r.stopped)
    assert.equals(2, r.failed)
    for i = 1, 2 do
      assert.equals("aborted", r.results[i].err.kind)
      assert.equals("unknown", r.results[i].err.outcome)
    end
    for i = 3, 6 do assert.equals(S.cjson.null, r.results[i]) end
    assert.is_true(r.elapsed < 2.5, "elapsed " .. r.elapsed)
  end)

  -- Uploads reported as uploaded (on_result, then the raised error's
  -- results) against those the stand-in accepted, name by name.
  local function reported_equals_accepted(r, integ, seq)
    local accepted, n_accepted, n_reported = {}, 0, 0
    for _, rec in ipairs(S.standin_records(STANDIN, seq, integ)) do
      if rec.method == "POST" and rec.response and rec.response.status == 200 then
        local name = S.cjson.decode(rec.body).attachment.name
        accepted[name] = (accepted[name] or 0) + 1
        n_accepted = n_accepted + 1
      end
    end
    for i, d in ipairs(r.results) do
      if d ~= S.cjson.null and d.ok then
        n_reported = n_reported + 1
        assert.equals(1, accepted[("bulk-%03d.txt"):format(i)], "job " .. i .. " reported, not accepted")
      end
    end
    assert.equals(n_accepted, n_reported, ("%d reported, %d accepted"):format(n_reported, n_accepted))
    return n_accepted
  end

  it("on_result raising at the 3rd result: every upload that landed is reported (the error's results)", function()
    local integ = integration("raise")
    local seq = S.standin_seq(STANDIN)
    local r = S.json("POST", APP.url .. "/bulk", { integration = integ, n = 30, concurrency = 8,
      candidate = "scenario-hold-150", on_result_raises_at = 3 }, 60)
    assert.truthy(r.raised, "attach_many raised")
    assert.equals("callback", r.raised.kind)
    assert.equals("on_result", r.raised.where)
    assert.matches("journal full", r.raised.message)
    local n = reported_equals_accepted(r, integ, seq)
    assert.is_true(n >= 3 and n < 30, n .. " accepted")
  end)

  it("the jobs iterator raising at its 20th call: the 19 taken are all reported, those in flight finished", function()
    local integ = integration("iter")
    local seq = S.standin_seq(STANDIN)
    local r = S.json("POST", APP.url .. "/bulk", { integration = integ, n = 40, concurrency = 8,
      candidate = "scenario-hold-100", jobs_raise_at = 20 }, 60)
    assert.truthy(r.raised, "attach_many raised")
    assert.equals("jobs", r.raised.where)
    -- It raised while the first wave (the slow start's 4) was in flight:
    -- those finish, the 15 queued behind them are not sent.
    assert.equals(4, reported_equals_accepted(r, integ, seq))
    for i = 1, 19 do
      local d = r.results[i]
      assert.is_true(d ~= S.cjson.null, "job " .. i .. " not reported")
      if not d.ok then assert.equals("not_sent", d.err.outcome, "job " .. i) end
    end
    assert.equals(S.cjson.null, r.results[20])
  end)

  it("drain sends nothing new: jobs queued behind the slow start end as not sent", function()
    local integ = integration("drain")
    local seq = S.standin_seq(STANDIN)
    local r = S.json("POST", APP.url .. "/bulk", { integration = integ, n = 60, concurrency = 16,
      candidate = "scenario-hold-300", drain_after = 0.1 }, 60)
    assert.equals("drain", r.stopped)
    local posts = 0
    for _, rec in ipairs(S.standin_records(STANDIN, seq, integ)) do
      if rec.method == "POST" then posts = posts + 1 end
    end
    assert.equals(4, posts) -- the slow start's first wave
    assert.equals(4, r.succeeded)
    for _, d in ipairs(r.results) do
      if d ~= S.cjson.null and not d.ok then
        assert.equals("not_sent", d.err.outcome)
        assert.matches("drained before this upload was sent", d.err.message)
      end
    end
    assert.is_true(r.elapsed < 1.5, "elapsed " .. r.elapsed)
  end)

  it("preflight: a slow restrictions answer for one integration does not stall another's jobs", function()
    local fast, slow = integration("pf-fast"), integration("pf-slow")
    S.request("POST", ("%s/_restrictions?integration=%s&delay=4"):format(STANDIN, slow), "")
    local seq = S.standin_seq(STANDIN)
    local r = S.json("POST", APP.url .. "/bulk", { integration = fast, slow_integration = slow, n = 12,
      concurrency = 8, candidate = "scenario-hold-100", preflight = true, timeout = 1 }, 60)
    assert.equals(6, r.succeeded, S.cjson.encode(r.results))
    local b_done = 0
    for i = 2, 12, 2 do
      assert.is_true(r.results[i].ok, "job " .. i)
      b_done = math.max(b_done, r.done_at[i])
    end
    for i = 1, 11, 2 do
      assert.equals("timeout", r.results[i].err.kind, "job " .. i)
      assert.equals("not_sent", r.results[i].err.outcome)
    end
    assert.is_true(b_done < 1, ("the fast integration's jobs done after %.2f s"):format(b_done))
    local gets = 0
    for _, rec in ipairs(S.standin_records(STANDIN, seq, slow)) do
      if rec.method == "GET" then gets = gets + 1 end
    end
    assert.is_true(gets <= 3, gets .. " restrictions requests for the slow integration")
  end)

  it("run_many: create_application for 10 rows over light threads, each row once, a bad row by index", function()
    local integ = integration("run-many")
    local seq = S.standin_seq(STANDIN)
    local jobs = {}
    for i = 1, 10 do
      jobs[i] = { job_id = "rm-job-" .. i, body = { candidate = { first_name = "A" .. i, last_name = "B",
                                                                  email_address = ("a%d@example.com"):format(i) } } }
    end
    jobs[4] = { job_id = "rm-job-4", body = { candidate = { first_name = 4 } } }
    local _, text = S.request("POST", APP.url .. "/run_many", S.cjson.encode {
      opts = { integration_id = integ, retries = false }, name = "create_application", jobs = jobs, concurrency = 4 })
    local r = S.cjson.decode(text)
    assert.equals(9, r.succeeded, text)
    assert.equals(1, r.failed)
    assert.equals("validation", r.results[4].err.kind)
    local sent = {}
    for _, rec in ipairs(S.standin_records(STANDIN, seq, integ)) do
      if rec.method == "POST" then sent[rec.uri] = (sent[rec.uri] or 0) + 1 end
    end
    for i = 1, 10 do
      assert.equals(i ~= 4 and 1 or nil, sent["/ats/jobs/rm-job-" .. i .. "/applications"], "row " .. i)
    end
  end)
end)
