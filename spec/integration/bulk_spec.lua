-- attach_many against the stand-in (libcurl multi engine): every job lands
-- once under a concurrency limit lower than asked for, bad jobs are reported
-- by index, the outcome rule per job, rate-limit pauses, stop/abort, the
-- callbacks and the options.
local servers = require "support.servers"
local badserver = require "support.badserver"
local kombo = require "kombo"

local function set_limit(integ, n)
  local status, _, text = servers.http("POST",
    ("%s/_concurrency?integration=%s&limit=%d"):format(servers.standin_url(), integ, n), {}, "")
  assert(status == 200, "POST /_concurrency: " .. tostring(status) .. " " .. tostring(text))
end

local function job(candidate, i, over)
  return servers.merge({ candidate_id = candidate,
    body = { attachment = { bytes = ("document %d\n"):format(i), name = ("job-%04d.txt"):format(i), type = "CV" } } },
    over)
end

-- file_name -> how many times the stand-in accepted it, for one candidate id
local function landed(client, candidate)
  local res = assert(client:get_candidate_attachments { candidate_id = candidate })
  local count = {}
  for _, a in ipairs(res.data.results) do count[a.file_name] = (count[a.file_name] or 0) + 1 end
  return count
end

local function responses(integ, status)
  local n = 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.method == "POST" and rec.response and rec.response.status == status then n = n + 1 end
  end
  return n
end

