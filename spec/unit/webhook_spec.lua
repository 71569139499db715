-- kombo.verify_webhook against signatures made by the openssl command line
-- (`openssl dgst -sha256 -hmac KEY -binary | basenc --base64url`), never by
-- the code under test: bodies empty, binary, UTF-8, 10 MB, with trailing
-- white space or a byte order mark; every one-byte change fails.  Then the
-- signature's forms Kombo does not send, the secret's rules, the event, and
-- the redactor with several secrets at once.
local kombo = require "kombo"
local core = require "kombo.core"
local errors = require "kombo.errors"

local SECRET = "kombo_whsec_5pV2Lr9QeXw7ZtY3mN8cB1dF"

local function tmpfile(bytes)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

-- The signature as Kombo makes it, by openssl and coreutils.
local function openssl(body, secret, encoding)
  local path = tmpfile(body)
  local out = run(("openssl dgst -sha256 -hmac '%s' -binary '%s' | %s"):format(secret or SECRET, path,
    encoding or "basenc --base64url | tr -d '=\\n'"))
  os.remove(path)
  return out
end

local function event_json(id, type_name, data_json)
  return ('{"id":"%s","type":"%s","data":%s}'):format(id, type_name, data_json or "{}")
end

local UTF8 = event_json("evt-utf8", "data-changed",
  '{"integration_id":"personio:Zürich-東京-😀","integration_tool":"personio","integration_category":"HRIS",' ..
  '"changed_models":[{"name":"ats_applications"}]}')

-- Every message of a refused delivery: never the secret, the expected signature or the body.
local function assert_clean(err, expected_sig, body)
  assert.is_true(kombo.is_error(err))
  assert.equal("webhook", err.kind)
  for _, text in ipairs({ err.message, tostring(err), err.code }) do
    assert.is_nil(text:find(SECRET, 1, true))
    if expected_sig then assert.is_nil(text:find(expected_sig, 1, true)) end
    if body and #body >= 8 then assert.is_nil(text:find(body, 1, true)) end
  end
end

