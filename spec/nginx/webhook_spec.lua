-- kombo.webhook_handler inside a real nginx (spec/nginx/webhook.conf.in,
-- webhook_app.lua), fed by the stand-in's POST /_webhooks/send, which signs
-- each delivery as Kombo does with nginx's libcrypto (not kombo-lua's C
-- core): the answers (200, 401, 400, 405, 413, 500, 503), the body read from
-- memory and from a spooled file, deliveries seen once, unknown types, and
-- log lines without any secret.
local S = require "nginx.support"
local cjson = require "cjson"

local SECRET = "kombo_whsec_nginx_Q3v8Lm2PzR7tYw1K"
local API_KEY = "kombo_live_key_9fG4hJ2kL7mN0pQ5"
local PROXY = "proxy-user:Pr0xy-Passw0rd!"

describe("kombo.webhook_handler in nginx", function()
  local STANDIN, inst

  setup(function()
    assert(S.sh(("make -s -C '%s' lib LUA_VERSION=5.1 >/dev/null"):format(S.ROOT)), "make lib LUA_VERSION=5.1 failed")
    STANDIN = S.standin()
    local dir = S.tmpdir("nginx-app-webhook")
    local port = S.free_port()
    local conf = assert(S.read_file(S.ROOT .. "/spec/nginx/webhook.conf.in")):gsub("@([A-Z_]+)@", {
      PORT = port, PREFIX = dir, ROOT = S.ROOT, USER_DIRECTIVE = S.is_root() and "user root root;" or "" })
    S.write_file(dir .. "/nginx.conf", conf)
    inst = S.start_nginx(dir, dir .. "/nginx.conf", ("http://127.0.0.1:%d/ping"):format(port), nil,
      ("env KOMBO_WEBHOOK_SECRET='%s' KOMBO_API_KEY='%s'"):format(SECRET, API_KEY))
    inst.url = "http://127.0.0.1:" .. port
  end)

  teardown(function()
    S.stop_nginx(inst)
    S.stop_standin()
  end)

  -- One delivery through the stand-in: its answer {status, body, headers, signature, id}.
  local function deliver(path, t)
    t.url = inst.url .. path
    if t.secret == nil then t.secret = SECRET end
    local r = S.json("POST", STANDIN .. "/_webhooks/send", t)
    r.answer = cjson.decode(r.body)
    return r
  end

  local function event(type_name, data, id)
    return { id = id or ("evt-" .. S.unique()), type = type_name, data = data or {
      integration_id = "greenhouse:abc", integration_tool = "greenhouse", integration_category = "ATS",
      changed_models = { { name = "ats_applications" } } } }
  end

  local function received(id)
    local _, body = S.request("GET", inst.url .. "/events?id=" .. id)
    return cjson.decode(body)
  end

  it("is signed by the stand-in exactly as openssl signs it", function()
    local body = '{"id":"evt-openssl","type":"data-changed","data":{}}'
    local r = deliver("/hook_all", { body = body })
    local path = os.tmpname()
    S.write_file(path, body)
    local p = assert(io.popen(("openssl dgst -sha256 -hmac '%s' -binary '%s' | basenc --base64url | tr -d '=\\n'")
      :format(SECRET, path)))
    local want = p:read("*a")
    p:close()
    os.remove(path)
    assert.equal(want, r.signature)
    assert.equal(200, r.status)
  end)

  it("answers 200 once on_event returned, and a second delivery of the id without calling it", function()
    local e = event("data-changed")
    local r = deliver("/hook", { event = e })
    assert.equal(200, r.status)
    assert.equal("ok", r.answer.status)
    local got = received(e.id)
    assert.equal("data-changed", got.type)
    assert.is_true(got.known)
    assert.equal("greenhouse:abc", got.integration_id)
    assert.equal(1, got.calls)
    r = deliver("/hook", { event = e })
    assert.equal(200, r.status)
    assert.equal("duplicate", r.answer.status)
    assert.equal(1, received(e.id).calls)
  end)

  it("hands on the deprecated sync-finished too (a type Kombo describes)", function()
    local e = event("sync-finished", { sync_id = "s1", sync_duration_seconds = 3, integration_id = "x:y" })
    assert.equal(200, deliver("/hook", { event = e }).status)
    assert.is_true(received(e.id).known)
  end)

  it("reads the body from memory and from the file nginx spooled it to", function()
    for _, case in ipairs({ { "/hook_memory", false }, { "/hook", true } }) do
      local e = event("data-changed", { integration_id = "x:y", pad = ("p"):rep(300 * 1024) })
      local r = deliver(case[1], { event = e })
      assert.equal(200, r.status, case[1])
      local got = received(e.id)
      assert.equal(300 * 1024, got.pad, case[1])
      assert.equal(case[2], got.spooled, case[1])
    end
  end)

  it("answers 401 to a signature that does not hold, without calling on_event", function()
    for _, t in ipairs({
      { signature = ("A"):rep(43) }, { signature = false }, { secret = SECRET .. "-other" },
      { signature = "not-base64url=" },
    }) do
      local e = event("data-changed")
      t.event = e
      local r = deliver("/hook", t)
      assert.equal(401, r.status)
      assert.equal("refused", r.answer.status)
      assert.is_nil(r.answer.message:find(SECRET, 1, true))
      assert.is_nil(received(e.id).calls)
    end
  end)

  it("answers 400 to a signed body that is not a Kombo event", function()
    for _, body in ipairs({ "{not json", "\239\187\191{}", '{"id":"x","type":"data-changed"}', "" }) do
      local r = deliver("/hook", { body = body })
      assert.equal(400, r.status, body)
      assert.equal("refused", r.answer.status)
    end
  end)

  it("answers 405 with Allow: POST to another method", function()
    for _, method in ipairs({ "GET", "PUT", "DELETE" }) do
      local r = deliver("/hook", { event = event("data-changed"), method = method })
      assert.equal(405, r.status, method)
      assert.equal("POST", r.headers.allow)
    end
  end)

  it("answers 413 to a body over max_body_bytes, unread", function()
    local e = event("data-changed", { pad = ("p"):rep(2000) })
    local r = deliver("/hook_small", { event = e })
    assert.equal(413, r.status)
    assert.is_nil(received(e.id).calls)
  end)

  it("acknowledges a type Kombo does not describe without on_event, unless all_events", function()
    local e = event("candidate-teleported", { x = 1 })
    local r = deliver("/hook", { event = e })
    assert.equal(200, r.status)
    assert.equal("ignored", r.answer.status)
    assert.is_nil(received(e.id).calls)
    r = deliver("/hook_all", { event = e })
    assert.equal(200, r.status)
    assert.equal("ok", r.answer.status)
    assert.is_false(received(e.id).known)
  end)

  it("answers 500 when on_event raises, records nothing, and takes the next delivery", function()
    local e = event("data-changed", { fail_times = 1, fail_message = ("leaked %s and %s and %s"):format(SECRET,
      API_KEY, PROXY) })
    local r = deliver("/hook", { event = e })
    assert.equal(500, r.status)
    assert.equal("failed", r.answer.status)
    r = deliver("/hook", { event = e })
    assert.equal(200, r.status)
    assert.equal("ok", r.answer.status)
    assert.equal(2, received(e.id).calls)
    assert.equal("duplicate", deliver("/hook", { event = e }).answer.status)
    local log = S.error_log(inst)
    local line = assert(log:match("[^\n]*on_event failed for event " .. e.id:gsub("%p", "%%%0") .. "[^\n]*"))
    assert.truthy(line:find("leaked <redacted> and <redacted> and <redacted>", 1, true))
  end)

  it("holds back a second delivery of an id being handled (503, Retry-After)", function()
    local e = event("data-changed", { sleep = 1.5 })
    local req = S.ROOT .. "/.tmp/webhook-bg-" .. S.unique()
    S.write_file(req .. ".json", cjson.encode({ url = inst.url .. "/hook", secret = SECRET, event = e }))
    assert(S.sh(("curl -sS -m 20 -X POST --data-binary @'%s.json' '%s/_webhooks/send' >'%s.out' 2>&1 &")
      :format(req, STANDIN, req)))
    for _ = 1, 50 do -- up to 5 s for on_event to start
      if received(e.id).calls then break end
      S.sleep(0.1)
    end
    assert.equal(1, received(e.id).calls)
    local r = deliver("/hook", { event = e })
    assert.equal(503, r.status)
    assert.equal("busy", r.answer.status)
    assert.truthy(tonumber(r.headers["retry-after"]))
    local first
    for _ = 1, 100 do -- up to 10 s for the first delivery's answer
      first = S.read_file(req .. ".out")
      if first and first:find("}%s*$") then break end
      S.sleep(0.1)
    end
    os.remove(req .. ".json")
    os.remove(req .. ".out")
    assert.equal(200, cjson.decode(first).status)
    assert.equal("duplicate", deliver("/hook", { event = e }).answer.status)
    assert.equal(1, received(e.id).calls)
  end)

  it("keeps every secret out of its log lines and of tostring", function()
    local _, shown = S.request("GET", inst.url .. "/tostring")
    assert.matches("^kombo%.webhook_handler %(secret=<redacted>, dict=kombo_webhooks, window=60 s", shown)
    local log = S.error_log(inst)
    for _, secret in ipairs({ SECRET, API_KEY, PROXY }) do
      assert.is_nil(log:find(secret, 1, true), secret)
    end
    assert.truthy(log:find("kombo webhook: refused a delivery (401): the X-Kombo-Signature header does not match",
      1, true))
  end)
end)
