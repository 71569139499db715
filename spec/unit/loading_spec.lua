-- What `require "kombo"` loads.  Every script, cron job and command-line
-- run outside nginx pays for parsing each module it loads, so the modules
-- only some programs use are loaded when first used: the OpenResty
-- transport (kombo.cosocket) only inside nginx or by a call that takes it,
-- kombo.lists by the first pages/each, kombo.webhook by the first
-- verify_webhook/webhook_handler, and the operations' generated data
-- (kombo.gen.operations) not at all.  Each case runs in a fresh child
-- process, so that package.loaded starts empty.
local sys = require "support.sys"

-- The child's output as { name = value } from its "name=value" lines.
local function run(script)
  local rc, out = sys.run_lua(script, nil, 30)
  assert.equal(0, rc, out)
  local got = {}
  for k, v in out:gmatch("([%w_.]+)=([^\n]*)") do got[k] = v end
  return got, out
end

-- A stand-in for nginx's Lua module: enough of `ngx` for the detection
-- (lua/kombo/nginx.lua) and for the transport to load; connecting fails.
local FAKE_NGX = [[
local function fake_ngx(phase)
  return {
    get_phase = function() return phase end,
    sleep = function() end, log = function() end, WARN = 5, ERR = 4,
    socket = { tcp = function()
      return {
        settimeouts = function() end, settimeout = function() end,
        connect = function() return nil, "connection refused" end,
        close = function() return 1 end,
      }
    end },
  }
end
]]

