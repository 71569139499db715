-- A call's own options (the second argument of every method and module
-- function, and a batch job's `options`), the hooks (client and call), and
-- the error methods a caller branches on (err:retryable(),
-- err:may_have_landed()), against the local stand-in.
local servers = require "support.servers"
local kombo = require "kombo"

local function upload_args(candidate_id)
  return { candidate_id = candidate_id or "cand-1", body = { attachment = servers.attachment() } }
end

-- The stand-in's records of the requests that carried X-Standin-Key `key`.
local function sent_with(key)
  return servers.requests(function(rec) return servers.header_value(rec, "x-standin-key") == key end)
end

-- Every string inside v (keys and values, nested), for "the key is never there".
local function strings_of(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do strings_of(k, out, seen); strings_of(x, out, seen) end
  end
  return out
end

describe("call options #integration", function()
  it("apply to that call alone: timeout, retries, headers", function()
    local client = servers.client()
    local key = servers.unique("opts")
    -- a GET held 2 s: the call's own timeout ends it, without retries
    local res, err = client:get_jobs({}, { timeout = 0.3, retries = false,
      headers = { ["X-Standin-Delay"] = "2", ["X-Standin-Key"] = key } })
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.equals(1, err.attempts)
    assert.truthy(err.elapsed < servers.bound(1.5), err.elapsed)
    assert.is_true(err:retryable())      -- a read: the library would retry it
    assert.is_false(err:may_have_landed())
    -- the client's own settings are untouched: the next call is held and answered
    res = assert(client:get_jobs({}, { headers = { ["X-Standin-Delay"] = "0.5", ["X-Standin-Key"] = key } }))
    assert.equals("success", res.status)
    local recs = sent_with(key)
    assert.equals(2, #recs)
    assert.equals(key, servers.header_value(recs[2], "x-standin-key"))
  end)

  it("retries: false and a table over the client's policy", function()
    local client = servers.client()
    local _, err = client:get_jobs({}, { retries = false, headers = { ["X-Standin-Scenario"] = "503-always" } })
    assert.equals(1, err.attempts)
    assert.equals(503, err.status)
    _, err = client:get_jobs({}, { retries = { max_attempts = 2 }, headers = { ["X-Standin-Scenario"] = "503-always" } })
    assert.equals(2, err.attempts)
    _, err = client:get_jobs({}, { headers = { ["X-Standin-Scenario"] = "503-always" } })
    assert.equals(3, err.attempts) -- the client's
  end)

  it("a write that may have landed is never sent again, whatever the call's retries say", function()
    local client = servers.client()
    local key = servers.unique("unsafe")
    local _, err = client:attach_to_candidate(upload_args("scenario-error-500"),
      { retries = { max_attempts = 5 }, headers = { ["X-Standin-Key"] = key } })
    assert.equals("unknown", err.outcome)
    assert.equals(1, err.attempts)
    assert.equals(1, #sent_with(key))
    assert.is_true(err:may_have_landed())
    assert.is_false(err:retryable())
    -- opted in (retries.retry_unsafe), the same answer is retryable by the library's rule
    _, err = client:attach_to_candidate(upload_args("scenario-error-500"),
      { retries = { max_attempts = 2, retry_unsafe = true } })
    assert.equals(2, err.attempts)
    assert.is_true(err:retryable())
    assert.is_true(err:may_have_landed())
  end)

  it("server_url (and server) per call: a settle needs no second client", function()
    local client = servers.client()
    local dead = ("http://127.0.0.1:%d/v1"):format(servers.free_port())
    local _, err = client:get_jobs({}, { server_url = dead, retries = false })
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.is_true(err:retryable())
    assert(client:get_jobs({}, { timeout = 5 })) -- the client's server again
    local ok, msg = pcall(client.get_jobs, client, {}, { server = "asia" })
    assert.is_false(ok)
    assert.truthy(msg:find("bad argument #2 to 'get_jobs' (option 'server' must be \"eu\" or \"us\", got \"asia\")",
      1, true), msg)
  end)

  it("are checked like the client's: unknown names with a suggestion, types, values", function()
    local client = servers.client()
    local cases = {
      { { timout = 5 }, "unknown option 'timout' (did you mean 'timeout'?)" },
      { { retries = { max_atempts = 2 } }, "unknown option 'retries.max_atempts' (did you mean 'max_attempts'?)" },
      { { timeout = "5" }, "option 'timeout' must be a number, got string" },
      { { timeout = 0 }, "option 'timeout' must be a positive number of seconds" },
      { { timeout = 1 / 0 }, "option 'timeout' must be a finite number of seconds" },
      { { retries = true }, "option 'retries' must be a table or false" },
      { { retries = { max_attempts = 0 } }, "option 'retries.max_attempts' must be a whole number, at least 1" },
      { { server_url = "ftp://x" }, "option 'server_url' must be an absolute http(s) URL" },
      { { hooks = { before_requets = print } }, "unknown option 'hooks.before_requets' (did you mean 'before_request'?)" },
      { { hooks = { on_retry = 1 } }, "option 'hooks.on_retry' must be a function, got number" },
      { "fast", "options table expected, got string" },
      { { headers = { ["X-A"] = 1 } }, "option 'headers' must map header names (strings) to values (strings), got string = number" },
      { { headers = { ["Bad Name"] = "x" } }, "option 'headers' has a header name that is not an HTTP token" },
      { { headers = { ["X-A"] = "a\r\nInjected: 1" } }, "option 'headers' X-A must be a string without CR, LF or NUL" },
    }
    for _, c in ipairs(cases) do
      local ok, msg = pcall(function() local r = client:get_jobs({}, c[1]); return r end) -- (no tail call)
      assert.is_false(ok)
      assert.truthy(msg:find("bad argument #2 to 'get_jobs' (" .. c[2], 1, true), msg)
      assert.truthy(msg:find("^[^:]*call_options_spec%.lua:%d+: "), msg) -- the caller's line
    end
  end)

  it("the library's own headers cannot be set, in any case, and the message says so", function()
    local client = servers.client()
    for _, name in ipairs { "Authorization", "authorization", "X-INTEGRATION-ID", "content-type",
                            "Content-Length", "HOST", "Transfer-Encoding", "user-agent" } do
      local ok, msg = pcall(client.get_jobs, client, {}, { headers = { [name] = "x" } })
      assert.is_false(ok)
      assert.truthy(msg:find("cannot set .*: the library writes that header itself %(names compare without case%)"),
        msg)
    end
  end)

  it("arguments inherited through a metatable's __index are read, as field lookups would", function()
    local client = servers.client()
    local args = setmetatable({}, { __index = { candidate_id = "cand-inherited" } })
    local res, err = client:get_candidate_attachments(args, { retries = false })
    if not res then assert.are_not.equal("validation", err.kind, tostring(err)) end
  end)

  it("module functions take them too", function()
    local key = servers.unique("module")
    servers.with_env({ KOMBO_API_KEY = servers.API_KEY, KOMBO_SERVER_URL = servers.standin_url(),
                       KOMBO_INTEGRATION_ID = servers.unique("mod") }, function()
      kombo.configure {}
    end)
    assert(kombo.get_jobs({}, { headers = { ["X-Standin-Key"] = key }, timeout = 5 }))
    assert.equals(1, #sent_with(key))
    local ok, msg = pcall(kombo.get_jobs, {}, { timeoutt = 5 })
    assert.is_false(ok)
    assert.truthy(msg:find("unknown option 'timeoutt' (did you mean 'timeout'?)", 1, true), msg)
  end)

  it("run_many: a job's options apply to it; bad options are that job's validation error", function()
    local client = servers.client()
    local key = servers.unique("batch")
    local summary = client:run_many("get_jobs", {
      { options = { headers = { ["X-Standin-Key"] = key } } },
      { options = { timeout = 0.3, retries = false, headers = { ["X-Standin-Delay"] = "2" } } },
      { options = { timout = 1 } },
      {},
    })
    assert.equals(2, summary.succeeded)
    assert.equals("timeout", summary.results[2].kind)
    local bad = summary.results[3]
    assert.equals("validation", bad.kind)
    assert.equals("job.options", bad.problems[1].path)
    assert.truthy(bad.message:find("unknown option 'timout' (did you mean 'timeout'?)", 1, true), bad.message)
    assert.equals(1, #sent_with(key))
  end)
end)

describe("hooks #integration", function()
  it("see every attempt: before_request, on_retry, after_response, with the figures", function()
    local events = {}
    local function note(info) events[#events + 1] = info end
    local client = servers.client { hooks = { before_request = note, after_response = note, on_retry = note } }
    local args = upload_args("scenario-503-once")
    local res = assert(client:attach_to_candidate(args))
    assert.equals(2, res.http.attempts)
    local seq = {}
    for i, e in ipairs(events) do seq[i] = e.event .. e.attempt end
    assert.same({ "before_request1", "after_response1", "on_retry1", "before_request2", "after_response2" }, seq)
    local first, retry, last = events[2], events[3], events[5]
    for _, e in ipairs(events) do
      assert.equals("attach_to_candidate", e.operation)
      assert.equals("POST", e.method)
      assert.equals("/ats/candidates/scenario-503-once/attachments", e.path)
      assert.equals("/ats/candidates/scenario-503-once/attachments", e.url:sub(-#e.path))
    end
    assert.equals(503, first.status)
    assert.equals("api", first.kind)
    assert.equals("rejected", first.outcome)
    assert.equals("REMOTE.SERVICE_UNAVAILABLE", first.code)
    assert.equals(503, retry.status)
    assert.is_number(retry.delay)
    assert.equals(200, last.status)
    assert.equals("ok", last.kind)
    assert.is_nil(last.outcome)
    for _, e in ipairs { first, last } do
      assert.truthy(e.connect_time >= 0 and e.first_byte_time > 0 and e.total_time >= e.first_byte_time,
        ("%s %s %s"):format(e.connect_time, e.first_byte_time, e.total_time))
      assert.truthy(e.bytes_sent > 300, e.bytes_sent) -- the head and the small body
    end
    -- a streamed body (over 64 KiB): the head and all of it
    events = {}
    assert(client:attach_to_candidate { candidate_id = "cand-1",
      body = { attachment = { bytes = ("cv "):rep(40000), name = "cv.txt", type = "CV" } } })
    local sent = events[2].bytes_sent
    assert.truthy(sent > 160000 and sent < 161000, sent) -- base64 of 120,000 bytes is 160,000
    local h = table.concat(events[1].headers, "\n")
    assert.truthy(h:find("Authorization: Bearer <redacted>", 1, true), h)
    assert.truthy(h:find("X-Integration-Id: ", 1, true), h)
  end)

  it("never show the API key", function()
    local seen = {}
    local function note(info) seen[#seen + 1] = info end
    local client = servers.client { api_key = servers.LONG_KEY,
      hooks = { before_request = note, after_response = note, on_retry = note } }
    local _, err = client:get_jobs({}, { hooks = { after_response = note },
      headers = { ["X-Standin-Scenario"] = "503-once" } })
    assert.equals(401, err.status) -- the stand-in does not take this key
    assert.truthy(#seen >= 3)
    for _, s in ipairs(strings_of(seen)) do
      assert.is_nil(s:find(servers.LONG_KEY, 1, true), s)
      assert.is_nil(s:find(servers.LONG_KEY:sub(5, 20), 1, true), s)
    end
  end)

  it("show the path without the query, and the URL and headers redacted wherever the key appears", function()
    local seen = {}
    local function note(info) seen[#seen + 1] = info end
    local client = servers.client { api_key = servers.LONG_KEY, hooks = { before_request = note, after_response = note },
      debug = function(line) seen.lines = (seen.lines or "") .. line .. "\n" end }
    client:get_jobs({ name_contains = "x" .. servers.LONG_KEY }, { retries = false,
      headers = { ["X-Echo"] = "k=" .. servers.LONG_KEY } })
    local before, after = seen[1], seen[2]
    assert.truthy(seen.lines:find("X-Echo: k=<redacted>", 1, true), seen.lines)
    assert.equals("before_request", before.event)
    assert.equals("after_response", after.event)
    for _, info in ipairs { before, after } do
      assert.equals("/ats/jobs", info.path)
      assert.equals("GET", info.method)
      assert.truthy(info.url:find("/ats/jobs?", 1, true), info.url)
      assert.truthy(info.url:find("<redacted>", 1, true), info.url)
    end
    assert.is_nil(after.headers) -- only before_request's info has them
    local h = table.concat(before.headers, "\n")
    assert.truthy(h:find("X-Echo: k=<redacted>", 1, true), h)
    assert.truthy(h:find("Authorization: Bearer <redacted>", 1, true), h)
    for _, s in ipairs(strings_of(seen)) do
      assert.is_nil(s:find(servers.LONG_KEY:sub(5, 20), 1, true), s)
    end
  end)

  it("the call's hooks run after the client's; before_request may add headers", function()
    local order = {}
    local key = servers.unique("hookhdr")
    local client = servers.client { hooks = {
      before_request = function() order[#order + 1] = "client"; return { ["X-Standin-Key"] = key } end } }
    assert(client:get_jobs({}, { headers = { ["X-Call"] = "1" }, hooks = {
      before_request = function() order[#order + 1] = "call"; return { traceparent = "00-abc-def-01" } end } }))
    assert.same({ "client", "call" }, order)
    local recs = sent_with(key)
    assert.equals(1, #recs)
    assert.equals("00-abc-def-01", servers.header_value(recs[1], "traceparent"))
    assert.equals("1", servers.header_value(recs[1], "x-call"))
  end)

  it("a raise in before_request sends nothing and says so", function()
    local client = servers.client()
    local key = servers.unique("nosend")
    local res, err = client:attach_to_candidate(upload_args(), { headers = { ["X-Standin-Key"] = key },
      hooks = { before_request = function() error("tracer down") end } })
    assert.is_nil(res)
    assert.equals("hook", err.kind)
    assert.equals("before_request", err.hook)
    assert.equals("not_sent", err.outcome)
    assert.truthy(tostring(err.cause):find("tracer down", 1, true))
    assert.truthy(err.message:find("before_request hook raised: .*tracer down; nothing was sent"), err.message)
    assert.is_false(err:may_have_landed())
    assert.equals(0, #sent_with(key))
    -- a header the library owns, returned by the hook: refused the same way, nothing sent
    res, err = client:attach_to_candidate(upload_args(), { headers = { ["X-Standin-Key"] = key },
      hooks = { before_request = function() return { Authorization = "Bearer other" } end } })
    assert.is_nil(res)
    assert.equals("hook", err.kind)
    assert.truthy(err.message:find("cannot set Authorization", 1, true), err.message)
    assert.equals(0, #sent_with(key))
  end)

  it("a raise in before_request on a retry keeps the last attempt's answer whole", function()
    local client = servers.client { retries = { initial_interval = 0.01, max_interval = 0.02 } }
    local key = servers.unique("hook-retry")
    local res, err = client:get_jobs({}, { headers = { ["X-Standin-Scenario"] = "503-always", ["X-Standin-Key"] = key },
      hooks = { before_request = function(info) if info.attempt == 2 then error("tracer down") end end } })
    assert.is_nil(res)
    assert.equals("hook", err.kind)
    assert.equals(503, err.status)
    assert.equals(1, err.attempts)
    assert.equals(1, #sent_with(key))
    -- what call:next() readied for the second attempt did not wipe the first one's answer
    assert.truthy(err.body and err.body:find("SERVICE_UNAVAILABLE", 1, true), tostring(err.body))
    assert.is_table(err.headers)
    assert.truthy(err.message:find("the last attempt's answer", 1, true), err.message)
  end)

  it("a raise in after_response keeps a write's outcome: it may have landed, and is not sent again", function()
    local client = servers.client()
    local key = servers.unique("landed")
    local res, err = client:attach_to_candidate(upload_args(), { headers = { ["X-Standin-Key"] = key },
      hooks = { after_response = function() error({ code = 42 }) end } })
    assert.is_nil(res)
    assert.equals("hook", err.kind)
    assert.equals("after_response", err.hook)
    assert.same({ code = 42 }, err.cause)
    assert.is_true(err:may_have_landed())
    assert.is_false(err:retryable())
    assert.equals("success", err.result.status) -- Kombo's answer is kept
    assert.truthy(err.message:find("do not send it again", 1, true), err.message)
    assert.equals(1, #sent_with(key))
    -- a 503 that would be retried: the raise ends the call after that attempt
    res, err = client:get_jobs({}, { headers = { ["X-Standin-Scenario"] = "503-always" },
      hooks = { after_response = function() error("metrics full") end } })
    assert.is_nil(res)
    assert.equals("hook", err.kind)
    assert.equals(1, err.attempts)
    assert.equals(503, err.status)
    assert.equals("rejected", err.outcome)
    -- on_retry: the same
    res, err = client:get_jobs({}, { headers = { ["X-Standin-Scenario"] = "503-always" },
      hooks = { on_retry = function() error("no") end } })
    assert.is_nil(res)
    assert.equals("on_retry", err.hook)
    assert.equals(1, err.attempts)
  end)

  it("in a batch: each job's attempts, and a failing hook ends that job only", function()
    local client = servers.client()
    local seen = 0
    local summary = client:run_many("get_jobs", {
      { options = { hooks = { after_response = function(i) seen = seen + (i.status == 200 and 1 or 0) end } } },
      { options = { hooks = { before_request = function() error("job 2's tracer") end } } },
      {},
    })
    assert.equals(2, summary.succeeded)
    assert.equals(1, seen)
    local e = summary.results[2]
    assert.equals("hook", e.kind)
    assert.equals("not_sent", e.outcome)
  end)
end)

describe("errors to branch on #integration", function()
  it("retryable and may_have_landed follow the outcome rule", function()
    local client = servers.client { retries = false }
    local cases = {
      -- args, retryable, may_have_landed
      { upload_args("scenario-503-always"), true, false },
      { upload_args("scenario-429"), true, false },
      { upload_args("scenario-error-500"), false, true },
      { upload_args("scenario-error-400"), false, false },
      { upload_args("scenario-setup-incomplete"), false, false },
    }
    for _, c in ipairs(cases) do
      local _, err = client:attach_to_candidate(c[1])
      assert.equals(c[2], err:retryable(), c[1].candidate_id)
      assert.equals(c[3], err:may_have_landed(), c[1].candidate_id)
    end
    local _, err = client:get_jobs({}, { headers = { ["X-Standin-Scenario"] = "error-500" } })
    assert.is_true(err:retryable())
    assert.is_false(err:may_have_landed()) -- a read
    _, err = client:attach_to_candidate { candidate_id = "c", body = {} }
    assert.equals("validation", err.kind)
    assert.is_false(err:retryable())
    assert.is_false(err:may_have_landed())
  end)
end)
