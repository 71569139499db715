-- A batch's common job is prepared in one step of the core
-- (core.job_preparer, csrc/lua/lua_method.c; kombo/batch.lua's
-- host.prepare_fast), in the closed call of a finished job when there is
-- one.  It declines every other job, which then goes through call.lua as
-- before: these specs show both, and that a reused call carries nothing of
-- the job before.
local servers = require "support.servers"
local core = require "kombo.core"
local client_mod = require "kombo.client"
local one_call = require "kombo.call"

local OP = one_call.OPERATIONS.attach_to_candidate

local function job(i, over)
  return servers.merge({ candidate_id = "cand_fast_" .. i,
    body = { attachment = { bytes = ("document %d\n"):format(i), name = ("fast-%04d.txt"):format(i), type = "CV" } } },
    over)
end

-- (as attach_many's pick, kombo/uploads.lua's job_operation, for candidates)
local function pick(args)
  if type(args) == "table" and args.candidate_id ~= nil then return OP end
  return nil, { { path = "candidate_id", message = "is required" } }
end

local function preparer(client, which)
  return core.job_preparer(client_mod.private[client], which or pick, one_call.NEEDS)
end

describe("a batch's fast preparer #integration #bulk", function()
  it("makes the common job's call with its integration id and first step, in a closed call when given one", function()
    local client, integ = servers.client()
    local prepare = preparer(client)
    local call, integration_id, step, delay = prepare(job(1), nil, core.now())
    assert.equals("userdata", type(call))
    assert.equals(integ, integration_id)
    assert.equals("send", step)
    assert.is_nil(delay)
    assert.equals(integ, call:integration_id())
    local open = call
    -- an open call is never made again: a new one
    local second = prepare(job(2), open, core.now())
    assert.is_not.equals(open, second)
    open:close()
    -- a closed one is: the same userdata, made for the new job
    local third, _, step3 = prepare(job(3), open, core.now())
    assert.equals(open, third)
    assert.equals("send", step3)
    assert.equals("cand_fast_3", (select(1, third:request())):match("cand_fast_%d+"))
    -- without `now`, no first step
    local n = select("#", prepare(job(4), nil))
    assert.equals(2, n)
    second:close()
    third:close()
    client:close()
  end)

  it("declines what is not the common job, and a call that is not a closed call is not reused", function()
    local client = servers.client()
    local prepare = preparer(client)
    local t = core.now()
    assert.is_false(prepare("not a table", nil, t))
    assert.is_false(prepare(setmetatable(job(1), {}), nil, t))
    assert.is_false(prepare(job(1, { options = { timeout = 5 } }), nil, t))
    assert.is_false(prepare(job(1, { preflight = true }), nil, t))
    -- the client's preflight (read once per batch) applies unless the job says otherwise
    local checking = servers.client({ preflight = true })
    local prepare_checking = preparer(checking)
    assert.is_false(prepare_checking(job(1), nil, t))
    local unchecked = prepare_checking(job(1, { preflight = false }), nil, t)
    assert.equals("userdata", type(unchecked))
    unchecked:close()
    checking:close()
    local aliased = job(1)
    aliased.body.remote_fields = { workday = {} } -- (remote_fields to normalize, in Lua)
    assert.is_false(prepare(aliased, nil, t))
    -- refused by the core: nil and what it said, for the batch to word
    -- (the job is not read a second time by call.lua)
    local none, problems = prepare(job(1, { body = { attachment = { name = false } } }), nil, t)
    assert.is_nil(none)
    assert.equals("body.attachment.name", problems[1].path)
    local none2, no_problems, shape = prepare({ candidate_id = "c", body = 5 }, nil, t) -- a shape mistake
    assert.is_nil(none2)
    assert.is_false(no_problems)
    assert.equals("'body' must be a table, got number", shape)
    -- (not a call, or not closed: a new userdata)
    local call = prepare(job(2), io.stdout, t)
    assert.equals("userdata", type(call))
    assert.is_not.equals(io.stdout, call)
    call:close()
    client:close()
    assert.is_false(prepare(job(3), nil, t)) -- a closed client: call.lua raises
  end)

  it("declines when pick names no operation or raises, and when an __index it reads raises", function()
    local client = servers.client()
    local t = core.now()
    assert.is_false(preparer(client)({ application_id = "a" }, nil, t))
    assert.is_false(preparer(client, function() error("pick's bug") end)(job(1), nil, t))
    assert.is_false(preparer(client, function() return { index = -1 } end)(job(1), nil, t))
    -- (the needs read body.remote_fields as Lua does: its __index runs)
    local raising = job(1)
    raising.body = setmetatable({}, { __index = function() error("no reading this") end })
    assert.is_false(preparer(client)(raising, nil, t))
    -- (the reader reads nested tables raw: an __index there never runs,
    -- and an empty attachment is refused, as a single call refuses it)
    local unread = job(1)
    unread.body.attachment = setmetatable({}, { __index = function() error("no reading this") end })
    local none, problems = preparer(client)(unread, nil, t)
    assert.is_nil(none)
    assert.equals("body.attachment.name", problems[1].path)
    client:close()
  end)

  it("declines when pick closes the client, also with a closed call to make again (no freed client used)", function()
    -- (an operation that needs nothing of Lua: no second look at the
    -- client after the needs)
    local tag_op = one_call.OPERATIONS.add_candidate_tag
    assert.equals(0, one_call.NEEDS[tag_op])
    local client = servers.client()
    local closer
    local prepare = preparer(client, function()
      if closer then client:close() end
      return tag_op
    end)
    local t = core.now()
    local call = prepare({ candidate_id = "c1", body = { tag = { name = "x" } } }, nil, t)
    call:close()
    closer = true
    -- (it crashed: the reused call skipped the closed check)
    assert.is_false(prepare({ candidate_id = "c2", body = { tag = { name = "y" } } }, call, t))
  end)

  it("words a refused job as a single call's message, on the fast path and off it, reading it once", function()
    for _, observed in ipairs { false, true } do
      local client = servers.client(observed and { hooks = { before_request = function() end } } or nil)
      local reads = 0
      local body = setmetatable({}, { __index = function(_, k)
        reads = reads + 1
        return ({ attachment = { name = "a.txt", bytes = "x", type = "CV" } })[k]
      end })
      local summary = client:attach_many({ { candidate_id = "c1", body = 5 }, { candidate_id = "c2", body = body } })
      local shape, refused = summary.results[1], summary.results[2]
      assert.equals("validation", shape.kind)
      assert.same({ { path = "job", message = "'body' must be a table, got number" } }, shape.problems)
      assert.equals("validation", refused.kind)
      -- (a body with a metatable is read as Lua reads it: remote_fields for
      -- the needs, then by the reader; as often on both paths)
      assert.equals(3, reads, observed and "observed" or "fast")
      client:close()
    end
  end)

  it("takes the fast path for the common jobs of attach_many, in the calls the finished jobs leave", function()
    local client = servers.client()
    local made, reused, real = 0, 0, core.job_preparer
    core.job_preparer = function(...)
      local prepare = real(...)
      return function(j, reuse, t)
        local call, a, b, c = prepare(j, reuse, t)
        if call then
          made = made + 1
          if call == reuse then reused = reused + 1 end
        end
        return call, a, b, c
      end
    end
    local ok, summary = pcall(client.attach_many, client, { job(1), job(2), job(3), job(4) }, { concurrency = 1 })
    core.job_preparer = real
    assert(ok, summary)
    assert.equals(4, summary.succeeded)
    assert.equals(4, made)
    assert.is_true(reused >= 2, "reused " .. reused)
    client:close()
  end)

  it("declines for a client something observes", function()
    local client = servers.client({ hooks = { before_request = function() end } })
    local prepare = preparer(client)
    assert.is_false(prepare(job(1), nil, core.now()))
    client:close()
  end)

  it("gives attach_many the same outcomes for declined and fast jobs mixed, calls reused one after another", function()
    local client, integ = servers.client()
    local jobs = {}
    for i = 1, 12 do
      local over
      if i % 4 == 1 then over = { options = { timeout = 20 } }        -- declined: its own options
      elseif i % 4 == 2 then over = { body = { attachment = { type = 5 } } } -- declined: refused (validation)
      end
      jobs[i] = job(i, over)
    end
    jobs[12] = setmetatable(job(12), { __index = function() return nil end }) -- declined: a metatable
    local ids = {}
    local summary = client:attach_many(jobs, { concurrency = 1 })
    assert.equals(9, summary.succeeded)
    assert.equals(3, summary.failed)
    for i = 1, 12 do
      local r = summary.results[i]
      if i % 4 == 2 then
        assert.equals("validation", r.kind, "job " .. i)
        assert.is_truthy(tostring(r):find("type", 1, true), "job " .. i)
      else
        assert.is_string(r.data.id, "job " .. i)
        assert.is_nil(ids[r.data.id], "job " .. i)
        ids[r.data.id] = i
      end
    end
    -- each upload went to its own candidate with its own document, once
    local seen = {}
    for _, rec in ipairs(servers.requests(integ)) do
      if rec.method == "POST" then
        local i = tonumber(rec.uri:match("cand_fast_(%d+)"))
        assert.is_nil(seen[i], "job " .. tostring(i) .. " sent twice")
        seen[i] = true
      end
    end
    for i = 1, 12 do assert.equals(i % 4 ~= 2, seen[i] == true, "job " .. i) end
    client:close()
  end)
end)
