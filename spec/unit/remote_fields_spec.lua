-- body.remote_fields: known ATS fields are checked (with aliases mapped to
-- the API's names), unknown keys pass through unchanged, and every table is
-- checked for what JSON cannot carry.
local kombo = require "kombo"
local h = require "unit.helpers"

local cjson = h.cjson
local hex = h.hex

local function args_with(remote_fields, target)
  local a = h.args({}, target)
  a.body.remote_fields = remote_fields
  return a
end

local function method_of(target)
  return target == "application" and "attach_to_application" or "attach_to_candidate"
end

-- What the public API puts on the wire for these remote_fields (captured).
local function sent(remote_fields, target)
  return h.send(h.client(), method_of(target), args_with(remote_fields, target))
end

-- The exact bytes of `"remote_fields":...}` at the end of the body.
local function wire_tail(remote_fields, target)
  local rec = sent(remote_fields, target)
  return (rec.body:match(',"remote_fields":(.*)}$'))
end

local function problems_for(remote_fields, target)
  return h.validation_error(h.client(), method_of(target), args_with(remote_fields, target)).problems
end

local function assert_only_problem(problems, path, pattern)
  assert.are.same({ path }, h.paths(problems), h.dump(problems))
  if pattern then
    assert.matches(pattern, table.concat(h.at(problems, path), " | "), 1, true)
  end
end

describe("remote_fields", function()
  it("is absent from the body when not given", function()
    local rec = h.send(h.client(), "attach_to_candidate", h.args())
    assert.is_nil(rec.json.remote_fields)
    assert.is_nil(rec.body:find("remote_fields", 1, true))
  end)

  it("is sent as {} when given empty", function()
    assert.equals("{}", wire_tail {})
  end)

  it("given as an array (a JSON list) is a problem at body.remote_fields", function()
    -- The API's remote_fields is an object; ["a","b"] must not be sent.
    assert_only_problem(problems_for { "a", "b" }, "body.remote_fields")
  end)

  describe("greenhouse.post_headers['On-Behalf-Of']", function()
    local PATH = "body.remote_fields.greenhouse.post_headers.On-Behalf-Of"

    it("accepts a string", function()
      assert.equals('{"greenhouse":{"post_headers":{"On-Behalf-Of":"user-17"}}}',
        wire_tail { greenhouse = { post_headers = { ["On-Behalf-Of"] = "user-17" } } })
    end)

    it("accepts kombo.null, sent as null", function()
      assert.equals('{"greenhouse":{"post_headers":{"On-Behalf-Of":null}}}',
        wire_tail { greenhouse = { post_headers = { ["On-Behalf-Of"] = kombo.null } } })
    end)

    for _, case in ipairs { { "number", 17 }, { "boolean", true }, { "table", { "u" } } } do
      it("rejects a " .. case[1], function()
        assert_only_problem(problems_for { greenhouse = { post_headers = { ["On-Behalf-Of"] = case[2] } } },
          PATH, "must be a string or null (got " .. case[1] .. ")")
      end)
    end

    it("alias greenhouse.on_behalf_of is sent as post_headers['On-Behalf-Of']", function()
      local rec = sent { greenhouse = { on_behalf_of = "user-17" } }
      assert.equals('{"greenhouse":{"post_headers":{"On-Behalf-Of":"user-17"}}}',
        rec.body:match(',"remote_fields":(.*)}$'))
      assert.is_nil(rec.json.remote_fields.greenhouse.on_behalf_of)
    end)

    it("alias greenhouse.post_headers.on_behalf_of is sent as 'On-Behalf-Of'", function()
      assert.equals('{"greenhouse":{"post_headers":{"On-Behalf-Of":"user-17"}}}',
        wire_tail { greenhouse = { post_headers = { on_behalf_of = "user-17" } } })
    end)

    it("alias keeps the other post_headers and greenhouse keys", function()
      local rec = sent { greenhouse = { on_behalf_of = "u", other = 1,
                                        post_headers = { ["X-Custom"] = "y" } } }
      assert.are.same({ greenhouse = { other = 1, post_headers = { ["On-Behalf-Of"] = "u", ["X-Custom"] = "y" } } },
        rec.json.remote_fields)
    end)

    it("alias with kombo.null is sent as null", function()
      assert.equals('{"greenhouse":{"post_headers":{"On-Behalf-Of":null}}}',
        wire_tail { greenhouse = { on_behalf_of = kombo.null } })
    end)

    it("alias of the wrong type is a problem", function()
      assert_only_problem(problems_for { greenhouse = { on_behalf_of = 5 } }, PATH, "must be a string")
    end)

    it("both aliases with the same value are accepted", function()
      assert.equals('{"greenhouse":{"post_headers":{"On-Behalf-Of":"u"}}}',
        wire_tail { greenhouse = { on_behalf_of = "u", post_headers = { on_behalf_of = "u", ["On-Behalf-Of"] = "u" } } })
    end)

    it("conflicting alias and API name is a problem", function()
      assert_only_problem(problems_for { greenhouse = { on_behalf_of = "a",
        post_headers = { ["On-Behalf-Of"] = "b" } } }, PATH, "given twice")
    end)

    it("conflicting aliases are a problem", function()
      assert_only_problem(problems_for { greenhouse = { on_behalf_of = "a",
        post_headers = { on_behalf_of = "b" } } }, PATH, "given twice")
    end)

    it("conflicting post_headers alias and API name is a problem", function()
      assert_only_problem(problems_for { greenhouse = { post_headers = { on_behalf_of = "a",
        ["On-Behalf-Of"] = "b" } } }, PATH, "given twice")
    end)

    it("does not modify the caller's table", function()
      local rf = { greenhouse = { on_behalf_of = "u", post_headers = { on_behalf_of = "u", keep = "k" } },
                   other = { x = 1 } }
      local before = h.serialize(rf)
      local gh, ph = rf.greenhouse, rf.greenhouse.post_headers
      sent(rf)
      assert.equals(before, h.serialize(rf))
      assert.equals(gh, rf.greenhouse)
      assert.equals(ph, rf.greenhouse.post_headers)
    end)

    it("does not modify the caller's table when it adds post_headers", function()
      local rf = { greenhouse = { on_behalf_of = "u" } }
      sent(rf)
      assert.are.same({ greenhouse = { on_behalf_of = "u" } }, rf)
    end)

    it("greenhouse that is not a table is a problem", function()
      assert_only_problem(problems_for { greenhouse = "x" }, "body.remote_fields.greenhouse", "must be an object (got")
    end)

    it("post_headers that is not a table is a problem", function()
      assert_only_problem(problems_for { greenhouse = { post_headers = 5 } },
        "body.remote_fields.greenhouse.post_headers", "must be an object (got")
    end)
  end)

  describe("workable.on_behalf_of_user_remote_id", function()
    local PATH = "body.remote_fields.workable.on_behalf_of_user_remote_id"

    it("accepts a string", function()
      assert.equals('{"workable":{"on_behalf_of_user_remote_id":"wk-9"}}',
        wire_tail { workable = { on_behalf_of_user_remote_id = "wk-9" } })
    end)

    for _, case in ipairs { { "number", 9 }, { "boolean", false }, { "table", {} }, { "null", kombo.null } } do
      it("rejects a " .. case[1], function()
        assert_only_problem(problems_for { workable = { on_behalf_of_user_remote_id = case[2] } },
          PATH, "must be a string (got " .. case[1] .. ")")
      end)
    end

    it("workable that is not a table is a problem", function()
      assert_only_problem(problems_for { workable = 1 }, "body.remote_fields.workable", "must be an object (got")
    end)
  end)

  describe("oracle on applications", function()
    local CAT = "body.remote_fields.oracle.override_document_category"
    local MULTI = "body.remote_fields.oracle.multi_post_to_all_current_applications"

    for _, cat in ipairs { "IRC_CANDIDATE_RESUME", "IRC_CANDIDATE_COVERLETTER", "MISC", "IRC_INTERNAL" } do
      it("accepts override_document_category " .. cat, function()
        assert.equals('{"oracle":{"override_document_category":"' .. cat .. '"}}',
          wire_tail({ oracle = { override_document_category = cat } }, "application"))
      end)
    end

    for _, bad in ipairs { "CV", "misc", "" } do
      it(("rejects override_document_category %q"):format(bad), function()
        assert_only_problem(problems_for({ oracle = { override_document_category = bad } }, "application"),
          CAT, "must be one of IRC_CANDIDATE_RESUME")
      end)
    end

    it("rejects override_document_category of the wrong type", function()
      assert_only_problem(problems_for({ oracle = { override_document_category = 1 } }, "application"),
        CAT, "must be a string")
    end)

    for _, b in ipairs { true, false } do
      it("accepts multi_post_to_all_current_applications " .. tostring(b), function()
        assert.equals('{"oracle":{"multi_post_to_all_current_applications":' .. tostring(b) .. '}}',
          wire_tail({ oracle = { multi_post_to_all_current_applications = b } }, "application"))
      end)
    end

    for _, case in ipairs { { "string", "true" }, { "number", 1 } } do
      it("rejects multi_post_to_all_current_applications as a " .. case[1], function()
        assert_only_problem(problems_for({ oracle = { multi_post_to_all_current_applications = case[2] } },
          "application"), MULTI, "must be a boolean (got " .. case[1] .. ")")
      end)
    end

    it("oracle that is not a table is a problem", function()
      assert_only_problem(problems_for({ oracle = "x" }, "application"), "body.remote_fields.oracle",
        "must be an object (got")
    end)

    it("reports both oracle problems at once", function()
      local problems = problems_for({ oracle = { override_document_category = "X",
        multi_post_to_all_current_applications = "no" } }, "application")
      assert.are.same({ MULTI, CAT }, h.paths(problems), h.dump(problems)) -- sorted
    end)
  end)

  describe("oracle on candidates", function()
    it("passes through unchecked", function()
      local rf = { oracle = { override_document_category = "ANYTHING", multi_post_to_all_current_applications = "yes" } }
      local rec = sent(rf)
      assert.are.same(rf, rec.json.remote_fields)
    end)

    it("passes through even when not a table", function()
      assert.equals('{"oracle":"x"}', wire_tail { oracle = "x" })
    end)
  end)

  describe("unknown keys", function()
    it("pass through unchanged (nested tables and arrays)", function()
      local rf = { lever = { tags = { "a", "b", { deep = { 1, 2, 3 } } }, owner = { id = "u1", active = true } },
                   bamboohr = { category = 7 } }
      local rec = sent(rf)
      assert.are.same(rf, rec.json.remote_fields)
    end)

    it("kombo.empty_array is defined (a value distinct from kombo.null)", function()
      assert.is_not_nil(kombo.empty_array)
      assert.is_not_nil(kombo.null)
      assert.are_not.equal(kombo.null, kombo.empty_array)
    end)

    local exact = {
      { "an integer", { n = 42 }, '{"n":42}' },
      { "a negative integer", { n = -7 }, '{"n":-7}' },
      { "zero", { n = 0 }, '{"n":0}' },
      { "an integer-valued float", { n = 3.0 }, '{"n":3}' },
      { "2^53", { n = 2 ^ 53 }, '{"n":9007199254740992}' },
      { "a float", { n = 1.5 }, '{"n":1.5}' },
      { "a negative float", { n = -0.25 }, '{"n":-0.25}' },
      { "true", { b = true }, '{"b":true}' },
      { "false", { b = false }, '{"b":false}' },
      { "kombo.null", { x = kombo.null }, '{"x":null}' },
      { "kombo.empty_array", { x = kombo.empty_array }, '{"x":[]}' },
      { "an empty table (object)", { x = {} }, '{"x":{}}' },
      { "an array", { x = { 1, "two", false } }, '{"x":[1,"two",false]}' },
      { "an array of objects", { x = { { a = 1 }, { b = kombo.null } } }, '{"x":[{"a":1},{"b":null}]}' },
      { "a string with escapes", { ['k"\\'] = 'v"\n/' }, '{"k\\"\\\\":"v\\"\\n/"}' },
    }
    for _, case in ipairs(exact) do
      it("send " .. case[1] .. " exactly", function()
        assert.equals(case[3], wire_tail(case[2]))
      end)
    end

    it("send floats so that they decode to the same number", function()
      local rf = { a = 0.1, b = 1 / 3, c = 1e300, d = -2.5e-8, e = 123456.789 }
      local rec = sent(rf)
      assert.are.same(rf, rec.json.remote_fields)
    end)

    it("send a large integer exactly", function()
      if not math.type then return end -- Lua 5.1 / LuaJIT have no integers
      assert.equals('{"n":9223372036854775807}', wire_tail { n = math.maxinteger })
    end)

    -- The core writes integers by hand (no snprintf): as %d would, every width and sign.
    it("send integers as %d writes them, the smallest and largest included", function()
      local values = { 0, 1, -1, 7, 9, 10, -10, 99, 100, 12345, -987654321, 4294967296, 2 ^ 53 - 1, -(2 ^ 53 - 1) }
      if math.type then
        values[#values + 1] = math.maxinteger
        values[#values + 1] = math.mininteger
      end
      for _, v in ipairs(values) do
        if math.type then v = math.tointeger(v) or v end
        assert.equals(('{"n":%d}'):format(v), wire_tail { n = v })
      end
    end)

    it("may share a sub-table (not a cycle)", function()
      local shared = { x = 1 }
      local rec = sent { a = shared, b = shared, list = { shared, shared } }
      assert.are.same({ a = { x = 1 }, b = { x = 1 }, list = { { x = 1 }, { x = 1 } } }, rec.json.remote_fields)
    end)
  end)

  describe("what JSON cannot carry", function()
    local nan = 0 / 0
    local bad_numbers = {
      { "NaN", nan, "NaN" },
      { "infinity", math.huge, "infinity" },
      { "-infinity", -math.huge, "infinity" },
    }
    for _, case in ipairs(bad_numbers) do
      it("rejects " .. case[1] .. " with its path", function()
        assert_only_problem(problems_for { lever = { score = case[2] } }, "body.remote_fields.lever.score",
          "must be a finite number (got " .. case[3] .. ")")
      end)
    end

    it("rejects NaN inside an array with its index in the path", function()
      assert_only_problem(problems_for { lever = { scores = { 1, nan } } }, "body.remote_fields.lever.scores[2]",
        "finite")
    end)

    it("names an index of several digits in the path", function()
      local scores = {}
      for k = 1, 111 do scores[k] = k end
      scores[107] = 0 / 0
      assert_only_problem(problems_for { lever = { scores = scores } }, "body.remote_fields.lever.scores[107]", "finite")
    end)

    it("rejects a cyclic table", function()
      local t = { name = "loop" }
      t.self = t
      local problems = problems_for { lever = t }
      assert.are.same({ "body.remote_fields.lever.self" }, h.paths(problems), h.dump(problems))
      assert.matches("cyclic", problems[1].message, 1, true)
    end)

    it("rejects a cycle through the root table", function()
      local rf = {}
      rf.again = rf
      local problems = problems_for(rf)
      assert.equals(1, #problems, h.dump(problems))
      assert.matches("^body%.remote_fields%.again", problems[1].path)
      assert.matches("cyclic", problems[1].message, 1, true)
    end)

    -- remote_fields itself is level 1.
    local function nested(levels)
      local root = {}
      local t = root
      for _ = 2, levels do
        t.a = {}
        t = t.a
      end
      t.leaf = true
      return root
    end

    it("accepts 32 levels of nesting", function()
      local rec = sent(nested(32))
      assert.equals(string.rep('{"a":', 31) .. '{"leaf":true' .. string.rep("}", 32),
        rec.body:match(',"remote_fields":(.*)}$'))
    end)

    it("rejects 33 levels of nesting", function()
      local problems = problems_for(nested(33))
      assert.equals(1, #problems, h.dump(problems))
      assert.matches("^body%.remote_fields%.a", problems[1].path)
      assert.matches("deeper than 32", problems[1].message, 1, true)
    end)

    -- A coroutine starts with a small Lua stack: 32 levels of tables must
    -- not overrun it while they are encoded (each level holds a key, a
    -- value and temporaries on the C side).
    for _, levels in ipairs { 20, 31, 32, 33, 40 } do
      it(("encodes or rejects %d levels inside a fresh coroutine without harm"):format(levels), function()
        local co = coroutine.create(function()
          local rec = sent(nested(levels))
          return rec.body
        end)
        local ok, body = coroutine.resume(co)
        if levels <= 32 then
          assert.is_true(ok, tostring(body))
          assert.truthy(body:find(string.rep('{"a":', levels - 1) .. '{"leaf":true', 1, true), body)
        else
          assert.is_false(ok) -- h.send raises with the problems: nothing to send
          assert.truthy(tostring(body):find("deeper than 32", 1, true), tostring(body))
        end
      end)
    end

    it("rejects very deep nesting with one problem", function()
      local problems = problems_for(nested(500))
      assert.equals(1, #problems, h.dump(problems))
      assert.matches("deeper than 32", problems[1].message, 1, true)
    end)

    local bad_keys = {
      { "mixed array and string keys", { x = { 1, 2, k = "v" } } },
      { "a sparse array", { x = { [1] = "a", [3] = "c" } } },
      { "an array not starting at 1", { x = { [0] = "a", [1] = "b" } } },
      { "a boolean key", { x = { [true] = 1 } } },
      { "a float key", { x = { [1.5] = 1 } } },
      { "a table key", { x = { [{}] = 1 } } },
      { "a negative key", { x = { [-1] = 1 } } },
    }
    for _, case in ipairs(bad_keys) do
      it("rejects " .. case[1], function()
        assert_only_problem(problems_for(case[2]), "body.remote_fields.x", "only string keys")
      end)
    end

    -- Objects are read in one walk: a non-string key met after string keys
    -- (whose members had problems of their own) still leaves the shape as
    -- the one problem.  Built so that `next` visits the string keys first.
    it("rejects a non-string key met after string keys, with only that problem", function()
      -- (the order depends on the string hash seed: many key names, so that
      -- some table has a string key first whatever the seed)
      for i = 1, 500 do
        local t = { b = { c = 0 / 0 } }
        t["k" .. i] = 0 / 0
        t[i + 0.5] = "late"
        local first = next(t)
        if type(first) == "string" then
          assert_only_problem(problems_for { x = t }, "body.remote_fields.x", "only string keys")
          return
        end
      end
      error("no table whose first key is a string")
    end)

    local bad_values = {
      { "a function", function() end, "function" },
      { "a coroutine", coroutine.create(function() end), "thread" },
      { "a userdata", io.stdout, "userdata" },
    }
    for _, case in ipairs(bad_values) do
      it("rejects " .. case[1] .. " value", function()
        assert_only_problem(problems_for { x = { y = case[2] } }, "body.remote_fields.x.y",
          "cannot be sent as JSON (a " .. case[3] .. ")")
      end)
    end

    it("rejects a string value that is not valid UTF-8", function()
      assert_only_problem(problems_for { x = "bad " .. hex "C3 28" }, "body.remote_fields.x",
        "must be valid UTF-8")
    end)

    it("rejects a string key that is not valid UTF-8", function()
      local key = "k" .. hex "FF"
      local problems = problems_for { x = { [key] = 1 } }
      assert.equals(1, #problems, h.dump(problems))
      assert.matches("^body%.remote_fields%.x%.", problems[1].path)
      assert.matches("has a name that is not valid UTF-8", problems[1].message, 1, true)
    end)

    it("rejects an invalid known field and an invalid unknown one together", function()
      local problems = problems_for { workable = { on_behalf_of_user_remote_id = 1 }, lever = { n = 0 / 0 } }
      assert.are.same({ "body.remote_fields.lever.n", "body.remote_fields.workable.on_behalf_of_user_remote_id" },
        h.paths(problems), h.dump(problems))
    end)

    it("reports remote_fields problems along with attachment problems", function()
      local a = args_with { x = math.huge }
      a.body.attachment.type = "PDF"
      local problems = h.validation_error(h.client(), "attach_to_candidate", a).problems
      assert.are.same({ "body.attachment.type", "body.remote_fields.x" }, h.paths(problems), h.dump(problems))
    end)
  end)

  it("decodes back to the same structure with cjson", function()
    local rf = { greenhouse = { post_headers = { ["On-Behalf-Of"] = "u" } },
                 workable = { on_behalf_of_user_remote_id = "w" }, custom = { list = { 1, 2.5, "x", true } } }
    local rec = sent(rf)
    assert.are.same(rf, cjson.decode(rec.body).remote_fields)
  end)
end)
