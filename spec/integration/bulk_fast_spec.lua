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
    local aliased = job(1)
    aliased.body.remote_fields = { workday = {} } -- (remote_fields to normalize, in Lua)
    assert.is_false(prepare(aliased, nil, t))
    assert.is_false(prepare(job(1, { body = { attachment = { name = false } } }), nil, t)) -- refused by the core
    assert.is_false(prepare({ candidate_id = "c", body = 5 }, nil, t)) -- a shape mistake
    -- (not a call, or not closed: a new userdata)
    local call = prepare(job(2), io.stdout, t)
    assert.equals("userdata", type(call))
    assert.is_not.equals(io.stdout, call)
    call:close()
    client:close()
    assert.is_false(prepare(job(3), nil, t)) -- a closed client: call.lua raises
  end)

  it("declines when pick names no operation or raises, and when reading the job raises", function()
    local client = servers.client()
    local t = core.now()
    assert.is_false(preparer(client)({ application_id = "a" }, nil, t))
    assert.is_false(preparer(client, function() error("pick's bug") end)(job(1), nil, t))
    assert.is_false(preparer(client, function() return { index = -1 } end)(job(1), nil, t))
    local raising = job(1)
    raising.body.attachment = setmetatable({}, { __index = function() error("no reading this") end })
    assert.is_false(preparer(client)(raising, nil, t))
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
