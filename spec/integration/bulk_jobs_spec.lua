-- attach_many/run_many take a finished job's table again for a later job
-- (lua/kombo/bulk.lua, take()): nothing of the job before may stay in it.
local servers = require "support.servers"

describe("a batch's jobs #integration #bulk", function()
  it("a job's table taken again carries nothing of the one before: its hook's failure, its retry", function()
    local client = servers.client()
    local key = servers.unique("reuse")
    local retried = { ["X-Standin-Scenario"] = "503-once", ["X-Standin-Key"] = key }
    local attempts = {}
    local summary = client:run_many("get_jobs", {
      { options = { hooks = { after_response = function() error("job 1's tracer") end } } },
      {},
      { options = { headers = retried } },
      { options = { hooks = { before_request = function() error("job 4's tracer") end } } },
      {},
      {},
    }, {
      concurrency = 1, -- (one job at a time: each takes the table of the one before)
      on_attempt = function(i, stage, info) if stage == "sending" then attempts[i] = info.attempt end end,
    })
    assert.equals(4, summary.succeeded)
    assert.equals(2, summary.failed)
    assert.equals(1, summary.retries)
    local first, fourth = summary.results[1], summary.results[4]
    assert.equals("hook", first.kind)
    assert.equals("after_response", first.hook)
    assert.equals(200, first.result.http.status)
    assert.equals("hook", fourth.kind)
    assert.equals("before_request", fourth.hook)
    assert.equals("not_sent", fourth.outcome)
    for _, i in ipairs { 2, 3, 5, 6 } do
      local res = summary.results[i]
      assert.is_table(res.data, "job " .. i)
      assert.equals(i == 3 and 2 or 1, res.http.attempts, "job " .. i)
      assert.equals(i == 3 and 2 or 1, attempts[i], "job " .. i)
    end
  end)

  it("a job's table taken again after a hook failed: the next hooked job's result is its own", function()
    -- Job 1's after_response hook fails (the job keeps the failure, for
    -- its result); job 2 takes job 1's table, and its hooks pass.
    local client = servers.client()
    local summary = client:run_many("get_jobs", {
      { options = { hooks = { after_response = function() error("job 1's tracer") end } } },
      { options = { hooks = { after_response = function() end } } },
    }, { concurrency = 1 }) -- (one job at a time: each takes the table of the one before)
    assert.equals(1, summary.succeeded)
    assert.equals("hook", summary.results[1].kind)
    assert.is_table(summary.results[2].data)
  end)

  it("a job's table taken again after a hooked job's failed answer keeps none of it for the next", function()
    -- Job 1 ends with a 503 under a before_request hook (the job keeps its
    -- last answer, for a hook failing on a retry); job 2 takes job 1's
    -- table and its own before_request fails before anything is sent: its
    -- error carries no answer of job 1's.
    local client = servers.client()
    local once = { ["X-Standin-Scenario"] = "503-once", ["X-Standin-Key"] = servers.unique("reuse-last") }
    local summary = client:run_many("get_jobs", {
      { options = { retries = false, headers = once, hooks = { before_request = function() end } } },
      { options = { hooks = { before_request = function() error("job 2's tracer") end } } },
    }, { concurrency = 1 })
    assert.equals(0, summary.succeeded)
    assert.equals(503, summary.results[1].status)
    local second = summary.results[2]
    assert.equals("hook", second.kind)
    assert.equals("before_request", second.hook)
    assert.equals("not_sent", second.outcome)
    assert.is_nil(second.status)
    assert.is_nil(second.result and second.result.http and second.result.http.status)
  end)
end)