describe("attach_many #integration #bulk", function()
  it("under a concurrency limit lower than asked for, every job lands exactly once and the 429s stay few", function()
    local client, integ = servers.client()
    set_limit(integ, 3)
    local jobs = {}
    for i = 1, 30 do jobs[i] = job("scenario-hold-150", i) end
    local summary = client:attach_many(jobs, { concurrency = 8 })
    assert.equals(30, summary.succeeded, servers.dump(summary.results))
    assert.equals(0, summary.failed)
    for i = 1, 30 do assert.is_false(kombo.is_error(summary.results[i])) end
    local count = landed(client, "scenario-hold-150")
    for i = 1, 30 do assert.equals(1, count[("job-%04d.txt"):format(i)], "job " .. i) end
    -- The first wave (4: the slow start) meets the limit once at most;
    -- after that the count stays at the announced 3.
    local n429 = responses(integ, 429)
    assert.is_true(n429 <= 2, "429s: " .. n429)
    assert.equals(n429, summary.retries)
    -- 30 uploads of 150 ms, 3 at a time: about 1.5 s of holding, plus the 1 s backoff
    assert.is_true(summary.elapsed < 6, "elapsed " .. summary.elapsed)
  end)

  it("keeps the in-flight count at or below the integration's limit (the stand-in counts them)", function()
    local client, integ = servers.client()
    set_limit(integ, 4)
    local peak = 0
    local jobs = {}
    for i = 1, 24 do jobs[i] = job("scenario-hold-100", i) end
    local summary = client:attach_many(jobs, { concurrency = 4, progress_interval = 0,
      on_progress = function(s) peak = math.max(peak, s.in_flight) end })
    assert.equals(24, summary.succeeded)
    assert.equals(0, responses(integ, 429))
    assert.is_true(peak <= 4 and peak >= 2, "peak " .. peak)
  end)

  it("reports a bad job with its index and goes on with the others", function()
    local client = servers.client()
    local jobs = {
      job("cand-bulk-bad", 1),
      { body = { attachment = { bytes = "x", name = "x.txt", type = "CV" } } },          -- no id
      job("cand-bulk-bad", 3, { body = { attachment = { type = "RESUME" } } }),          -- bad type
      job("cand-bulk-bad", 4, { application_id = "app-1" }),                           -- both ids
      "not a table",
      job("cand-bulk-bad", 6, { body = 42 }),                                            -- a shape mistake
      job("cand-bulk-bad", 7),
    }
    local seen = {}
    local summary = client:attach_many(jobs, { on_result = function(i, res, err) seen[i] = { res = res, err = err } end })
    assert.equals(2, summary.succeeded)
    assert.equals(5, summary.failed)
    assert.is_nil(summary.results) -- on_result given
    assert.truthy(seen[1].res and seen[7].res)
    for _, i in ipairs { 2, 3, 4, 5, 6 } do
      assert.is_nil(seen[i].res)
      assert.equals("validation", seen[i].err.kind, "job " .. i)
      assert.equals("not_sent", seen[i].err.outcome)
    end
    assert.matches("candidate_id", seen[2].err.message)
    assert.matches("body.attachment.type", seen[3].err.message)
    assert.matches("both", seen[4].err.message)
    assert.matches("table", seen[5].err.message)
    assert.matches("body", seen[6].err.problems[1].message)
  end)

  it("reads an iterator only as slots free up: memory bounded by the concurrency, not the job count", function()
    local client = servers.client()
    local pulled, reported, most_open = 0, 0, 0
    local summary = client:attach_many(function()
      if pulled == 300 then return nil end
      pulled = pulled + 1
      most_open = math.max(most_open, pulled - reported)
      return job("cand-bulk-iter", pulled)
    end, { concurrency = 4, on_result = function(_, res, err)
      assert(res, err and tostring(err))
      reported = reported + 1
    end })
    assert.equals(300, summary.succeeded)
    assert.equals(300, reported)
    assert.is_true(most_open <= 4 * 4 + 1, "jobs taken and not finished: " .. most_open)
  end)

  it("streams files and sources, and uploads to applications, in one batch", function()
    local client = servers.client()
    local path = os.tmpname()
    local big = ("0123456789abcdef"):rep(16 * 1024) -- 256 KiB: the read callback, not one buffer
    local f = assert(io.open(path, "wb")); f:write(big); f:close()
    local chunks = { "from ", "a source" }
    local summary = client:attach_many {
      { candidate_id = "cand-bulk-mixed", body = { attachment = { file = path, name = "big.txt", type = "CV" } } },
      { candidate_id = "cand-bulk-mixed", body = { attachment = { name = "src.txt", type = "OTHER", size = 13,
        source = function() return table.remove(chunks, 1) end } } },
      { application_id = "app-bulk-mixed", body = { attachment = { bytes = "letter", name = "l.txt", type = "COVER_LETTER" } } },
    }
    os.remove(path)
    assert.equals(3, summary.succeeded, servers.dump(summary.results))
    local rec
    for _, r in ipairs(servers.requests(function(x) return x.path == "/ats/candidates/cand-bulk-mixed/attachments" end)) do
      if r.body_length > 300000 then rec = r end
    end
    assert.truthy(rec, "the 256 KiB upload was recorded")
    assert.is_true(rec.body_length > #kombo.base64(big), "recorded " .. rec.body_length .. " bytes")
    assert.equals("app-bulk-mixed", summary.results[3].data.application_id)
  end)

  it("never resends a job whose outcome is unknown (the connection closed after the whole upload)", function()
    local client, integ = servers.client()
    local summary = client:attach_many { job("scenario-close", 1), job("cand-bulk-unknown", 2) }
    assert.equals(1, summary.succeeded)
    local err = summary.results[1]
    assert.is_true(kombo.is_error(err))
    assert.equals("unknown", err.outcome)
    assert.equals(1, err.attempts)
    assert.matches("attachment_exists", err.message)
    local posts = 0
    for _, rec in ipairs(servers.requests(integ)) do
      if rec.method == "POST" and rec.path:find("scenario%-close") then posts = posts + 1 end
    end
    assert.equals(1, posts)
  end)

  it("retries what the server refused before acting (503), counting the retries", function()
    local client = servers.client()
    local summary = client:attach_many { job("scenario-503-once", 1), job("scenario-503-twice", 2) }
    assert.equals(2, summary.succeeded, servers.dump(summary.results))
    assert.equals(3, summary.retries)
    assert.equals(2, summary.results[1].http.attempts)
    assert.equals(3, summary.results[2].http.attempts)
  end)

  it("pauses every new attempt after a rate-limit 429 for its Retry-After", function()
    local client, integ = servers.client { retries = servers.fast_retries { max_attempts = 2, max_interval = 5 } }
    local summary = client:attach_many({ job("scenario-ratelimit-429", 1), job("cand-bulk-after-rate", 2),
      job("cand-bulk-after-rate", 3) }, { concurrency = 1 })
    assert.equals(2, summary.succeeded)
    local first_429, later
    for _, rec in ipairs(servers.requests(integ)) do
      if rec.method == "POST" then
        if rec.path:find("ratelimit") and not first_429 then first_429 = rec.time
        elseif first_429 and not later then later = rec.time end
      end
    end
    assert.truthy(first_429 and later)
    -- Retry-After of the scenario is 1 s (RateLimit-Reset 1)
    assert.is_true(later - first_429 >= 0.9, ("next attempt %.3f s after the 429"):format(later - first_429))
  end)

  it("stop = 'drain' takes no new job and lets those in flight finish", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 20 do jobs[i] = job("scenario-hold-200", i) end
    local results = 0
    local summary = client:attach_many(jobs, { concurrency = 4,
      on_result = function(_, res) assert(res); results = results + 1 end,
      stop = function() if results >= 1 then return "drain" end end })
    assert.equals("drain", summary.stopped)
    assert.is_true(summary.succeeded >= 4 and summary.succeeded < 20, "succeeded " .. summary.succeeded)
    assert.equals(0, summary.failed)
    assert.equals(results, summary.succeeded)
  end)

  it("stop = 'abort' cuts the uploads in flight off: outcome unknown once the request went out", function()
    local client, integ = servers.client()
    local jobs = {}
    for i = 1, 6 do jobs[i] = job("scenario-hold-3000", i) end
    local t0 = os.time()
    local clock = require("kombo.core").now
    local started = clock()
    local summary = client:attach_many(jobs, { concurrency = 3,
      stop = function() if clock() - started > 0.5 then return "abort" end end })
    assert.equals("abort", summary.stopped)
    assert.equals(3, summary.failed) -- the three in flight; the other three were never taken
    for i = 1, 3 do
      local err = summary.results[i]
      assert.equals("aborted", err.kind)
      assert.equals("unknown", err.outcome)
    end
    assert.is_nil(summary.results[4])
    assert.is_true(os.time() - t0 < 3)
    local posts = 0
    for _, rec in ipairs(servers.requests(integ)) do if rec.method == "POST" then posts = posts + 1 end end
    assert.is_true(posts <= 3)
  end)

  it("stop = 'abort' reports the uploads it cut off in the order of their jobs", function()
    -- Jobs 2 and 3 land at once; 4 and 5 take their job tables (the last
    -- freed first), so the tables made hold jobs 1, 5 and 4 when the abort
    -- comes: the order of the reports is still the jobs' own.
    local client = servers.client()
    local jobs = { job("scenario-hold-3000", 1), job("cand-fast-a", 2), job("cand-fast-b", 3),
      job("scenario-hold-3000", 4), job("scenario-hold-3000", 5), job("scenario-hold-3000", 6) }
    local clock = require("kombo.core").now
    local started, order, aborted = clock(), {}, {}
    local summary = client:attach_many(jobs, { concurrency = 3,
      on_result = function(i, _, err)
        order[#order + 1] = i
        if err and err.kind == "aborted" then aborted[#aborted + 1] = i end
      end,
      stop = function() if clock() - started > 0.8 then return "abort" end end })
    assert.equals("abort", summary.stopped)
    assert.same({ 1, 4, 5 }, aborted, "reported in the order " .. table.concat(order, " "))
  end)

  it("a client closed by on_result: the jobs not yet made say so, without kombo's file and line", function()
    for _, batch in ipairs { "attach_many", "run_many" } do
      local client = servers.client()
      local jobs = {}
      for i = 1, 6 do jobs[i] = job("cand-closed-" .. batch, i) end
      local messages = {}
      local function on_result(i, _, err)
        if i == 1 then client:close() end
        if err then messages[#messages + 1] = err.message end
      end
      if batch == "attach_many" then
        client:attach_many(jobs, { concurrency = 1, on_result = on_result })
      else
        client:run_many("attach_to_candidate", jobs, { concurrency = 1, on_result = on_result })
      end
      assert.is_true(#messages > 0, batch)
      for _, m in ipairs(messages) do
        assert.matches("kombo client is closed", m, 1, true)
        assert.is_nil(m:find("%.lua:%d+:"), batch .. ": " .. m)
      end
    end
  end)

  it("a client closed by on_result with uploads in flight: every job is still reported, none raises", function()
    for _, batch in ipairs { "attach_many", "run_many" } do
      local client = servers.client()
      local jobs = {}
      for i = 1, 12 do jobs[i] = job("cand-closed-many-" .. batch, i) end
      local seen, n = {}, 0
      local function on_result(i, res, err)
        n = n + 1
        assert.is_nil(seen[i], "reported twice: " .. i)
        seen[i] = res and "ok" or err.kind .. "/" .. tostring(err.outcome)
        if n == 2 then client:close() end
      end
      local ok, e
      if batch == "attach_many" then
        ok, e = pcall(client.attach_many, client, jobs, { concurrency = 8, on_result = on_result })
      else
        ok, e = pcall(client.run_many, client, "attach_to_candidate", jobs, { concurrency = 8, on_result = on_result })
      end
      assert.is_true(ok, batch .. ": " .. tostring(e))
      assert.equals(12, n, batch)
      assert.equals(12, e.succeeded + e.failed, batch)
    end
  end)

  it("stop may say 'abort' after 'drain' (a second Ctrl-C): the uploads in flight are cut off then", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 6 do jobs[i] = job("scenario-hold-3000", i) end
    local clock = require("kombo.core").now
    local started = clock()
    local summary = client:attach_many(jobs, { concurrency = 2, stop = function()
      local dt = clock() - started
      if dt > 0.6 then return "abort" elseif dt > 0.3 then return "drain" end
    end })
    assert.equals("abort", summary.stopped)
    assert.equals(2, summary.failed)
    assert.equals("aborted", summary.results[1].kind)
    assert.is_true(summary.elapsed < 2, "elapsed " .. summary.elapsed)
  end)

  it("an error raised in on_result ends the batch and is raised by attach_many, as an error object", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 10 do jobs[i] = job("scenario-hold-100", i) end
    local ok, err = pcall(client.attach_many, client, jobs, { concurrency = 2,
      on_result = function() error("stop here") end })
    assert.is_false(ok)
    assert.matches("stop here", tostring(err))
    assert.equals("callback", err.kind)
    assert.equals("on_result", err.where)
    assert.matches("stop here", err.cause)
    -- the client still works afterwards
    assert.truthy(client:attach_to_candidate(job("cand-bulk-after-error", 1)))
  end)

  -- Finding 6: whatever raises, every job that may have landed is reported,
  -- through on_result or the error's `results`.  Compares the jobs reported
  -- as uploaded with the uploads the stand-in accepted, name by name.
  local function reported_equals_accepted(client, candidate, delivered, err)
    local reported = {}
    for i, r in pairs(delivered) do reported[i] = r end
    for i, r in pairs(type(err) == "table" and err.results or {}) do reported[i] = r end
    local count = landed(client, candidate)
    local n_reported, n_accepted, n_unknown = 0, 0, 0
    for _, r in pairs(reported) do
      if not kombo.is_error(r) then n_reported = n_reported + 1 end
    end
    for _, n in pairs(count) do n_accepted = n_accepted + n end
    assert.equals(n_accepted, n_reported, ("%d uploads reported, %d accepted at the server"):format(n_reported, n_accepted))
    for i, r in pairs(reported) do
      if not kombo.is_error(r) then
        assert.equals(1, count[("job-%04d.txt"):format(i)], "job " .. i .. " reported uploaded, not at the server")
      elseif r.outcome == "unknown" then n_unknown = n_unknown + 1 end
    end
    for name, n in pairs(count) do
      local i = tonumber(name:match("job%-(%d+)%.txt"))
      assert.truthy(reported[i], name .. " accepted at the server, never reported")
      assert.equals(1, n, name .. " accepted " .. n .. " times")
    end
    assert.equals(0, n_unknown)
    return n_reported, n_accepted
  end

  local function raising_batch(candidate, n, opts)
    local client = servers.client()
    local delivered = {}
    local user_on_result = opts.on_result
    opts.on_result = function(i, res, err)
      delivered[i] = res or err
      if user_on_result then user_on_result(i, res, err) end
    end
    local jobs = opts.jobs
    if not jobs then
      jobs = {}
      for i = 1, n do jobs[i] = job(candidate, i) end
    end
    opts.jobs = nil
    local ok, err = pcall(client.attach_many, client, jobs, opts)
    assert.is_false(ok, "attach_many raised")
    local reported, accepted = reported_equals_accepted(client, candidate, delivered, err)
    return err, reported, accepted
  end

  it("on_result raising at the 3rd result: every upload that landed is reported (the error's results)", function()
    local calls = 0
    local err, reported, accepted = raising_batch("scenario-hold-150", 40, { concurrency = 8,
      on_result = function() calls = calls + 1; if calls == 3 then error("journal full") end end })
    assert.equals(3, calls) -- never called again after it raised
    assert.equals("callback", err.kind)
    assert.equals("on_result", err.where)
    assert.matches("journal full", tostring(err))
    assert.is_table(err.summary)
    assert.equals(reported, accepted)
    assert.is_true(accepted >= 3 and accepted < 40, "accepted " .. accepted)
  end)

  it("on_progress raising: every upload that landed is reported", function()
    local calls = 0
    local err, reported, accepted = raising_batch("scenario-hold-150", 40, { concurrency = 8,
      progress_interval = 0, on_progress = function(s)
        calls = calls + 1
        if s.done >= 2 then error("progress bar broke") end
      end })
    assert.equals("on_progress", err.where)
    assert.matches("progress bar broke", err.cause)
    assert.equals(reported, accepted)
    assert.is_true(accepted >= 2 and accepted < 40, "accepted " .. accepted)
  end)

  it("stop raising: every upload that landed is reported", function()
    local clock = require("kombo.core").now
    local started = clock()
    local err, reported, accepted = raising_batch("scenario-hold-150", 40, { concurrency = 8,
      stop = function() if clock() - started > 0.4 then error({ code = "signal" }) end end })
    assert.equals("stop", err.where)
    assert.same({ code = "signal" }, err.cause) -- the original value, not a string
    assert.equals(reported, accepted)
    assert.is_true(accepted >= 1 and accepted < 40, "accepted " .. accepted)
  end)

  it("the jobs iterator raising at its 40th call: every upload that landed is reported", function()
    local pulled = 0
    local err, reported, accepted = raising_batch("scenario-hold-100", 0, { concurrency = 8,
      jobs = function()
        pulled = pulled + 1
        if pulled == 40 then error("manifest unreadable") end
        return job("scenario-hold-100", pulled)
      end })
    assert.equals(40, pulled)
    assert.equals("jobs", err.where)
    assert.matches("manifest unreadable", tostring(err))
    assert.equals(reported, accepted)
    -- (the iterator is read when no taken job is queued: the 39 were all sent)
    assert.equals(39, accepted)
    assert.equals(39, err.summary.succeeded)
  end)

  -- Finding 8: "drain" starts nothing new.
  it("stop = 'drain' sends nothing new: jobs queued behind the slow start end as not sent", function()
    local client, integ = servers.client()
    local jobs = {}
    for i = 1, 80 do jobs[i] = job("scenario-hold-300", i) end
    local clock = require("kombo.core").now
    local started = clock()
    local summary = client:attach_many(jobs, { concurrency = 16,
      stop = function() if clock() - started > 0.1 then return "drain" end end })
    local posts = 0
    for _, rec in ipairs(servers.requests(integ)) do if rec.method == "POST" then posts = posts + 1 end end
    assert.equals("drain", summary.stopped)
    -- the slow start's first wave of 4 was in flight; nothing after it was sent
    assert.equals(4, posts)
    assert.equals(4, summary.succeeded)
    local not_sent = 0
    for _, r in pairs(summary.results) do
      if kombo.is_error(r) then
        assert.equals("not_sent", r.outcome)
        assert.matches("drained before this upload was sent", r.message)
        not_sent = not_sent + 1
      end
    end
    assert.equals(summary.failed, not_sent)
    assert.is_true(summary.elapsed < 1.5, "elapsed " .. summary.elapsed)
  end)

  it("stop = 'drain' while a job waits for its retry: it ends with its last answer, not sent again", function()
    local client, integ = servers.client { retries = servers.fast_retries { initial_interval = 1, max_interval = 1 } }
    local waiting = false
    local summary = client:attach_many({ job("scenario-503-twice", 1) }, { progress_interval = 0,
      on_progress = function(s) if s.waiting > 0 then waiting = true end end,
      stop = function() if waiting then return "drain" end end })
    local posts = 0
    for _, rec in ipairs(servers.requests(integ)) do if rec.method == "POST" then posts = posts + 1 end end
    assert.equals(1, posts)
    local err = summary.results[1]
    assert.is_true(kombo.is_error(err))
    assert.equals(503, err.status)
    assert.equals(1, err.attempts)
    assert.is_true(summary.elapsed < 0.8, "elapsed " .. summary.elapsed)
  end)

  -- Finding 7: one integration's slow restrictions do not hold the others.
  it("preflight: a slow restrictions answer for one integration does not stall another's jobs", function()
    local client, b = servers.client { preflight = true, timeout = 1 }
    local a = servers.unique("slow")
    local status = servers.http("POST", ("%s/_restrictions?integration=%s&delay=4"):format(servers.standin_url(), a), {}, "")
    assert.equals(200, status)
    local jobs = {}
    for i = 1, 12 do
      jobs[i] = job("scenario-hold-100", i, { integration_id = (i % 2 == 1) and a or b })
    end
    local clock = require("kombo.core").now
    local started = clock()
    local b_done, seen = 0, {}
    local summary = client:attach_many(jobs, { concurrency = 8, on_result = function(i, res, err)
      seen[i] = res or err
      if i % 2 == 0 then b_done = math.max(b_done, clock() - started) end
    end })
    assert.equals(6, summary.succeeded)
    for i = 2, 12, 2 do assert.is_false(kombo.is_error(seen[i]), "job " .. i) end
    for i = 1, 11, 2 do
      assert.equals("timeout", seen[i].kind, "job " .. i)
      assert.equals("not_sent", seen[i].outcome)
      assert.matches("preflight", seen[i].message)
    end
    -- B's 6 uploads of 100 ms: their own time, not A's 4 s (or worse, one fetch per job)
    assert.is_true(b_done < 1, ("B's jobs done after %.2f s"):format(b_done))
    -- one fetch at a time for A (its attempts), and its failure is remembered
    local gets = 0
    for _, rec in ipairs(servers.requests(a)) do if rec.method == "GET" then gets = gets + 1 end end
    assert.is_true(gets <= 3, gets .. " restrictions requests for A")
  end)

  it("preflight reads a fractional max_file_size_bytes (5.5) as its whole bytes", function()
    local client, integ = servers.client { preflight = true }
    local status = servers.http("POST", ("%s/_restrictions?integration=%s"):format(servers.standin_url(), integ), {},
      '{"types":{"CV":{"is_supported":true,"max_file_size_bytes":5.5,"accepted_mime_types":null}}}')
    assert.equals(200, status)
    local function upload(bytes)
      return client:attach_to_candidate { candidate_id = "cand-bulk-frac",
        body = { attachment = { bytes = bytes, name = "f.txt", type = "CV" } } }
    end
    local res, err = upload("12345678")
    assert.is_nil(res)
    assert.equals("validation", err.kind)
    assert.matches("max_file_size_bytes 5", err.message)
    assert.truthy(upload("12345"))
    local summary = client:attach_many { job("cand-bulk-frac", 1), { candidate_id = "cand-bulk-frac",
      body = { attachment = { bytes = "1234", name = "g.txt", type = "CV" } } } }
    assert.equals(1, summary.succeeded)
    assert.equals("validation", summary.results[1].kind)
  end)

  it("reports progress with totals, at most every progress_interval and once at the end", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 12 do jobs[i] = job("scenario-hold-100", i) end
    local calls = {}
    client:attach_many(jobs, { concurrency = 3, progress_interval = 0.1,
      on_progress = function(s) calls[#calls + 1] = s end })
    local last = calls[#calls]
    assert.equals(12, last.done)
    assert.equals(12, last.succeeded)
    assert.equals(0, last.in_flight)
    assert.is_true(last.bytes_sent > 12 * 100)
    assert.is_true(#calls >= 3 and #calls <= 20, #calls .. " progress calls")
    for i = 2, #calls do assert.is_true(calls[i].done >= calls[i - 1].done) end
  end)

  it("progress counts the bytes of the uploads in flight (sent, the answers held back)", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 3 do jobs[i] = job("scenario-hold-600", i) end
    local calls = {}
    client:attach_many(jobs, { concurrency = 3, progress_interval = 0.05,
      on_progress = function(s) calls[#calls + 1] = s end })
    local during
    for _, s in ipairs(calls) do
      if s.in_flight == 3 and s.done == 0 and s.bytes_sent > 0 then during = s end
    end
    assert.is_table(during, "no progress with the 3 uploads in flight and their bytes counted")
    -- (each request: its head and a multipart body of more than 100 bytes)
    assert.is_true(during.bytes_sent > 3 * 100, during.bytes_sent .. " bytes")
  end)

  it("progress_interval = 1 over about 2 s: on_progress about twice, not every poll (issue 18, 1)", function()
    local client = servers.client()
    local jobs = {}
    for i = 1, 2 do jobs[i] = job("scenario-hold-1000", i) end
    local calls = 0
    local summary = client:attach_many(jobs, { concurrency = 1, progress_interval = 1,
      on_progress = function() calls = calls + 1 end })
    assert.equals(2, summary.succeeded)
    assert.is_true(summary.elapsed >= 1.9, "elapsed " .. summary.elapsed)
    -- at about 1 s and 2 s, and once at the end
    assert.is_true(calls >= 2 and calls <= 4, calls .. " progress calls")
  end)

  it("stop() returning anything but nil, false, \"drain\" or \"abort\" raises, naming the value", function()
    for _, value in ipairs { true, "halt" } do
      local client = servers.client()
      local ok, err = pcall(client.attach_many, client, { job("cand-bulk-stop", 1), job("cand-bulk-stop", 2) },
        { concurrency = 1, stop = function() return value end })
      assert.is_false(ok)
      assert.equals("callback", err.kind)
      assert.equals("stop", err.where)
      assert.matches(("stop() returned %s; it must return nil, false, \"drain\" or \"abort\""):format(
        type(value) == "string" and ("%q"):format(value) or tostring(value)), tostring(err), 1, true)
      assert.equals(0, err.summary.succeeded) -- it drained: nothing was taken
    end
  end)

  it("checks its options, naming them", function()
    local client = servers.client()
    for _, bad in ipairs {
      { { concurrency = 0 }, "concurrency" }, { { concurrency = 31 }, "concurrency" },
      { { concurrency = 2.5 }, "concurrency" }, { { on_result = 1 }, "on_result" },
      { { concurency = 4 }, "unknown option 'concurency' (did you mean 'concurrency'?)" }, { "x", "options table" },
    } do
      local ok, err = pcall(client.attach_many, client, {}, bad[1])
      assert.is_false(ok)
      assert.matches(bad[2], err, 1, true)
    end
    assert.has_error(function() client:attach_many(42) end)
    client:close()
    assert.has_error(function() client:attach_many({}) end)
  end)

  it("module form, debug lines without the key, and no key in any result", function()
    local lines = {}
    local client = servers.client { debug = function(l) lines[#lines + 1] = l end }
    local summary = client:attach_many { job("cand-bulk-debug", 1), job("scenario-error-400", 2) }
    assert.equals(1, summary.succeeded)
    local text = table.concat(lines, "\n") .. servers.dump(summary.results)
    assert.not_matches(servers.API_KEY, text, 1, true)
    assert.matches("POST", text)
    assert.matches("Authorization: Bearer <redacted>", text, 1, true)
    assert.is_function(kombo.attach_many)
  end)
end)

describe("attach_many reads odd limit headers by the core's one rule #integration #bulk", function()
  local srv
  setup(function() srv = badserver.start(servers.UNDER_VALGRIND and 900 or 120) end)
  teardown(function() badserver.stop(srv) end)

  -- Every answer says Concurrency-Limit 5, oddly spelled: a 35-digit
  -- 000...005 (read as 0 once, which clamped the batch to one upload in
  -- flight) or the header twice (left out of res.http.limits once).
  for _, case in ipairs { "limits-zeros", "limits-twice" } do
    it(case .. ": the batch keeps more than one in flight, and every result's limits say 5", function()
      local client = servers.client { server_url = badserver.url(srv, "raw-" .. case) }
      local jobs = {}
      for i = 1, 24 do jobs[i] = job("cand-bulk-limits", i) end
      local results, allowed, limits = 0, math.huge, {}
      local summary = client:attach_many(jobs, { concurrency = 4, progress_interval = 0,
        on_result = function(i, res)
          results = results + 1
          limits[i] = res and res.http.limits.concurrency_limit
        end,
        -- after the first wave has answered: how many the batch allows in
        -- flight (a limit read as 0 clamps it to 1; in_flight itself is
        -- too brief to sample against a server that answers at once)
        on_progress = function(s) if results >= 4 then allowed = math.min(allowed, s.concurrency) end end })
      client:close()
      assert.equals(24, summary.succeeded, servers.dump(summary.results))
      for i = 1, 24 do assert.equals(5, limits[i], "job " .. i) end
      assert.is_true(allowed >= 2 and allowed < math.huge, "allowed in flight after the first answers: " .. allowed)
    end)
  end
end)
