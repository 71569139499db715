-- A call's own options and the hooks over the cosocket transport (the test
-- app's /call_options runs client[method](client, args, call_options)
-- inside nginx): the call's timeout and retries, its headers and a hook's at
-- the stand-in, the hooks' events with the attempt's figures, no API key in
-- them, and a raise in after_response keeping a write's outcome.
local S = require "nginx.support"

local STANDIN, APP
local integration = S.integration_ids("ngx-co")

local function records(integ) return S.requests_of(STANDIN, integ) end

local function call(q)
  local d = S.json("POST", APP.url .. "/call_options", q, 60)
  assert(d.raised == nil, d.raised)
  return d
end

local function upload(candidate, integ)
  return { candidate_id = candidate, integration_id = integ,
           body = { attachment = { name = "cv.txt", type = "CV", bytes = "Frank Doe, engineer.\n" } } }
end

describe("call options and hooks over cosockets #nginx", function()
  setup(function()
    S.ensure_lib51()
    STANDIN, APP = S.standin_and_app()
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
  end)

  it("the call's timeout and retries apply to it alone", function()
    local integ = integration("timeout")
    local d = call { method = "get_jobs", args = { integration_id = integ }, opts = { timeout = 10 },
      call = { timeout = 0.3, retries = false, headers = { ["X-Standin-Delay"] = "2" } } }
    assert.equals("timeout", d.err.kind)
    assert.equals(1, d.err.attempts)
    assert.is_true(d.err.retryable)
    assert.is_false(d.err.may_have_landed)
    d = call { method = "get_jobs", args = { integration_id = integ }, opts = { timeout = 10 },
      call = { headers = { ["X-Standin-Delay"] = "0.5" } } }
    assert.is_true(d.ok)
  end)

  it("hooks see every attempt, with the figures and the headers they add; never the key", function()
    local integ = integration("hooks")
    local d = call { method = "attach_to_candidate", args = upload("scenario-503-once", integ), hooks = true,
      add_header = { traceparent = "00-ngx-01" }, call = { headers = { ["X-Call"] = "yes" } } }
    assert.is_true(d.ok, require("cjson").encode(d))
    local seq = {}
    for i, e in ipairs(d.events) do seq[i] = e.event .. math.floor(e.attempt) end
    assert.same({ "before_request1", "after_response1", "on_retry1", "before_request2", "after_response2" }, seq)
    local first, last = d.events[2], d.events[5]
    assert.equals(503, first.status)
    assert.equals("rejected", first.outcome)
    assert.equals(200, last.status)
    assert.equals("ok", last.kind)
    for _, e in ipairs { first, last } do
      assert.equals("attach_to_candidate", e.operation)
      assert.equals("/ats/candidates/scenario-503-once/attachments", (e.path:gsub("^/v1", "")))
      assert.truthy(e.first_byte_time > 0 and e.total_time >= e.first_byte_time, e.total_time)
      assert.truthy(e.connect_time >= 0)
      assert.truthy(e.bytes_sent > 200, e.bytes_sent)
    end
    local text = require("cjson").encode(d.events)
    assert.is_nil(text:find("test-key", 1, true))
    assert.truthy(text:find("Bearer <redacted>", 1, true))
    local recs = records(integ)
    assert.equals(2, #recs)
    for _, r in ipairs(recs) do
      local h = r.headers
      assert.equals("00-ngx-01", type(h.traceparent) == "table" and h.traceparent[1] or h.traceparent)
      assert.equals("yes", type(h["x-call"]) == "table" and h["x-call"][1] or h["x-call"])
    end
  end)

  it("a raise in after_response keeps a write's outcome, and nothing is sent again", function()
    local integ = integration("raise")
    local d = call { method = "attach_to_candidate", args = upload("cand-1", integ), hooks = true,
      raise = "after_response" }
    assert.equals("hook", d.err.kind)
    assert.equals("after_response", d.err.hook)
    assert.is_true(d.err.may_have_landed)
    assert.is_true(d.err.has_result)
    assert.equals(1, #records(integ))
    -- before_request: nothing sent
    integ = integration("raise-before")
    d = call { method = "attach_to_candidate", args = upload("cand-1", integ), hooks = true,
      raise = "before_request" }
    assert.equals("hook", d.err.kind)
    assert.equals("not_sent", d.err.outcome)
    assert.equals(0, #records(integ))
  end)
end)