describe("require \"kombo\" #unit", function()
  it("outside nginx does not load the OpenResty transport, the lists, the webhooks or the operations' data",
    function()
      local got = run [[
        require "kombo"
        for _, m in ipairs { "kombo.cosocket", "kombo.lists", "kombo.webhook", "kombo.gen.operations",
                             "kombo.nginx" } do
          print(m .. "=" .. tostring(package.loaded[m] ~= nil))
        end
      ]]
      assert.same({ ["kombo.cosocket"] = "false", ["kombo.lists"] = "false", ["kombo.webhook"] = "false",
        ["kombo.gen.operations"] = "false", ["kombo.nginx"] = "true" }, got)
    end)

  it("has every member on the module table before any is used (pairs sees them)", function()
    local got = run [[
      local kombo = require "kombo"
      local seen = {}
      for k, v in pairs(kombo) do seen[k] = type(v) end
      for _, k in ipairs { "pages", "each", "verify_webhook", "webhook_handler", "WEBHOOK_EVENTS" } do
        print(k .. "=" .. tostring(seen[k]))
      end
      local client = kombo.new{ api_key = "k", server_url = "http://127.0.0.1:9/v1" }
      print("client_pages=" .. type(client.pages))
      print("events=" .. tostring(kombo.WEBHOOK_EVENTS == require("kombo.webhook").WEBHOOK_EVENTS))
      print("sync_finished_deprecated=" .. tostring(kombo.WEBHOOK_EVENTS["sync-finished"].deprecated))
    ]]
    assert.same({ pages = "function", each = "function", verify_webhook = "function",
      webhook_handler = "function", WEBHOOK_EVENTS = "table", client_pages = "function", events = "true",
      sync_finished_deprecated = "true" }, got)
  end)

  it("loads kombo.lists at the first pages/each, whose misuse still names the caller's line", function()
    local got, out = run [[
      local kombo = require "kombo"
      local client = kombo.new{ api_key = "k", server_url = "http://127.0.0.1:9/v1" }
      print("before=" .. tostring(package.loaded["kombo.lists"] ~= nil))
      local ok, err = pcall(function()
        client:pages(42) -- line 5
      end)
      print("raised=" .. tostring(not ok))
      print("where=" .. tostring(err):match("^[^:]*:(%d+):"))
      print("message=" .. tostring(err):match("bad argument #1 to 'pages'[^\n]*"))
      print("after=" .. tostring(package.loaded["kombo.lists"] ~= nil))
      local _, err2 = pcall(function() client:each("get_job") end) -- line 11
      print("where2=" .. tostring(err2):match("^[^:]*:(%d+):"))
      print("unknown=" .. tostring(tostring(err2):find("unknown operation 'get_job'", 1, true) ~= nil))
    ]]
    assert.equal("false", got.before, out)
    assert.equal("true", got.raised, out)
    assert.equal("5", got.where, out)
    assert.equal("bad argument #1 to 'pages' (the name of a list expected, got number)", got.message, out)
    assert.equal("true", got.after, out)
    assert.equal("11", got.where2, out)
    assert.equal("true", got.unknown, out)
  end)

  it("loads kombo.webhook at the first verify_webhook or webhook_handler, misuse naming the caller's line", function()
    for _, first in ipairs { "verify", "handler" } do
      local script = [[
        local kombo = require "kombo"
        print("before=" .. tostring(package.loaded["kombo.webhook"] ~= nil))
        local ok, err
        if FIRST == "verify" then
          ok, err = pcall(function()
            kombo.verify_webhook("{}", 42, "secret") -- line 6
          end)
        else
          ok, err = pcall(function()
            kombo.webhook_handler(42) -- line 10
          end)
        end
        print("raised=" .. tostring(not ok))
        print("where=" .. tostring(err):match("^[^:]*:(%d+):"))
        print("message=" .. tostring(err):match("bad argument[^\n]*"))
        print("after=" .. tostring(package.loaded["kombo.webhook"] ~= nil))
        local event, verr = kombo.verify_webhook("{}", nil, "secret")
        print("verified=" .. tostring(event) .. " " .. tostring(verr and verr.code))
      ]]
      local got, out = run((script:gsub("FIRST", ("%q"):format(first))))
      assert.equal("false", got.before, out)
      assert.equal("true", got.raised, out)
      if first == "verify" then
        assert.equal("6", got.where, out)
        assert.equal("bad argument #2 to 'verify_webhook' (the X-Kombo-Signature header as a string expected, "
          .. "got number)", got.message, out)
      else
        assert.equal("10", got.where, out)
        assert.equal("bad argument #1 to 'webhook_handler' (options table expected, got number)", got.message, out)
      end
      assert.equal("true", got.after, out)
      assert.equal("nil signature_missing", got.verified, out)
    end
  end)

  it("inside nginx loads the transport, the lists and the webhooks with the module (not in a request)", function()
    local got = run(FAKE_NGX .. [[
      ngx = fake_ngx("init")
      require "kombo"
      print("cosocket=" .. tostring(package.loaded["kombo.cosocket"] ~= nil))
      print("lists=" .. tostring(package.loaded["kombo.lists"] ~= nil))
      print("webhook=" .. tostring(package.loaded["kombo.webhook"] ~= nil))
      local nginx = require "kombo.nginx"
      print("in_nginx=" .. tostring(nginx.in_nginx()))
      print("select=" .. tostring(select(2, nginx.select("auto")):match("'init' phase")))
      ngx = fake_ngx("timer")
      print("timer=" .. tostring(nginx.select("auto")))
      print("same=" .. tostring(require("kombo.cosocket").select == nginx.select))
    ]])
    assert.same({ cosocket = "true", lists = "true", webhook = "true", in_nginx = "true", select = "'init' phase",
      timer = "cosocket", same = "true" }, got)
  end)

  it("loaded outside nginx, loads the transport for a cosocket call once `ngx` appeared", function()
    local got, out = run(FAKE_NGX .. [[
      local kombo = require "kombo"
      print("before=" .. tostring(package.loaded["kombo.cosocket"] ~= nil))
      ngx = fake_ngx("timer")
      local client = kombo.new{ api_key = "k", server_url = "http://127.0.0.1:9/v1", retries = false,
        integration_id = "workday:1", transport = "cosocket" }
      local res, err = client:get_jobs({}, { timeout = 2 })
      print("res=" .. tostring(res))
      print("kind=" .. tostring(err and err.kind))
      print("message=" .. tostring(err and err.message))
      print("after=" .. tostring(package.loaded["kombo.cosocket"] ~= nil))
    ]])
    assert.equal("false", got.before, out)
    assert.equal("nil", got.res, out)
    assert.equal("network", got.kind, out)
    assert.equal("true", got.after, out)
  end)
  it("a transport that cannot be loaded raises at the call, whose call object is closed first", function()
    local got, out = run(FAKE_NGX .. [[
      local kombo = require "kombo"
      package.preload["kombo.cosocket"] = function() error("broken install", 0) end
      ngx = fake_ngx("timer")
      local client = kombo.new{ api_key = "k", server_url = "http://127.0.0.1:9/v1", retries = false,
        integration_id = "workday:1", transport = "cosocket" }
      -- count the calls closed (the call metatable is every call's)
      local p = require("kombo.client").state(client, "loading_spec")
      local probe = assert(p.core:prepare("get_jobs", {}))
      local mt, closed = getmetatable(probe), 0
      probe:close()
      local close = mt.close
      mt.close = function(c) closed = closed + 1; return close(c) end
      local ok, e = pcall(client.get_jobs, client, {}, { timeout = 2 })
      print("ok=" .. tostring(ok))
      print("e=" .. tostring(e))
      print("closed=" .. closed)
    ]])
    assert.equal("false", got.ok, out)
    assert.equal("broken install", got.e, out)
    assert.equal("1", got.closed, out)
  end)
end)
