-- What `require "kombo"` loads.  Every script, cron job and command-line
-- run outside nginx pays for parsing each module it loads, so the modules
-- only some programs use are loaded when first used: the OpenResty
-- transport (kombo.cosocket) only inside nginx or by a call that takes it,
-- kombo.lists by the first pages/each, kombo.webhook by the first
-- verify_webhook/webhook_handler, the operations' generated data
-- (kombo.gen.operations) not at all; and the observer's loop (kombo.trace)
-- by the first client or call with debug or hooks, kombo.landed by the first
-- attachment_exists, kombo.request_body by the first request_body_source,
-- kombo.remote_fields by the first arguments with remote_fields aliases,
-- kombo.preflight's checks by the first preflighted call.  Each case runs in
-- a fresh child process, so that package.loaded starts empty.
local sys = require "support.sys"
local badserver = require "support.badserver"

-- The child's output as { name = value } from its "name=value" lines.
local function run(script, args)
  local rc, out = sys.run_lua(script, args, 30)
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
                             "kombo.nginx", "kombo.trace", "kombo.landed", "kombo.request_body",
                             "kombo.remote_fields", "kombo.preflight" } do
          print(m .. "=" .. tostring(package.loaded[m] ~= nil))
        end
      ]]
      assert.same({ ["kombo.cosocket"] = "false", ["kombo.lists"] = "false", ["kombo.webhook"] = "false",
        ["kombo.gen.operations"] = "false", ["kombo.nginx"] = "true", ["kombo.trace"] = "false",
        ["kombo.landed"] = "false", ["kombo.request_body"] = "false", ["kombo.remote_fields"] = "false",
        ["kombo.preflight"] = "false" }, got)
    end)

  it("has every member on the module table before any is used (pairs sees them)", function()
    local got = run [[
      local kombo = require "kombo"
      local seen = {}
      for k, v in pairs(kombo) do seen[k] = type(v) end
      for _, k in ipairs { "pages", "each", "verify_webhook", "webhook_handler", "WEBHOOK_EVENTS",
                           "request_body_source", "attachment_exists" } do
        print(k .. "=" .. tostring(seen[k]))
      end
      local client = kombo.new{ api_key = "k", server_url = "http://127.0.0.1:9/v1" }
      print("client_pages=" .. type(client.pages))
      print("events=" .. tostring(kombo.WEBHOOK_EVENTS == require("kombo.webhook").WEBHOOK_EVENTS))
      print("sync_finished_deprecated=" .. tostring(kombo.WEBHOOK_EVENTS["sync-finished"].deprecated))
    ]]
    assert.same({ pages = "function", each = "function", verify_webhook = "function",
      webhook_handler = "function", WEBHOOK_EVENTS = "table", request_body_source = "function",
      attachment_exists = "function", client_pages = "function", events = "true",
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
      package.preload["ngx.semaphore"] = function() return { new = function() return {} end } end
      require "kombo"
      print("semaphore=" .. tostring(package.loaded["ngx.semaphore"] ~= nil))
      print("cosocket=" .. tostring(package.loaded["kombo.cosocket"] ~= nil))
      print("lists=" .. tostring(package.loaded["kombo.lists"] ~= nil))
      print("webhook=" .. tostring(package.loaded["kombo.webhook"] ~= nil))
      for _, m in ipairs { "trace", "landed", "request_body", "remote_fields", "preflight" } do
        print(m .. "=" .. tostring(package.loaded["kombo." .. m] ~= nil))
      end
      local nginx = require "kombo.nginx"
      print("in_nginx=" .. tostring(nginx.in_nginx()))
      print("select=" .. tostring(select(2, nginx.select("auto")):match("'init' phase")))
      ngx = fake_ngx("timer")
      print("timer=" .. tostring(nginx.select("auto")))
      print("same=" .. tostring(require("kombo.cosocket").select == nginx.select))
    ]])
    assert.same({ semaphore = "true", cosocket = "true", lists = "true", webhook = "true", trace = "true", landed = "true",
      request_body = "true", remote_fields = "true", preflight = "true", in_nginx = "true", select = "'init' phase",
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

  describe("against a server that answers every request with success (data: id, results)", function()
    local srv
    setup(function() srv = badserver.start(120) end)
    teardown(function() badserver.stop(srv) end)

    -- A child's prelude: `kombo`, `URL` (the server), `loaded(m)`, and a
    -- valid upload's arguments `upload()`.
    local PRELUDE = [[
      local kombo = require "kombo"
      local URL = ...
      local function loaded(m) return tostring(package.loaded["kombo." .. m] ~= nil) end
      local function upload(extra)
        local args = { candidate_id = "c1", integration_id = "workday:1",
          body = { attachment = { name = "cv.pdf", type = "CV", bytes = "%PDF-1.4 cv", content_type = "application/pdf" } } }
        for k, v in pairs(extra or {}) do args.body[k] = v end
        return args
      end
    ]]
    local function child(script) return run(PRELUDE .. script, { badserver.url(srv, "capture") }) end

    it("loads kombo.trace for a client with debug or hooks, or a call or a batch job with hooks, not before",
      function()
        local got, out = child [[
          local plain = kombo.new{ api_key = "k", server_url = URL, retries = false, integration_id = "workday:1" }
          local res = plain:get_jobs({})
          local summary = plain:run_many("get_jobs", { {}, {} })
          print("plain=" .. tostring(res ~= nil) .. " " .. summary.succeeded .. " " .. loaded("trace"))
          -- a batch's job with hooks: the batch takes the observer's loop as it meets the job
          local seen = 0
          summary = plain:run_many("get_jobs", { {}, { options = { hooks = {
            before_request = function() seen = seen + 1 end } } } })
          print("job_hooks=" .. summary.succeeded .. " " .. seen .. " " .. loaded("trace"))
        ]]
        assert.equal("true 2 false", got.plain, out)
        assert.equal("2 1 true", got.job_hooks, out)
        got, out = child [[
          local plain = kombo.new{ api_key = "k", server_url = URL, retries = false, integration_id = "workday:1" }
          local events = {}
          local res = plain:get_jobs({}, { hooks = { after_response = function(i) events[#events + 1] = i.event end } })
          print("call_hooks=" .. tostring(res ~= nil) .. " " .. table.concat(events, ",") .. " " .. loaded("trace"))
        ]]
        assert.equal("true after_response true", got.call_hooks, out)
        got, out = child [[
          local lines = {}
          local client = kombo.new{ api_key = "k", server_url = URL, retries = false, integration_id = "workday:1",
            debug = function(line) lines[#lines + 1] = line end }
          print("made=" .. loaded("trace"))
          local summary = client:attach_many({ upload(), upload() })
          print("debug=" .. summary.succeeded .. " " .. tostring(#lines >= 4))
        ]]
        assert.equal("true", got.made, out)
        assert.equal("2 true", got.debug, out)
      end)

    it("loads kombo.preflight at the first preflighted call or batch, which still checks", function()
      for _, first in ipairs { "call", "batch" } do
        local got, out = child(([[
          local client = kombo.new{ api_key = "k", server_url = URL, retries = false, integration_id = "workday:1",
            preflight = true }
          client:get_jobs({})
          print("before=" .. loaded("preflight"))
          -- (the server's answer has no attachment_restrictions: the preflight refuses the upload)
          local err
          if FIRST == "call" then
            err = select(2, client:attach_to_candidate(upload()))
          else
            err = client:attach_many({ upload(), upload() }).results[2]
          end
          print("first=" .. tostring(err.message:match("^preflight: could not fetch[^:]*")))
          print("after=" .. loaded("preflight"))
          print("applies=" .. tostring(require("kombo.preflight").applies({ name = "create_candidate" })))
        ]]):gsub("FIRST", ("%q"):format(first)))
        assert.same({ before = "false", after = "true", applies = "true",
          first = "preflight: could not fetch the integration's attachment restrictions, so nothing was sent" },
          got, out)
      end
      -- alone, kombo.preflight loads what it reads (kombo.call's table)
      local got, out = run [[
        local preflight = require "kombo.preflight"
        print("applies=" .. tostring(preflight.applies({ name = "attach_to_application" }))
          .. " " .. tostring(preflight.applies({ name = "get_jobs" })))
      ]]
      assert.equal("true false", got.applies, out)
    end)

    it("loads kombo.remote_fields for the first arguments that carry remote_fields, which are still normalized",
      function()
        local got, out = child [[
          local client = kombo.new{ api_key = "k", server_url = URL, retries = false, integration_id = "workday:1" }
          print("plain=" .. tostring(client:attach_to_candidate(upload()) ~= nil) .. " " .. loaded("remote_fields"))
          local res, err = client:attach_to_candidate(upload{ remote_fields = { greenhouse = { on_behalf_of = "1",
            post_headers = { ["On-Behalf-Of"] = "2" } } } })
          print("aliased=" .. tostring(res) .. " " .. tostring(err.problems[1].path) .. " " .. loaded("remote_fields"))
        ]]
        assert.equal("true false", got.plain, out)
        assert.equal("nil body.remote_fields.greenhouse.post_headers.On-Behalf-Of true", got.aliased, out)
        got, out = child [[
          local client = kombo.new{ api_key = "k", server_url = URL, integration_id = "workday:1" }
          local ok, err = client:validate_upload(upload{ remote_fields = { greenhouse = { on_behalf_of = "1",
            post_headers = { ["On-Behalf-Of"] = "2" } } } })
          print("validate=" .. tostring(ok) .. " " .. tostring(err.problems[1].path) .. " " .. loaded("remote_fields"))
        ]]
        assert.equal("nil body.remote_fields.greenhouse.post_headers.On-Behalf-Of true", got.validate, out)
      end)

    it("loads kombo.landed at attachment_exists's first listing, whose verdict it gives", function()
      local got, out = child [[
        local client = kombo.new{ api_key = "k", server_url = URL, retries = false, integration_id = "workday:1" }
        local line
        local ok, e = pcall(function()
          line = debug.getinfo(1, "l").currentline; client:attachment_exists(upload(), { bogus = 1 })
        end)
        print("misuse=" .. tostring(not ok) .. " " .. tostring(tostring(e):match("^[^:]*:(%d+):") == tostring(line))
          .. " " .. loaded("landed"))
        local found, why = client:attachment_exists(upload())
        print("exists=" .. tostring(found) .. " " .. type(why) .. " " .. loaded("landed"))
      ]]
      assert.equal("true true false", got.misuse, out)
      assert.equal("false string true", got.exists, out)
    end)
  end)

  it("loads kombo.request_body at the first request_body_source, whose misuse names the caller's line", function()
    local got, out = run(FAKE_NGX .. [[
      local kombo = require "kombo"
      print("before=" .. tostring(package.loaded["kombo.request_body"] ~= nil))
      local source, why = kombo.request_body_source()
      print("outside=" .. tostring(source) .. " " .. tostring(why))
      print("after=" .. tostring(package.loaded["kombo.request_body"] ~= nil))
      ngx = fake_ngx("content")
      local body = "hello world"
      ngx.var = { http_content_length = tostring(#body) }
      ngx.req = { socket = function()
        return { settimeout = function() end,
          receiveany = function(_, n) local chunk = body:sub(1, n); body = body:sub(n + 1); return chunk end }
      end }
      local line
      local _, err = pcall(function()
        line = debug.getinfo(1, "l").currentline; kombo.request_body_source(42)
      end)
      print("where=" .. tostring(tostring(err):match("^[^:]*:(%d+):") == tostring(line)))
      print("message=" .. tostring(err):match("bad argument[^\n]*"))
      _, err = pcall(function()
        line = debug.getinfo(1, "l").currentline; kombo.request_body_source{ chunk_size = 0 }
      end)
      print("where2=" .. tostring(tostring(err):match("^[^:]*:(%d+):") == tostring(line)))
      print("message2=" .. tostring(err):match("bad argument[^\n]*"))
      local size
      source, size = kombo.request_body_source{ chunk_size = 4 }
      local parts = {}
      for part in source do parts[#parts + 1] = part end
      print("read=" .. size .. " " .. table.concat(parts, "|"))
      print("count=" .. select("#", kombo.request_body_source()))
    ]])
    assert.equal("false", got.before, out)
    assert.equal("nil kombo.request_body_source needs nginx's Lua module (OpenResty)", got.outside, out)
    assert.equal("true", got.after, out)
    assert.equal("true", got.where, out)
    assert.equal("bad argument #1 to 'request_body_source' (table expected, got number)", got.message, out)
    assert.equal("true", got.where2, out)
    assert.equal("bad argument #1 to 'request_body_source' (chunk_size must be a whole number >= 1)", got.message2,
      out)
    assert.equal("11 hell|o wo|rld", got.read, out)
    assert.equal("2", got.count, out)
  end)
end)
