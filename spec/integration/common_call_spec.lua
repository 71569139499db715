-- The common call (no call options, hooks, preflight or remote_fields to
-- normalize, outside nginx) is one C step, client:run (kombo/call.lua), and
-- it makes every call of a client in the same call object, kept closed
-- between runs.  What it must not change: each call's own outcome, whatever
-- the one before it did (refused, raised, closed its client).
local servers = require "support.servers"

local function upload_args(candidate_id)
  return { candidate_id = candidate_id, body = { attachment = servers.attachment() } }
end

describe("the common call #integration", function()
  it("runs refused, raising and successful calls in any order, each with its own outcome", function()
    local client = servers.client()
    local progress = 0
    for i = 1, 6 do
      if i % 3 == 1 then -- refused by validation: nothing sent
        local res, err = client:attach_to_candidate { candidate_id = "", body = { attachment = servers.attachment() } }
        assert.is_nil(res)
        assert.equals("validation", err.kind)
      elseif i % 3 == 2 then -- an argument table whose __index raises while it is read
        local args = setmetatable({ candidate_id = "cand-run" },
          { __index = function() error("args exploded", 0) end })
        local ok, msg = pcall(client.attach_to_candidate, client, args)
        assert.is_false(ok)
        assert.equals("args exploded", msg)
      else -- sent, with on_progress (released with the call)
        local args = upload_args("cand-run-" .. i)
        args.on_progress = function() progress = progress + 1 end
        local res, err = client:attach_to_candidate(args)
        assert(res, tostring(err))
        assert.equals("success", res.status)
      end
      collectgarbage() -- a raising run's call is the collector's to close
    end
    assert.truthy(progress > 0)
    client:close()
  end)

  it("asks an argument table's __index no more than before, in one step or through call.lua", function()
    local client = servers.client()
    assert(client:attach_to_candidate(upload_args("cand-warm"))) -- (its first call makes what the next ones reuse)
    for _, remote_fields in ipairs { false, { oracle = { override_document_category = "MISC" } } } do
      local asked = {}
      local function count(prefix)
        return { __index = function(_, k) asked[prefix .. k] = (asked[prefix .. k] or 0) + 1 end }
      end
      local body = setmetatable({ attachment = servers.attachment(), remote_fields = remote_fields or nil },
        count("body."))
      local res, err = client:attach_to_candidate(setmetatable({ candidate_id = "cand-asked", body = body },
        count("")))
      assert(res, tostring(err))
      if remote_fields then
        -- read once to decide, and handed to call.lua, which normalizes a copy for the core
        assert.equals(1, asked.preflight)
        assert.is_nil(asked["body.remote_fields"])
      else
        -- read once to decide, once more by the core reading the table
        assert.equals(2, asked.preflight)
        assert.equals(2, asked["body.remote_fields"])
      end
    end
    client:close()
  end)

  -- A plain argument table is looked at by the core's reader as it walks it
  -- (csrc/lua/lua_request.c): what needs Lua first must still go to call.lua.
  it("hands a plain argument table's preflight and remote_fields to call.lua, as the long way does", function()
    local client, integ = servers.client()
    assert(client:attach_to_candidate(upload_args("cand-warm"))) -- (the next calls take the C step)
    -- remote_fields with an alias: normalized in Lua before the core reads the body
    local args = upload_args("cand-aliased")
    args.body.remote_fields = { greenhouse = { on_behalf_of = "user-17" } }
    assert(client:attach_to_candidate(args))
    -- the same in a body whose remote_fields comes from its __index (looked up by name)
    local body = setmetatable({ attachment = servers.attachment() },
      { __index = { remote_fields = { greenhouse = { on_behalf_of = "user-18" } } } })
    assert(client:attach_to_candidate { candidate_id = "cand-inherited", body = body })
    -- with a source whose size its __index gives: asked once (by call.lua's
    -- reading), not first by the C step that then hands the call over,
    -- whichever of the body's members its walk meets first (the bodies'
    -- sizes differ, and so does the order lua_next gives their keys in)
    local via_source = {}
    for spare = 0, 8 do
      local size_asked, content = 0, "%PDF-1.4 source"
      local attachment = setmetatable({ name = "cv.pdf", content_type = "application/pdf", type = "CV",
        source = function() local c = content; content = nil; return c end },
        { __index = function(_, k) if k == "size" then size_asked = size_asked + 1; return #content end end })
      local sized = {}
      for i = 1, spare * 3 do sized["spare" .. i] = true end
      for i = 1, spare * 3 do sized["spare" .. i] = nil end
      sized.attachment = attachment
      sized.remote_fields = { greenhouse = { on_behalf_of = "user-19" } }
      assert(client:attach_to_candidate { candidate_id = "cand-source", body = sized })
      assert.equals(1, size_asked)
      via_source[#via_source + 1] = "user-19"
    end
    -- preflight asked by the call: the restrictions are fetched first
    local checked = upload_args("cand-checked")
    checked.preflight = true
    assert(client:attach_to_candidate(checked))
    -- and false or absent (the client's default is off): not fetched
    local unchecked = upload_args("cand-unchecked")
    unchecked.preflight = false
    assert(client:attach_to_candidate(unchecked))
    local on_behalf, restrictions = {}, 0
    for _, rec in ipairs(servers.requests(integ)) do
      if rec.method == "GET" then
        restrictions = restrictions + 1
      elseif rec.json and rec.json.remote_fields then
        on_behalf[#on_behalf + 1] = rec.json.remote_fields.greenhouse.post_headers["On-Behalf-Of"]
      end
    end
    local expected = { "user-17", "user-18" }
    for _, who in ipairs(via_source) do expected[#expected + 1] = who end
    assert.same(expected, on_behalf)
    assert.equals(1, restrictions)
    client:close()
  end)

  it("a client closed by an __index its method reads to decide refuses that call, and the next", function()
    for _, key in ipairs { "preflight", "remote_fields" } do
      local client = servers.client()
      assert(client:attach_to_candidate(upload_args("cand-warm"))) -- (the next call takes the C step)
      local closer = { __index = function(_, k) if k == key then client:close() end end }
      local args = key == "preflight" and setmetatable(upload_args("cand-closed"), closer)
        or { candidate_id = "cand-closed", body = setmetatable({ attachment = servers.attachment() }, closer) }
      local ok, msg = pcall(client.attach_to_candidate, client, args)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("closed kombo client", 1, true), msg)
      collectgarbage()
      ok, msg = pcall(client.attach_to_candidate, client, upload_args("cand-after"))
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("closed kombo client", 1, true), msg)
    end
  end)

  it("tells on_progress of a small body (under 64 KiB, sent in one piece) as it is read", function()
    local client = servers.client()
    local seen, total = {}, nil
    local args = upload_args("cand-progress")
    args.body.attachment.data = nil
    args.body.attachment.bytes = ("%PDF-1.4\n"):rep(3000) -- 27,000 raw bytes, 36,000 as base64
    args.on_progress = function(sent, of) seen[#seen + 1], total = sent, of end
    local res, err = client:attach_to_candidate(args)
    assert(res, tostring(err))
    assert.truthy(#seen >= 3, "on_progress calls: " .. #seen)
    for i = 2, #seen do assert.truthy(seen[i] > seen[i - 1]) end
    assert.equals(total, seen[#seen])
    client:close()
  end)

  it("a client closed by the call's own on_progress ends that call and refuses the next", function()
    local client = servers.client()
    local args = upload_args("cand-close")
    args.on_progress = function() client:close() end
    local res, err = client:attach_to_candidate(args)
    assert(res, tostring(err))
    local ok, msg = pcall(client.attach_to_candidate, client, upload_args("cand-after"))
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("closed kombo client", 1, true), msg)
  end)

  it("a call made from inside another call's on_progress on the same client is refused, not mixed up", function()
    local client = servers.client()
    local inner_ok, inner_msg
    local args = upload_args("cand-outer")
    args.on_progress = function()
      if inner_ok == nil then
        inner_ok, inner_msg = pcall(client.attach_to_candidate, client, upload_args("cand-inner"))
      end
    end
    local res, err = client:attach_to_candidate(args)
    assert(res, tostring(err))
    assert.is_false(inner_ok)
    assert.truthy(tostring(inner_msg):find("busy", 1, true), inner_msg)
    -- and the client goes on
    res, err = client:attach_to_candidate(upload_args("cand-next"))
    assert(res, tostring(err))
    client:close()
  end)

  -- The kept call stays in its slot while a run uses it: a run made while
  -- the outer one reads its arguments must make a call of its own, not
  -- take (and clear) the one being filled.
  it("a run made from an __index of another run's arguments has its own call; both succeed", function()
    local client = servers.client()
    assert(client:attach_to_candidate(upload_args("cand-warm"))) -- the kept call exists
    local inner_res, inner_err
    local asked = 0
    local args = setmetatable({ candidate_id = "cand-outer-run", body = { attachment = servers.attachment() } }, {
      -- "preflight" is read once by the method to decide, then again by
      -- the core's reader, inside the outer run's prepare
      __index = function(_, k)
        if k ~= "preflight" then return nil end
        asked = asked + 1
        if asked == 2 then
          inner_res, inner_err = client:attach_to_candidate(upload_args("cand-inner-run"))
        end
      end,
    })
    local res, err = client:attach_to_candidate(args)
    assert.equals(2, asked)
    assert(inner_res, tostring(inner_err))
    assert(res, tostring(err))
    assert.equals("success", inner_res.status)
    assert.equals("success", res.status)
    assert.equals(200, res.http.status)
    assert.equals(200, inner_res.http.status)
    assert.are_not.equal(res, inner_res)
    -- and the next runs go on in the kept call
    for i = 1, 3 do assert(client:attach_to_candidate(upload_args("cand-after-" .. i))) end
    client:close()
  end)

  -- The other calls through call.lua (own options here) are kept too: the
  -- client's state holds the last closed one, and its next call is made
  -- in it (kombo/call.lua: prepare and send; inside nginx every call).
  it("a call through call.lua leaves its closed call for the next, which is made in it", function()
    local client = servers.client()
    local p = require("kombo.client").private[client]
    local opts = { timeout = 20 }
    local r1 = assert(client:attach_to_candidate(upload_args("cand-keep-1"), opts))
    local kept = p.spare_call
    assert.equals("userdata", type(kept))
    local r2 = assert(client:attach_to_candidate(upload_args("cand-keep-2"), opts))
    assert.equals(kept, p.spare_call) -- made in it, closed, kept again
    -- each result its own, after its call was made again
    assert.equals(200, r1.http.status)
    assert.is_string(r1.data.id)
    assert.equals(200, r2.http.status)
    -- refused by the core: the spare was not used, and stays
    local _, err = client:attach_to_candidate({ candidate_id = "", body = { attachment = servers.attachment() } }, opts)
    assert.equals("validation", err.kind)
    assert.equals(kept, p.spare_call)
    client:close()
    -- an observed client keeps none (an observer saw the call)
    local watched = servers.client { hooks = { before_request = function() end } }
    local wp = require("kombo.client").private[watched]
    assert(watched:attach_to_candidate(upload_args("cand-keep-3")))
    assert.is_nil(wp.spare_call)
    watched:close()
  end)
end)
