-- examples/webhooks/ end to end against the local Kombo stand-in: the
-- example's nginx.conf verbatim but for its listen port, run from a prefix
-- two levels below the repository root (its "$prefix/../../lua" path finds
-- this checkout).  The stand-in sends the deliveries, signed as Kombo signs
-- them (POST /_webhooks/send), and answers the example's calls back to it.
local S = require "nginx.support"
local cjson = require "cjson"

local SECRET = "kombo_whsec_example_Hx7Tq2Lw9Pz4Rk"

describe("examples/webhooks", function()
  local STANDIN, inst, url

  setup(function()
    assert(S.sh(("make -s -C '%s' lib LUA_VERSION=5.1 >/dev/null"):format(S.ROOT)), "make lib LUA_VERSION=5.1 failed")
    STANDIN = S.standin()
    local dir = S.tmpdir("example-webhooks") -- <root>/.tmp/example-webhooks-...: $prefix/../.. is the root
    assert(S.sh(("mkdir -p '%s/logs' && cp '%s/examples/webhooks/kombo_sync.lua' '%s/'"):format(dir, S.ROOT, dir)))
    local port = S.free_port()
    local conf, n = assert(S.read_file(S.ROOT .. "/examples/webhooks/nginx.conf"))
      :gsub("listen 127%.0%.0%.1:8080;", ("listen 127.0.0.1:%d;"):format(port))
    assert.equals(1, n)
    conf = conf:gsub("error_log logs/error.log warn;", "error_log logs/error.log info;")
    S.write_file(dir .. "/nginx.conf", conf)
    url = "http://127.0.0.1:" .. port
    local env = ("env -u LUA_PATH -u LUA_CPATH KOMBO_API_KEY=test-key KOMBO_SERVER_URL='%s' KOMBO_WEBHOOK_SECRET='%s'")
      :format(STANDIN, SECRET)
    local user = S.is_root() and "-g 'user root root;'" or ""
    local log = dir .. "/start.log"
    assert(S.sh(("%s '%s' -p '%s/' -c nginx.conf %s >'%s' 2>&1"):format(env, S.NGINX, dir, user, log)),
      "nginx did not start: " .. tostring(S.read_file(log)))
    inst = { dir = dir, pid = tonumber((S.read_file(dir .. "/logs/nginx.pid") or ""):match("%d+")) }
    for _ = 1, 100 do
      if S.request("GET", url .. "/kombo/status", nil, nil, 1) == 200 then return end
      S.sleep(0.1)
    end
    S.stop_nginx(inst)
    error("example nginx did not answer: " .. tostring(S.read_file(dir .. "/logs/error.log")))
  end)

  teardown(function()
    S.stop_nginx(inst)
    S.stop_standin()
  end)

  local function deliver(t)
    t.url = url .. "/kombo/webhook"
    t.secret = t.secret or SECRET
    local r = S.json("POST", STANDIN .. "/_webhooks/send", t)
    r.answer = cjson.decode(r.body)
    return r
  end

  local function data_changed(integration, models, id)
    local changed = {}
    for i, m in ipairs(models) do changed[i] = { name = m } end
    return { id = id, type = "data-changed", data = { integration_id = integration, integration_tool = "greenhouse",
      integration_category = "ATS", changed_models = changed } }
  end

  local function status(integration)
    local _, body = S.request("GET", url .. "/kombo/status?integration_id=" .. integration)
    return cjson.decode(body)
  end

  -- The stand-in's records of the example's listing calls for `integration`.
  local function listings(integration)
    local out = {}
    for _, r in ipairs(S.json("GET", STANDIN .. "/_requests?integration=" .. integration)) do
      if r.method == "GET" and r.path:find("/ats/applications$") then out[#out + 1] = r end
    end
    return out
  end

  local function query_of(record)
    return type(record.query) == "string" and record.query or "" -- cjson.null when there is none
  end

  local function wait_passes(integration, n)
    for _ = 1, 100 do -- up to 10 s
      if status(integration).passes >= n and not status(integration).running then return status(integration) end
      S.sleep(0.1)
    end
    error(("no pass %d for %s; error.log:\n%s"):format(n, integration, tostring(S.read_file(inst.dir
      .. "/logs/error.log"))))
  end

  it("answers a signed data-changed at once, and refuses a forged one", function()
    local integration = "example-" .. S.unique()
    local r = deliver({ event = data_changed(integration, { "ats_applications" }) })
    assert.equals(200, r.status)
    assert.equals("ok", r.answer.status)
    r = deliver({ event = data_changed(integration, { "ats_applications" }), signature = ("x"):rep(43) })
    assert.equals(401, r.status)
    r = deliver({ event = data_changed(integration, { "ats_applications" }), secret = SECRET .. "-not-ours" })
    assert.equals(401, r.status)
  end)

  it("fetches the applications changed since the last sync, page by page, and remembers where it got to", function()
    local integration = "example-" .. S.unique()
    local first = data_changed(integration, { "ats_candidates", "ats_applications" }, "evt-first-" .. S.unique())
    assert.equals(200, deliver({ event = first }).status)
    local st = wait_passes(integration, 1)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", st.since)
    local calls = listings(integration)
    assert.truthy(#calls >= 1)
    assert.is_nil(query_of(calls[1]):find("updated_after", 1, true)) -- the first sync: everything
    assert.equals("Bearer test-key", calls[1].headers.authorization)

    -- the older event, for the same integration: the next pass asks only for what changed since
    local before = #calls
    assert.equals(200, deliver({ event = { type = "sync-finished", data = { integration_id = integration,
      sync_id = "s1", sync_state = "SUCCEEDED" } } }).status)
    wait_passes(integration, 2)
    calls = listings(integration)
    assert.truthy(#calls > before)
    local query = query_of(calls[before + 1])
    assert.truthy(query:find("updated_after=" .. st.since:gsub(":", "%%3A"), 1, true), query)

    -- Kombo delivering the first event again: acknowledged, nothing fetched
    local r = deliver({ event = first })
    assert.equals("duplicate", r.answer.status)
    S.sleep(0.3)
    assert.equals(2, status(integration).passes)
    assert.equals(#calls, #listings(integration))
  end)

  it("fetches nothing for a data-changed without applications", function()
    local integration = "example-" .. S.unique()
    assert.equals(200, deliver({ event = data_changed(integration, { "ats_jobs" }) }).status)
    S.sleep(0.3)
    assert.equals(0, status(integration).passes)
    assert.equals(0, #listings(integration))
  end)
end)