describe("kombo.verify_webhook: signatures from openssl", function()
  it("agrees with openssl on the documented sample's form (43 base64url characters)", function()
    local sig = openssl(UTF8)
    assert.equal(43, #sig)
    assert.truthy(sig:find("^[%w_%-]+$"))
  end)

  local bodies = {
    { "an empty body", "", "body_json" },
    { "a binary body (all 256 byte values, NULs)", (function()
      local t = {}
      for i = 0, 255 do t[#t + 1] = string.char(i) end
      return table.concat(t):rep(4)
    end)(), "body_json" },
    { "UTF-8 with multi-byte characters", UTF8 },
    { "trailing white space", UTF8 .. " \n\t\r\n" },
    { "a byte order mark", "\239\187\191" .. UTF8, "body_json" },
    { "10 MB", event_json("evt-big", "data-changed",
      '{"integration_id":"x","integration_tool":"y","integration_category":"ATS","changed_models":[],"pad":"'
      .. ("0123456789abcdef"):rep(10 * 1024 * 1024 / 16) .. '"}') },
  }

  for _, case in ipairs(bodies) do
    local what, body, refused = case[1], case[2], case[3]

    it("holds for " .. what .. ", and the body's JSON is judged only then", function()
      local sig = openssl(body)
      local event, err = kombo.verify_webhook(body, sig, SECRET)
      -- a verified event is one value, a refusal two (nil, err)
      assert.equal(refused and 2 or 1, select("#", kombo.verify_webhook(body, sig, SECRET)))
      if refused then
        assert.is_nil(event)
        assert.equal(refused, err.code)
        assert_clean(err, sig, body)
      else
        assert.is_nil(err)
        assert.equal("data-changed", event.type)
        assert.is_true(event.known)
      end
    end)

    it("fails for " .. what .. " with any one byte changed, added or removed", function()
      local sig = openssl(body)
      local variants = { body .. " ", body .. "\n", "\239\187\191" .. body }
      if #body > 0 then
        local function flip(i) return body:sub(1, i - 1) .. string.char((body:byte(i) + 1) % 256) .. body:sub(i + 1) end
        variants[#variants + 1] = flip(1)
        variants[#variants + 1] = flip(math.floor(#body / 2) + 1)
        variants[#variants + 1] = flip(#body)
        variants[#variants + 1] = body:sub(1, -2)
        variants[#variants + 1] = body:sub(2)
      end
      for i, changed in ipairs(variants) do
        local event, err = kombo.verify_webhook(changed, sig, SECRET)
        assert.is_nil(event, "variant " .. i)
        assert.equal("signature_mismatch", err.code, "variant " .. i)
        assert_clean(err, sig, body)
      end
    end)
  end

  it("fails under another secret, and with another body's signature", function()
    local event, err = kombo.verify_webhook(UTF8, openssl(UTF8, SECRET .. "x"), SECRET)
    assert.is_nil(event)
    assert.equal("signature_mismatch", err.code)
    event, err = kombo.verify_webhook(UTF8, openssl(UTF8 .. " "), SECRET)
    assert.is_nil(event)
    assert.equal("signature_mismatch", err.code)
  end)
end)

describe("kombo.verify_webhook: the signature exactly as Kombo sends it", function()
  local sig = openssl(UTF8)

  local function refused(signature, code, body)
    local event, err = kombo.verify_webhook(body or UTF8, signature, SECRET)
    assert.is_nil(event)
    assert.equal(code, err.code)
    assert_clean(err, sig, body or UTF8)
    return err
  end

  it("refuses a hex digest, naming it", function()
    local hex = openssl(UTF8, SECRET, "od -An -tx1 | tr -d ' \\n'")
    assert.equal(64, #hex)
    local err = refused(hex, "signature_hex")
    assert.truthy(err.message:find("hex", 1, true))
  end)

  it("refuses standard base64: '+' or '/' and '=' padding", function()
    -- bodies whose standard base64 signature holds '+' or '/', and one that holds neither
    local with, without
    for i = 1, 200 do
      local body = event_json("evt-" .. i, "data-changed")
      local std = openssl(body, SECRET, "base64 | tr -d '\\n'")
      if std:find("[+/]") then with = with or { body, std } else without = without or { body, std } end
      if with and without then break end
    end
    assert.truthy(with and without)
    assert.equal("=", with[2]:sub(-1))
    refused(with[2], "signature_standard", with[1])
    local err = refused(without[2], "signature_padded", without[1]) -- the right characters, padded
    assert.truthy(err.message:find("padding", 1, true))
    -- without '+', '/' and '=', standard base64 is base64url: the same signature
    assert.is_table((kombo.verify_webhook(without[1], without[2]:sub(1, -2), SECRET)))
  end)

  it("refuses base64url with '=' padding", function()
    refused(sig .. "=", "signature_padded")
  end)

  it("refuses white space, inside or around it", function()
    refused(sig .. " ", "signature_space")
    refused(" " .. sig, "signature_space")
    refused(sig:sub(1, 20) .. "\t" .. sig:sub(21), "signature_space")
    refused(sig .. "\n", "signature_space")
  end)

  it("refuses a wrong length and a character outside base64url", function()
    refused(sig:sub(1, 42), "signature_length")
    refused(sig .. "A", "signature_length")
    refused(sig .. sig, "signature_length")
    refused(sig:sub(1, 10) .. "*" .. sig:sub(12), "signature_character")
    refused(sig:sub(1, 10) .. "\0" .. sig:sub(12), "signature_character")
  end)

  it("refuses a second spelling of the signature (bits set past the 32 bytes)", function()
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    local last = alphabet:find(sig:sub(-1), 1, true) - 1
    assert.equal(0, last % 4) -- openssl's encoding leaves them zero
    local other = alphabet:sub(last + 2, last + 2)
    refused(sig:sub(1, -2) .. other, "signature_noncanonical")
  end)

  it("refuses a missing, empty or repeated header", function()
    refused(nil, "signature_missing")
    refused("", "signature_missing")
    refused({ sig, sig }, "signature_repeated")
  end)

  it("checks the signature's form before it reads the body", function()
    refused(sig .. "=", "signature_padded", "{not json")
    refused(openssl("{not json") .. "x", "signature_length", "{not json")
  end)
end)

describe("kombo.verify_webhook: the secret", function()
  it("refuses an empty or missing secret, and white space at its ends, without quoting it", function()
    local sig = openssl(UTF8)
    for _, case in ipairs({ { nil, "secret_empty" }, { "", "secret_empty" }, { SECRET .. "\n", "secret_space" },
      { " " .. SECRET, "secret_space" } }) do
      local event, err = kombo.verify_webhook(UTF8, sig, case[1])
      assert.is_nil(event)
      assert.equal(case[2], err.code)
      assert_clean(err, sig, UTF8)
    end
  end)

  it("raises for arguments of the wrong type, naming the argument", function()
    assert.error_matches(function() kombo.verify_webhook(42, "x", SECRET) end, "bad argument #1 to 'verify_webhook'")
    assert.error_matches(function() kombo.verify_webhook("{}", 42, SECRET) end, "bad argument #2 to 'verify_webhook'")
    assert.error_matches(function() kombo.verify_webhook("{}", "x", 42) end, "bad argument #3 to 'verify_webhook'")
    local event, err = kombo.verify_webhook(nil, "x", SECRET)
    assert.is_nil(event)
    assert.equal("body_missing", err.code)
  end)
end)

describe("kombo.verify_webhook: the event", function()
  local function verified(body)
    return kombo.verify_webhook(body, openssl(body), SECRET)
  end

  it("decodes data-changed: id, type, data, known", function()
    local event = assert(verified(UTF8))
    assert.equal("evt-utf8", event.id)
    assert.equal("personio:Zürich-東京-😀", event.data.integration_id)
    assert.equal("ats_applications", event.data.changed_models[1].name)
    assert.is_true(event.known)
  end)

  it("keeps integers, null and [] as the body has them (sync-finished, deprecated but known)", function()
    local event = assert(verified(event_json("evt-s", "sync-finished",
      '{"sync_duration_seconds":1800,"log_url":null,"changed":[]}')))
    assert.is_true(event.known)
    assert.equal(1800, event.data.sync_duration_seconds)
    if math.type then assert.equal("integer", math.type(event.data.sync_duration_seconds)) end
    assert.equal(kombo.null, event.data.log_url)
    assert.equal('{"changed":[]}', (kombo.encode_json({ changed = event.data.changed })))
  end)

  it("returns a type Kombo does not describe yet with known = false", function()
    local event = assert(verified(event_json("evt-new", "candidate-teleported", '{"x":1}')))
    assert.is_false(event.known)
    assert.equal("candidate-teleported", event.type)
    assert.equal(1, event.data.x)
  end)

  it("knows every type of the generated list, and nothing else", function()
    local listed = {}
    for _, e in ipairs(require("kombo.gen.webhook_events")) do listed[#listed + 1] = e.type end
    local have = {}
    for t in pairs(kombo.WEBHOOK_EVENTS) do have[#have + 1] = t end
    table.sort(have)
    assert.same(listed, have)
    assert.truthy(kombo.WEBHOOK_EVENTS["data-changed"])
    assert.is_true(kombo.WEBHOOK_EVENTS["sync-finished"].deprecated)
    assert.is_nil(kombo.WEBHOOK_EVENTS["data-changed"].deprecated)
  end)

  it("refuses JSON that is not an event, after the signature held", function()
    for _, case in ipairs({
      { "[1,2]", "body_shape" }, { '{"type":"data-changed","data":{}}', "body_shape" },
      { '{"id":"","type":"data-changed","data":{}}', "body_shape" },
      { '{"id":"e","type":7,"data":{}}', "body_shape" }, { '{"id":"e","type":"t","data":[]}', "body_shape" },
      { '{"id":"e","type":"t"}', "body_shape" }, { '{"id":"e","type":"t","data":{}', "body_json" },
      { '{"id":"e\255","type":"t","data":{}}', "body_json" }, { "   ", "body_json" },
    }) do
      local event, err = verified(case[1])
      assert.is_nil(event, case[1])
      assert.equal(case[2], err.code, case[1])
    end
  end)

  it("says where invalid JSON goes wrong, and that a byte order mark is one", function()
    local _, err = verified('{"id":"e",}')
    assert.matches("not valid JSON: .* at byte %d+", err.message)
    _, err = verified("\239\187\191" .. UTF8)
    assert.truthy(err.message:find("byte order mark", 1, true))
  end)
end)

describe("the redactor, several secrets at once", function()
  local API_KEY = "kombo_live_7wqpX2r5TtY8uIoP3aSdF6gH"
  local PROXY = "proxy-user:Pr0xy-Passw0rd!"

  it("redacts every secret of an array in one pass, each in any of its forms", function()
    local text = ("key %s, proxy %s, hook %s, hook again %s, encoded %s"):format(API_KEY, PROXY, SECRET,
      SECRET:upper(), (PROXY:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)))
    local out = errors.redact(text, { API_KEY, PROXY, SECRET })
    assert.equal("key <redacted>, proxy <redacted>, hook <redacted>, hook again <redacted>, encoded <redacted>", out)
    assert.equal(text, errors.redact(text, {})) -- nothing to look for
    assert.equal("a <redacted> b", errors.redact("a " .. SECRET .. " b", { 42, SECRET, false })) -- non-strings skipped
  end)

  it("inside a JSON text's strings only (redact_json)", function()
    local text = ('{"a":"%s","b":"%s"}'):format(API_KEY, SECRET)
    assert.equal('{"a":"<redacted>","b":"<redacted>"}', core.redact_json(text, { API_KEY, SECRET }))
  end)

  it("takes long secrets beyond the redactor's inline set", function()
    local long = {}
    for i = 1, 3 do long[i] = ("s%d-"):format(i) .. ("abcdefghij"):rep(30) end
    local out = core.redact("x " .. long[1] .. " y " .. long[3]:sub(50, 70) .. " z", long)
    assert.equal("x <redacted> y <redacted> z", out)
  end)

  it("refuses more than 16 secrets", function()
    local many = {}
    for i = 1, 17 do many[i] = ("secret-number-%02d"):format(i) end
    assert.error_matches(function() core.redact("x", many) end, "at most 16 secrets")
  end)
end)

describe("kombo.webhook_handler outside nginx", function()
  it("raises naming the option, never quoting the secret", function()
    local function raised(opts)
      local ok, err = pcall(kombo.webhook_handler, opts)
      assert.is_false(ok)
      assert.is_nil(tostring(err):find(SECRET, 1, true))
      return tostring(err)
    end
    assert.matches("option 'secret' is required", raised({ on_event = print }))
    assert.matches("option 'secret': the webhook secret starts or ends with white space",
      raised({ secret = SECRET .. "\n", on_event = print }))
    assert.matches("option 'secret': no webhook secret", raised({ secret = "", on_event = print }))
    assert.matches("unknown option 'on_evnt' %(did you mean 'on_event'%?%)", raised({ secret = SECRET, on_evnt = print }))
    assert.matches("option 'window' must be a positive number",
      raised({ secret = SECRET, on_event = print, window = 0 }))
    assert.matches("option 'on_event' must be a function", raised({ secret = SECRET, on_event = "x" }))
    assert.matches("redact%[2%] must be a string, got number", raised({ secret = SECRET, on_event = print,
      redact = { "another-secret", 42 } }))
    assert.matches("needs nginx's Lua module", raised({ secret = SECRET, on_event = print }))
  end)
end)

describe("the webhook events, generated from Kombo's description", function()
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end

  -- (spec/unit/generate_spec.lua checks the operations' outputs the same way)
  it("are not stale: lua/kombo/gen/webhook_types.lua and doc/webhooks.luadoc (else: run make generate)", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert.truthy(os.execute("mkdir -p '" .. dir .. "' && lua5.4 tools/generate.lua --out '" .. dir .. "' >/dev/null"))
    for _, rel in ipairs({ "lua/kombo/gen/webhook_types.lua", "doc/webhooks.luadoc" }) do
      assert.equal(read(dir .. "/" .. rel), read(rel), rel .. ": run make generate")
    end
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("give every type a class in the editor types and a table in the reference, with its data members", function()
    local types, doc = read("lua/kombo/gen/webhook_types.lua") .. "\n", read("doc/webhooks.luadoc") .. "\n"
    for _, e in ipairs(require("kombo.gen.webhook_events")) do
      local class = e.type:gsub("[^%w]+", " "):gsub("(%w)(%w*)", function(a, b) return a:upper() .. b end):gsub(" ", "")
      local body = assert(types:match("\n%-%-%-@class kombo%.gen%." .. class .. "Data\n(.-)\n\n"), e.type)
      local tbl = assert(doc:match("\n%-%- @table " .. class .. "Data\n(.-)\n\n"), e.type)
      for _, member in ipairs(e.data) do
        assert.truthy(body:find("---@field " .. member .. " ", 1, true), e.type .. "." .. member)
        assert.truthy(tbl:find(" " .. member .. " ", 1, true) or tbl:find(" " .. member .. "\n", 1, true)
          or tbl:match(" " .. member .. "$"), e.type .. "." .. member)
      end
      assert.truthy(types:find("'" .. e.type .. "'", 1, true), e.type)
    end
    assert.truthy(types:find("changed_models {name: '[^}]*'ats_applications'"))
    assert.truthy(doc:find("deprecates this type", 1, true))
  end)
end)
