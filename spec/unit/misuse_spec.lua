-- Misusing the API's shape raises a Lua error that names the argument (like
-- luaL_argerror); it is not a validation problem.
local kombo = require "kombo"
local h = require "unit.helpers"

-- Runs fn, asserts it raised, returns the message.
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error to be raised")
  return tostring(err)
end

-- The error should blame the caller's line, never kombo's own code.
local function assert_not_blaming_kombo(message)
  assert.is_nil(message:match("^lua/kombo/"), "error position points into the library: " .. message)
  assert.is_nil(message:match("kombo/init%.lua:%d+:"), "error position points into the library: " .. message)
  assert.is_nil(message:match("kombo/model%.lua:%d+:"), "error position points into the library: " .. message)
end

describe("misuse", function()
  for _, method in ipairs { "attach_to_candidate", "attach_to_application" } do
    describe("client:" .. method, function()
      local cases = {
        { "a string instead of the argument table", function() return "x" end,
          "the argument must be a table, got string" },
        { "no argument", function() return nil end, "the argument must be a table, got nil" },
        { "body as a string", function() return { candidate_id = "c", body = "x" } end,
          "'body' must be a table, got string" },
        { "body.attachment as a number", function() return { candidate_id = "c", body = { attachment = 5 } } end,
          "'body.attachment' must be a table, got number" },
        { "body.attachment as a string", function() return { body = { attachment = "cv.pdf" } } end,
          "'body.attachment' must be a table, got string" },
        { "body.remote_fields as a string", function()
            return { candidate_id = "c", body = { attachment = h.attachment(), remote_fields = "x" } }
          end, "'body.remote_fields' must be a table, got string" },
        { "body.remote_fields as kombo.null", function()
            return { candidate_id = "c", body = { attachment = h.attachment(), remote_fields = kombo.null } }
          end, "'body.remote_fields' must be a table, got userdata" },
        -- The body's members are shape-checked while the body is read: the
        -- first in the description's order speaks, whatever the table's
        -- order, and a walk that stops short (a key that is not a string)
        -- or a body with a metatable (inherited members) is checked by name.
        { "body.attachment and body.remote_fields both as strings", function()
            local body = {}
            for i = 1, 20 do body["x" .. i] = i end
            body.remote_fields, body.attachment = "x", "y"
            for i = 1, 20 do body["x" .. i] = nil end
            return { candidate_id = "c", body = body }
          end, "'body.attachment' must be a table, got string" },
        { "body.remote_fields as a string beside a number key", function()
            return { candidate_id = "c", body = { [1] = true, attachment = h.attachment(), remote_fields = 7 } }
          end, "'body.remote_fields' must be a table, got number" },
        { "body.remote_fields inherited as a string", function()
            local body = setmetatable({ attachment = h.attachment() }, { __index = { remote_fields = "x" } })
            return { candidate_id = "c", body = body }
          end, "'body.remote_fields' must be a table, got string" },
        -- (a source's size is read through the file object's __index: no
        -- caller's Lua may run before the misuse raises, as before the
        -- shape check moved into the walk)
        { "body.remote_fields as a string beside a source whose size raises", function()
            local attachment = setmetatable({ name = "a.bin", type = "CV", source = function() end },
              { __index = function(_, k) error("the size's __index ran for " .. k, 0) end })
            return { candidate_id = "c", body = { attachment = attachment, remote_fields = "x" } }
          end, "'body.remote_fields' must be a table, got string" },
        { "body.remote_fields as a boolean after a nested object", function()
            return { candidate_id = "c", body = { attachment = { name = "a", data = 5 }, remote_fields = false } }
          end, "'body.remote_fields' must be a table, got boolean" },
      }
      for _, case in ipairs(cases) do
        it("raises for " .. case[1], function()
          local client = h.client()
          local msg = raised(function() return client[method](client, case[2]()) end)
          assert.matches("bad argument #1 to '" .. method .. "'", msg, 1, true)
          assert.matches(case[3], msg, 1, true)
        end)
      end

      -- With and without call options (the common call is one C step,
      -- kombo/call.lua): the message names the caller's line.
      for _, opts in ipairs { false, { timeout = 5 } } do
        it("raises at the caller's line" .. (opts and " (with call options)" or ""), function()
          local client = h.client()
          local msg = raised(function() local r = client[method](client, "x", opts or nil); return r end)
          assert.truthy(msg:find("^[^:]*misuse_spec%.lua:%d+: bad argument #1"), msg)
        end)
      end

      it("raises when called with a dot instead of a colon", function()
        local client = h.client()
        local msg = raised(function() return client[method](h.args()) end)
        assert.matches("kombo client expected", msg, 1, true)
        assert.matches("client:" .. method, msg, 1, true)
      end)

      it("raises on a closed client", function()
        local client = h.client()
        client:close()
        local msg = raised(function() return client[method](client, h.args()) end)
        assert.matches("closed kombo client", msg, 1, true)
        assert.matches(method, msg, 1, true)
      end)

      it("raises for a misused call before checking anything else", function()
        local client = h.client { integration_id = h.NONE }
        local msg = raised(function() return client[method](client, { candidate_id = "", body = 7 }) end)
        assert.matches("'body' must be a table", msg, 1, true)
      end)

      it("blames the caller, not the library", function()
        local client = h.client()
        assert_not_blaming_kombo(raised(function() return client[method](client, "x") end))
      end)
    end)
  end

  describe("kombo.attach_to_candidate (default client)", function()
    it("raises for a non-table argument", function()
      h.with_env({}, function() kombo.configure { api_key = h.API_KEY, server_url = h.OFFLINE_URL } end)
      local msg = raised(function() return kombo.attach_to_candidate("x") end)
      assert.matches("bad argument #1 to 'attach_to_candidate'", msg, 1, true)
    end)

    it("raises for a non-table argument (application)", function()
      h.with_env({}, function() kombo.configure { api_key = h.API_KEY, server_url = h.OFFLINE_URL } end)
      local msg = raised(function() return kombo.attach_to_application(42) end)
      assert.matches("bad argument #1 to 'attach_to_application'", msg, 1, true)
    end)
  end)

  describe("kombo.new", function()
    local function new_raises(opts, pattern)
      local msg
      h.with_env({}, function() msg = raised(function() return kombo.new(opts) end) end)
      assert.matches("bad argument #1 to 'new'", msg, 1, true)
      assert.matches(pattern, msg, 1, true)
      return msg
    end

    it("raises for a number", function()
      new_raises(5, "table expected, got number")
    end)

    it("raises for a string", function()
      new_raises("https://api.kombo.dev/v1", "table expected, got string")
    end)

    it("raises for an unknown option, naming it", function()
      new_raises({ api_key = h.API_KEY, apikey = "x" }, "unknown option 'apikey'")
    end)

    it("raises for an unknown retries option, naming it", function()
      new_raises({ retries = { attempts = 3 } }, "unknown option 'retries.attempts'")
    end)

    local wrong_types = {
      { "api_key", 123, "option 'api_key' must be a string, got number" },
      { "integration_id", true, "option 'integration_id' must be a string, got boolean" },
      { "server_url", {}, "option 'server_url' must be a string, got table" },
      { "timeout", "30", "option 'timeout' must be a number, got string" },
      { "connect_timeout", false, "option 'connect_timeout' must be a number, got boolean" },
      { "retries", 3, "option 'retries' must be a table or boolean, got number" },
      { "max_response_bytes", "1MB", "option 'max_response_bytes' must be a number, got string" },
      { "user_agent", 1, "option 'user_agent' must be a string, got number" },
    }
    for _, case in ipairs(wrong_types) do
      it("raises for option " .. case[1] .. " of the wrong type", function()
        new_raises({ [case[1]] = case[2] }, case[3])
      end)
    end

    it("raises for retries.max_attempts of the wrong type", function()
      new_raises({ retries = { max_attempts = "3" } }, "option 'retries.max_attempts' must be a number, got string")
    end)

    it("raises for retries = true", function()
      new_raises({ retries = true }, "option 'retries' must be a table or false")
    end)

    it("raises for server = \"mars\"", function()
      new_raises({ server = "mars" }, "option 'server' must be \"eu\" or \"us\", got \"mars\"")
    end)

    it("blames the caller for a bad argument", function()
      assert_not_blaming_kombo(new_raises(5, "table expected"))
    end)

    it("blames the caller for an unknown option", function()
      assert_not_blaming_kombo(new_raises({ apikey = "x" }, "unknown option"))
    end)

    it("blames the caller for an option of the wrong type", function()
      assert_not_blaming_kombo(new_raises({ timeout = "30" }, "must be a number"))
    end)
  end)
end)
