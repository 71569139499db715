-- call:on_written(fn) and call:digest() on the libcurl transports against
-- the stand-in: a small body (read out whole before the transfer, <= 64 KiB)
-- and a streamed 3 MiB file on call:perform(), and the multi engine
-- (core.multi()).  The hook runs once per attempt before the bytes that
-- complete the body; a raising hook aborts the attempt (aborted/not_sent)
-- and the stand-in accepts no upload.  The calls are the core's (the public
-- client closes its call after sending; the journal drives them itself).
local servers = require "support.servers"
local files = require "support.files"
local core = require "kombo.core"

local function handle(over)
  local integ = servers.unique("written")
  local h = assert(core.client(servers.merge({
    api_key = servers.API_KEY, server_url = servers.standin_url(), integration_id = integ,
    user_agent = "kombo-lua-spec", timeout = servers.TIMEOUT, connect_timeout = 5,
  }, over)))
  return h, integ
end

local function prepare(h, attachment)
  return assert(h:prepare("attach_to_candidate", {
    candidate_id = "cand-written",
    body = { attachment = servers.merge({ name = "blob.bin", type = "CV" }, attachment) },
  }))
end

-- A hook that records what it saw and answers `verdict` (a function to raise).
local function watcher(call, verdict)
  local seen = {}
  call:on_written(function(sent, total)
    local s, t = call:sent()
    seen[#seen + 1] = { sent = sent, total = total, call_sent = s, call_total = t }
    if type(verdict) == "function" then return verdict() end
    return verdict
  end)
  return seen
end

local function accepted(integ)
  local n = 0
  for _, rec in ipairs(servers.requests(integ)) do
    if rec.response and type(rec.response.status) == "number" and rec.response.status < 300 then n = n + 1 end
  end
  return n
end

describe("integration: call:on_written and call:digest on libcurl #integration", function()
  local dir, big_path, big
  setup(function()
    dir = files.tmpdir()
    big = files.random_bytes(3 * 1024 * 1024)
    big_path = files.write(dir .. "/big.bin", big)
  end)
  teardown(function() files.rmtree(dir) end)

  it("small body: fires once before the last bytes; digest is the content's SHA-256", function()
    local h, integ = handle()
    local bytes = files.random_bytes(20000)
    local call = prepare(h, { bytes = bytes })
    local _, _, length = call:request()
    assert.truthy(length <= 64 * 1024)
    -- A small body is read out whole before connecting and handed to the
    -- connection in one piece: fn runs when that happens (libcurl's
    -- PREREQFUNCTION), after the read-out, before any byte has left.
    local reached
    local seen = watcher(call, function() reached = #servers.requests(integ); return true end)
    local res = call:perform()
    assert.equals("ok", res.kind, res.message)
    assert.equals(1, #seen)
    assert.equals(length, seen[1].total)
    assert.equals(seen[1].sent, seen[1].call_sent)
    assert.equals(0, reached)
    assert.equals(core.sha256(bytes), call:digest())
    local recs = servers.requests(integ)
    assert.equals(1, #recs)
    assert.equals(bytes, files.base64_decode(recs[1].json.attachment.data))
    call:close()
    h:close()
  end)

  it("streamed 3 MiB file: fires once, late in the body; digest matches sha256_file", function()
    local h, integ = handle()
    local call = prepare(h, { file = big_path })
    local _, _, length = call:request()
    local seen = watcher(call, true)
    local res = call:perform()
    assert.equals("ok", res.kind, res.message)
    assert.equals(1, #seen)
    assert.truthy(seen[1].sent < length)
    assert.truthy(seen[1].sent > length - 1024 * 1024, "fired at " .. seen[1].sent) -- most had gone
    assert.equals(length, seen[1].call_total)
    local hex, size = core.sha256_file(big_path)
    assert.equals(#big, size)
    assert.equals(hex, call:digest())
    assert.equals(1, accepted(integ))
    call:close()
    h:close()
  end)

  it("fires once per attempt: a 503 then 200 runs it twice", function()
    local h = handle { retries = { max_attempts = 3, initial_interval = 0.01, max_interval = 0.05 } }
    local bytes = files.random_bytes(5000)
    local call = assert(h:prepare("attach_to_candidate", {
      candidate_id = "scenario-503-once", body = { attachment = { name = "b.bin", type = "CV", bytes = bytes } },
    }))
    local seen = watcher(call, true)
    local res = call:perform()
    assert.equals("ok", res.kind, res.message)
    assert.equals(2, res.attempts)
    assert.equals(2, #seen)
    assert.equals(core.sha256(bytes), call:digest())
    call:close()
    h:close()
  end)

  for _, case in ipairs {
    { name = "small body", att = function() return { bytes = ("q"):rep(3000) } end },
    { name = "streamed 3 MiB file", att = function() return { file = big_path } end },
  } do
    it(case.name .. ": a raising fn aborts the attempt, not_sent, and nothing is accepted", function()
      local h, integ = handle()
      local call = prepare(h, case.att())
      local _, _, length = call:request()
      local seen = watcher(call, function() error("journal write failed", 0) end)
      local res = call:perform()
      assert.equals("aborted", res.kind)
      assert.equals("not_sent", res.outcome)
      assert.equals(1, res.attempts)
      assert.truthy(res.message:find("on_written raised: journal write failed", 1, true), res.message)
      assert.equals(1, #seen)
      if length > 64 * 1024 then assert.truthy((call:sent()) < length) end -- (a small body is read out first)
      assert.is_nil(call:digest())
      assert.equals(0, accepted(integ))
      if length <= 64 * 1024 then assert.equals(0, #servers.requests(integ)) end -- never left
      call:close()
      h:close()
    end)
  end

  it("false with a message refuses the same way", function()
    local h, integ = handle()
    local call = prepare(h, { bytes = "abc" })
    watcher(call, function() return false, "duplicate upload" end)
    local res = call:perform()
    assert.equals("aborted", res.kind)
    assert.equals("not_sent", res.outcome)
    assert.truthy(res.message:find("on_written refused: duplicate upload", 1, true), res.message)
    assert.equals(0, #servers.requests(integ))
    call:close()
    h:close()
  end)

  it("does not fire for a GET", function()
    local h = handle()
    local call = assert(h:prepare("get_candidate_attachments", { candidate_id = "cand-written" }))
    local seen = watcher(call, false)
    local res = call:perform()
    assert.equals("ok", res.kind, res.message)
    assert.equals(0, #seen)
    assert.is_nil(call:digest())
    call:close()
    h:close()
  end)

  it("the multi engine gives back the value added with a call (attach_many's job), or the call; run(0) polls", function()
    local h = handle()
    local a = prepare(h, { bytes = "one" })
    local b = prepare(h, { bytes = "two" })
    local job = { call = a }
    local m = core.multi()
    local now = core.now()
    assert.equals("send", a:next(now))
    assert.equals("send", b:next(now))
    assert(m:add(a, job))
    assert(m:add(b))
    assert.is_false(pcall(m.add, m, a, job)) -- (one attempt of a call at a time)
    local got = {}
    local deadline = core.now() + servers.bound(30)
    while #got < 2 and core.now() < deadline do -- (run(0) looks at the sockets too)
      local list, at, n = m:run(0)
      assert.is_number(at) -- (the time it returned at)
      assert.equals(#list, n) -- (how many the list holds: the batch's loop reads no #list)
      for _, v in ipairs(list) do got[#got + 1] = v end
      core.sleep(0.002)
    end
    assert.equals(2, #got)
    assert.is_true((got[1] == job and got[2] == b) or (got[1] == b and got[2] == job))
    assert.equals(0, m:running())
    assert.equals("done", a:next(core.now()))
    assert.equals("ok", a:result().kind)
    assert.equals("done", b:next(core.now()))
    assert.equals("ok", b:result().kind)
    m:close()
    a:close()
    b:close()
    h:close()
  end)

  it("the multi engine: a source that adds to the same multi while its call is added is refused; every call ends", function()
    -- (a small body is read whole as its attempt begins: a nested add would
    -- move the multi's slots under the outer one)
    local h = handle()
    local m = core.multi()
    local now = core.now()
    local calls = {}
    for i = 1, 7 do
      calls[i] = prepare(h, { bytes = "plain " .. i })
      assert.equals("send", calls[i]:next(now))
      assert(m:add(calls[i]))
    end
    local nested = {}
    for i = 1, 9 do
      nested[i] = prepare(h, { bytes = "nested " .. i })
      assert.equals("send", nested[i]:next(now))
    end
    local refusals, fed = {}, false
    local outer = prepare(h, { source = function()
      if fed then return nil end
      fed = true
      for i = 1, #nested do
        local ok, err = pcall(m.add, m, nested[i])
        refusals[#refusals + 1] = not ok and tostring(err) or "added"
      end
      return "outer"
    end, size = 5 })
    assert.equals("send", outer:next(now))
    assert(m:add(outer))
    assert.equals(9, #refusals)
    for _, r in ipairs(refusals) do
      assert.truthy(r:find("add() called from one of its own callbacks", 1, true), r)
    end
    local ended = 0
    local deadline = core.now() + servers.bound(30)
    while m:running() > 0 and core.now() < deadline do ended = ended + #m:run(0.05) end
    assert.equals(8, ended)
    assert.equals("done", outer:next(core.now()))
    assert.equals("ok", outer:result().kind)
    m:close()
    for _, c in ipairs(calls) do c:close() end
    for _, c in ipairs(nested) do c:close() end
    outer:close()
    h:close()
  end)

  it("the multi engine: fires once per call; a raising one is aborted, the other lands", function()
    local h, integ = handle()
    local good = prepare(h, { file = big_path })
    local bad = prepare(h, { bytes = files.random_bytes(200000) }) -- streamed too (> 64 KiB)
    local good_seen = watcher(good, true)
    local bad_seen = watcher(bad, function() error("no room", 0) end)
    local m = core.multi()
    local now = core.now()
    assert.equals("send", good:next(now))
    assert.equals("send", bad:next(now))
    assert(m:add(good))
    assert(m:add(bad))
    local done = 0
    local deadline = core.now() + servers.bound(30)
    while done < 2 and core.now() < deadline do
      for _, call in ipairs(m:run(0.1)) do
        assert.equals("done", call:next(core.now()))
        done = done + 1
      end
    end
    m:close()
    assert.equals(2, done)
    assert.equals(1, #good_seen)
    assert.equals(1, #bad_seen)
    assert.equals("ok", good:result().kind)
    assert.equals(core.sha256(big), good:digest())
    local r = bad:result()
    assert.equals("aborted", r.kind)
    assert.equals("not_sent", r.outcome)
    assert.is_nil(bad:digest())
    assert.equals(1, accepted(integ))
    good:close()
    bad:close()
    h:close()
  end)
end)

describe("integration: a call or its client closed from the call's own callbacks #integration", function()
  it("call:close() from on_progress during call:perform() is refused: the attempt aborts, nothing crashes", function()
    local h, integ = handle()
    local call
    call = assert(h:prepare("attach_to_candidate", {
      candidate_id = "cand-close-progress",
      body = { attachment = { name = "blob.bin", type = "CV", bytes = files.random_bytes(200000) } },
      on_progress = function() call:close() end,
    }))
    local res = call:perform()
    assert.equals("aborted", res.kind, res.message)
    assert.truthy(res.message:find("close() while its transfer is in progress", 1, true), res.message)
    assert.equals(0, accepted(integ))
    call:close() -- now it may
    h:close()
  end)

  it("the client closed by an __index of the arguments during prepare: the call is made, its client waits for it", function()
    local h = handle()
    local args = setmetatable({}, { __index = function(_, k)
      if k == "candidate_id" then h:close(); return "c1" end
    end })
    local call = assert(h:prepare("get_candidate_attachments", args))
    assert.is_true(h:closed())
    local ok, msg = pcall(call.perform, call)
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("closed", 1, true), msg)
    call:close()
    collectgarbage()
    -- and when the __index raises instead, the client still closes and is collected; the
    -- core's client is freed too (the call's __gc gives back the count prepare took:
    -- without it, scripts/test-asan's leak check reports the client's memory)
    local h2 = handle()
    local weak = setmetatable({ h2 }, { __mode = "v" })
    local bad = setmetatable({}, { __index = function(_, k)
      if k == "candidate_id" then error("boom") end
    end })
    assert.is_false((pcall(h2.prepare, h2, "get_candidate_attachments", bad)))
    h2:close()
    h2 = nil -- luacheck: ignore 311
    collectgarbage(); collectgarbage()
    assert.is_nil(weak[1])
  end)
end)
