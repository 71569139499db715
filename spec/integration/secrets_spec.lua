-- Secrets, curl transport: with a realistic 40+ character API key,
-- every error path the suite can produce is run with the `debug` hook on;
-- the key must appear in no err.message, tostring(err), tostring(client),
-- no field of err (headers, body, code, title, log_url, problems, ...) and
-- no debug line, while the debug lines do show the request with
-- "Authorization: Bearer <redacted>".  Servers that echo the key back
-- (spec/support/badserver.lua echo-auth modes) are included.
-- The shared stand-in accepts only "test-key", so a private stand-in that
-- accepts KEY (STANDIN_API_KEY) serves the paths past authentication; the
-- shared one gives the real 401 for a wrong key.
local servers = require "support.servers"
local badserver = require "support.badserver"
local kombo = require "kombo"
local cjson = require "cjson"

local KEY = "kombo_sk_live_Zq8vN3rT6yW1pL4xC7bM0kH5jG2fD9sA" -- 46 characters, not the stand-in's key
assert(#KEY >= 40)

local srv, own_dir, own_url

local sh = require("support.sys").sh

-- A second key, with bytes that percent-encoding changes.
local KEY2 = "kombo+sk/abc=def_0123456789xyzXYZ"

local function percent_encode(key)
  return (key:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- What counts as a leak is what the SDK promises to redact: any run of 8
-- bytes of the key or of the key percent-encoded, in any ASCII case.
local function leaks(text, key)
  key = key or KEY
  text = tostring(text):lower()
  if text:find(key:lower(), 1, true) then return "the whole key" end
  for _, form in ipairs { key:lower(), percent_encode(key):lower() } do
    for i = 1, #form - 7 do
      if text:find(form:sub(i, i + 7), 1, true) then return "part of the key (" .. form:sub(i, i + 7) .. ")" end
    end
  end
  return nil
end

local function assert_clean(label, text)
  local what = leaks(text)
  assert.is_nil(what, ("%s leaked into %s: %s"):format(tostring(what), label, tostring(text)))
end

-- Every place the key shows up, as a list of "what leaked into where".
local function find_leaks(err, client, lines, key)
  local found = {}
  local function check(label, text)
    local what = text ~= nil and leaks(text, key)
    if what then found[#found + 1] = ("%s in %s: %s"):format(what, label, tostring(text)) end
  end
  check("err.message", err.message)
  check("tostring(err)", tostring(err))
  check("tostring(client)", tostring(client))
  for k, v in pairs(err.headers or {}) do check("err.headers." .. k, v) end
  for _, field in ipairs { "body", "code", "title", "log_url", "kind", "outcome" } do
    check("err." .. field, err[field])
  end
  for i, pr in ipairs(err.problems or {}) do check("err.problems[" .. i .. "]", pr.path .. " " .. pr.message) end
  check("err (any other field)", servers.dump(err))
  for i, line in ipairs(lines) do check("debug line " .. i, line) end
  return found
end

-- Runs one error path; returns err, the debug lines, the client.
local function run(over, candidate_id, attachment)
  local lines = {}
  local opts = servers.merge({ api_key = KEY, server_url = own_url, debug = function(line) lines[#lines + 1] = line end,
                               retries = false }, over)
  local client, integ = servers.client(opts)
  local res, err = client:attach_to_candidate {
    candidate_id = candidate_id or "cand-secret", body = { attachment = attachment or servers.attachment() },
  }
  assert.is_nil(res, "expected an error")
  assert.is_true(kombo.is_error(err), tostring(err))
  return err, lines, client, integ
end

local PATHS = {
  { "validation (a bad attachment)", "validation", function()
      return run({}, nil, servers.attachment { type = "RESUME", data = "%%%" })
    end, false },
  { "network: connection refused", "network", function()
      return run({ server_url = "http://127.0.0.1:" .. servers.free_port(),
                   retries = servers.fast_retries { max_attempts = 2 } })
    end, true },
  { "timeout", "timeout", function()
      return run({ timeout = servers.UNDER_VALGRIND and 2 or 0.3 }, "scenario-slow-" .. (servers.UNDER_VALGRIND and 4 or 1))
    end, true },
  { "api 401 from the stand-in (wrong key)", "api", function()
      local err, lines, client, integ = run({ server_url = servers.standin_url() })
      local recs = servers.requests(integ)
      assert.equals(1, #recs)
      assert.equals("Bearer " .. KEY, recs[1].headers.authorization) -- it was sent
      assert.equals(401, err.status)
      return err, lines, client
    end, true },
  { "http 502 (HTML)", "http", function() return run({}, "scenario-502") end, true },
  { "decode (not JSON)", "decode", function() return run({}, "scenario-not-json") end, true },
  { "redirect", "http", function() return run({}, "scenario-redirect") end, true },
  { "too large", "http", function() return run({ max_response_bytes = 1024 }, "scenario-huge") end, true },
  { "aborted source", "aborted", function()
      return run({}, nil, { name = "x.bin", type = "CV", size = 4,
                           source = function() error("source failed: " .. "no such object", 0) end })
    end, true },
  { "network: reset before the status line", "network", function()
      return run({ server_url = badserver.url(srv, "reset-before-status") })
    end, true },
  { "a server echoing the key in a 502 body and a header", "http", function()
      return run({ server_url = badserver.url(srv, "echo-auth") })
    end, true },
  { "a server echoing the key in Kombo's error JSON (message, log_url) and a header", "api", function()
      return run({ server_url = badserver.url(srv, "echo-auth-json") })
    end, true },
  { "a server echoing the key altered (case, runs, percent-encoded, split) in a 502", "http", function()
      return run({ server_url = badserver.url(srv, "echo-variants") })
    end, true },
}

describe("secrets: the API key never shows up #integration #secrets", function()
  setup(function()
    srv = badserver.start(servers.UNDER_VALGRIND and 900 or 120)
    own_dir = ("%s/.tmp/standin-%s"):format(assert(io.popen("pwd")):read("*l"),
      (require("support.servers").unique("secrets"):gsub("[^%w-]", "-")))
    local p = assert(io.popen(("STANDIN_API_KEY='%s' scripts/standin start '%s' 2>/dev/null"):format(KEY, own_dir)))
    own_url = p:read("*l")
    p:close()
    assert(own_url and own_url:find("^http://"), "could not start a private stand-in in " .. own_dir)
  end)

  teardown(function()
    badserver.stop(srv)
    if own_dir then
      sh(("scripts/standin stop '%s' >/dev/null 2>&1"):format(own_dir))
      sh(("rm -rf '%s'"):format(own_dir))
    end
  end)

  for _, p in ipairs(PATHS) do
    local name, kind, fn, traced = p[1], p[2], p[3], p[4]
    it(name .. ": not in err, tostring(err), tostring(client) or the debug lines", function()
      local err, lines, client = fn()
      assert.equals(kind, err.kind, tostring(err))
      local found = find_leaks(err, client, lines)
      assert.equals("", table.concat(found, "\n"))
      if traced then
        local joined = table.concat(lines, "\n")
        assert.truthy(joined:find("Authorization: Bearer <redacted>", 1, true), joined)
        assert.truthy(joined:find("kombo: > POST ", 1, true), joined)
        assert.truthy(joined:find("kombo: < ", 1, true), joined)
      else
        assert.equals(0, #lines, table.concat(lines, "\n")) -- nothing was attempted
      end
      client:close()
      assert_clean("tostring(closed client)", tostring(client))
    end)
  end

  it("the echoed key is replaced by <redacted> (so the redaction is real, not absence)", function()
    local err = run({ server_url = badserver.url(srv, "echo-auth") })
    assert.truthy(err.body:find("Bearer <redacted>", 1, true), err.body)
    assert.equals("Bearer <redacted>", err.headers["x-echo"])
  end)

  -- Messages are capped (512 bytes in the core): an echo of a long key is
  -- cut in the middle of it, and the cut-off copy must go too.
  it("a key echoed past the message cap is redacted even where the cap cuts it", function()
    local long = "kombo_sk_live_"
    for i = 1, 60 do long = long .. ("%x"):format((i * 7919) % 4096) .. "Qz" end -- about 300 bytes
    for _, key in ipairs { long, long .. long } do -- the cut falls inside the key, at two places
      local lines = {}
      local client = servers.with_env({}, function()
        return kombo.new { api_key = key, integration_id = "integ-secrets", retries = false,
          server_url = badserver.url(srv, "echo-auth-json"), debug = function(l) lines[#lines + 1] = l end }
      end)
      local _, err = client:attach_to_candidate { candidate_id = "cand-x", body = { attachment = servers.attachment() } }
      assert.equals("api", err.kind)
      local texts = { err.message, tostring(err), err.body, err.headers["x-echo"], table.concat(lines, "\n") }
      for _, text in ipairs(texts) do
        for i = 1, #key - 15 do
          local window = key:sub(i, i + 15)
          assert.is_nil(text:find(window, 1, true), ("key bytes %d-%d leaked: %s"):format(i, i + 15, text))
        end
      end
      assert.truthy(err.message:find("<redacted>", 1, true), err.message)
      client:close()
    end
  end)

  -- A key with bytes JSON escapes ('"', '\', '/'), echoed JSON-escaped
  -- (lua-cjson's way, \u in upper case, and inside a message that itself
  -- quotes JSON) and percent-encoded: no 6 consecutive key bytes anywhere.
  it("a key holding '\"', '\\' and '/' echoed JSON-escaped: redacted in err.message, tostring(err), body, headers", function()
    local key = 'kombo_sk"live\\Zq8/vN3rT6"yW1pL4x\\Q'
    local function key_run(text)
      text = tostring(text):lower()
      local k = key:lower()
      for i = 1, #k - 5 do
        if text:find(k:sub(i, i + 5), 1, true) then return k:sub(i, i + 5) end
      end
    end
    local err, lines, client = run({ server_url = badserver.url(srv, "echo-auth-escaped"), api_key = key })
    assert.equals("api", err.kind, tostring(err))
    assert.equals(401, err.status)
    for label, text in pairs { message = err.message, tostring = tostring(err), body = err.body,
                               log_url = err.log_url, x_echo = err.headers["x-echo"], dump = servers.dump(err),
                               debug = table.concat(lines, "\n"), client = tostring(client) } do
      assert.is_nil(key_run(text), ("key bytes (%s) in %s: %s"):format(tostring((key_run(text))), label, text))
    end
    assert.equals('The key <redacted> is invalid (<redacted>); you sent {"authorization":"Bearer <redacted>"}',
      err.message)
    assert.equals("<redacted>", err.headers["x-echo"])
    assert.equals("https://app.kombo.dev/logs?key=<redacted>", err.log_url)
    assert.truthy(pcall(cjson.decode, err.body), err.body) -- the body stays valid JSON
    client:close()
  end)

  -- Proxies re-case and re-encode what they quote; a cap cuts it anywhere.
  for _, key in ipairs { KEY, KEY2 } do
    local enc = percent_encode(key)
    local function expect_redacted(h)
      for _, name in ipairs { "x-lower", "x-upper", "x-suffix", "x-middle", "x-enc", "x-enc-lower" } do
        assert.equals("token=<redacted>;", h[name], name)
      end
      assert.equals("<redacted>, <redacted>", h["x-part"]) -- the key split across two header values
      assert.equals(key:sub(1, 7), h["x-near"]) -- 7 bytes: not redacted
    end

    it(("a 502 echoing %s altered: every form redacted in err and the debug lines"):format(key), function()
      local err, lines, client = run({ server_url = badserver.url(srv, "echo-variants"), api_key = key })
      assert.equals("http", err.kind, tostring(err))
      assert.equals(502, err.status)
      assert.equals("", table.concat(find_leaks(err, client, lines, key), "\n"))
      assert.equals("lower <redacted> upper <redacted> suffix #<redacted># middle #<redacted># encoded "
        .. "<redacted> <redacted>", err.body)
      expect_redacted(err.headers)
      if key == KEY2 then assert.are_not.equal(key, enc) end -- the encoded form was a different text
      client:close()
    end)

    it(("a success echoing %s: res.http.headers and every string of the result redacted"):format(key), function()
      local lines = {}
      local client = servers.client { api_key = key, server_url = badserver.url(srv, "echo-variants-ok"),
        retries = false, debug = function(l) lines[#lines + 1] = l end }
      local res, err = client:attach_to_candidate { candidate_id = "cand-x", body = { attachment = servers.attachment() } }
      assert.is_nil(err, err and tostring(err))
      assert.equals("success", res.status)
      expect_redacted(res.http.headers)
      local d = res.data
      assert.equals("att_<redacted>", d.id)
      assert.equals("<redacted>", d.remote_id)
      assert.equals("#<redacted>#", d.candidate_id)
      assert.equals("<redacted>.pdf", d.name)
      assert.equals("as a key", d["<redacted>"])
      assert.equals("A <redacted>", d.escaped)
      assert.equals("seen <redacted>", res.warnings[1].message)
      assert.equals(9, d.size_bytes)
      for _, text in ipairs { servers.dump(res), servers.dump(res.http), servers.dump(res.http.headers),
                              table.concat(lines, "\n") } do
        assert.is_nil(leaks(text, key), text)
      end
      client:close()
    end)
  end

  it("an answer's key the decoder keeps from one client's answers is redacted for a client whose key it is",
    function()
      -- Short keys are made once and kept for the next answers (lua_json.c), with the redactor that found
      -- them clean; a client with another key checks them again.
      local url, upload = badserver.url(srv, "raw-plain"), function(client)
        local res, err = client:attach_to_candidate { candidate_id = "cand-x", body = { attachment = servers.attachment() } }
        assert.is_nil(err, err and tostring(err))
        return res
      end
      local a = servers.client { api_key = KEY, server_url = url, retries = false }
      -- (content_type: no other string of that answer shares its place among the kept ones)
      for _ = 1, 2 do assert.equals("application/pdf", upload(a).data.content_type) end -- the second kept
      a:close()
      local b = servers.client { api_key = "content_type", server_url = url, retries = false }
      for _ = 1, 2 do
        local d = upload(b).data
        assert.is_nil(d.content_type)
        assert.equals("application/pdf", d["<redacted>"])
      end
      b:close()
      local c = servers.client { api_key = KEY, server_url = url, retries = false }
      assert.equals("application/pdf", upload(c).data.content_type)
      c:close()
    end)

  it("a debug hook that raises does not break the upload or leak the key", function()
    local client = servers.client { api_key = KEY, retries = false, debug = function() error("hook " .. KEY) end }
    local res, err = client:attach_to_candidate { candidate_id = "cand-x", body = { attachment = servers.attachment() } }
    assert.is_nil(res)
    assert.equals("api", err.kind)
    assert_clean("tostring(err)", tostring(err))
  end)

  it("the debug hook shows a successful request with the key redacted", function()
    local lines = {}
    local client = servers.client { debug = function(l) lines[#lines + 1] = l end, retries = false }
    local res, err = client:attach_to_candidate { candidate_id = "cand-x", body = { attachment = servers.attachment() } }
    assert.is_nil(err, err and tostring(err))
    assert.equals("success", res.status)
    local joined = table.concat(lines, "\n")
    assert.truthy(joined:find("Authorization: Bearer <redacted>", 1, true), joined)
    assert.is_nil(joined:find("Bearer " .. servers.API_KEY, 1, true), joined)
    assert.truthy(joined:find("success", 1, true), joined)
  end)
end)
