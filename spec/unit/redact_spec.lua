-- Redaction of an echoed API key (csrc/redact.c through core.redact, and
-- the success side: the decoded result and res.http.headers), without a
-- network: call:complete() feeds canned answers.
local core = require "kombo.core"
local errors = require "kombo.errors"
local h = require "unit.helpers"
local cjson = require "cjson"

-- A key with bytes percent-encoding changes ("+", "/", "=").
local KEY = "kombo+sk/abc=def_0123456789"
local ENC = "kombo%2Bsk%2Fabc%3Ddef_0123456789"

local function redacted(s, key) return (core.redact(s, key or KEY)) end

describe("core.redact", function()
  it("replaces the whole key, in any ASCII case", function()
    assert.equals("x <redacted> y", redacted("x " .. KEY .. " y"))
    assert.equals("x <redacted> y", redacted("x " .. KEY:lower() .. " y"))
    assert.equals("x <redacted> y", redacted("x " .. KEY:upper() .. " y"))
    assert.equals("<redacted>", redacted("kOmBo+Sk/AbC=dEf_0123456789"))
  end)

  it("replaces a prefix, a suffix and a middle run of 8 bytes", function()
    assert.equals("token=<redacted>#", redacted("token=" .. KEY:sub(1, 8) .. "#"))
    assert.equals("#<redacted>", redacted("#" .. KEY:sub(-8)))
    assert.equals("#<redacted>#", redacted("#" .. KEY:sub(8, 15) .. "#"))
    assert.equals("#<redacted>#", redacted("#" .. KEY:sub(8, 15):upper() .. "#"))
    assert.equals("#<redacted>#", redacted("#" .. KEY:sub(4, 22) .. "#"))
  end)

  it("leaves a run of 7 bytes of the key alone", function()
    for i = 1, #KEY - 6 do
      local s = "#" .. KEY:sub(i, i + 6) .. "#"
      assert.equals(s, redacted(s))
    end
  end)

  it("replaces the percent-encoded key, %XX in either case, and runs of it", function()
    assert.equals(ENC, (KEY:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)))
    assert.equals("k=<redacted>&", redacted("k=" .. ENC .. "&"))
    assert.equals("k=<redacted>&", redacted("k=" .. ENC:lower() .. "&"))
    assert.equals("k=<redacted>&", redacted("k=" .. ENC:upper() .. "&"))
    assert.equals("#<redacted>#", redacted("#" .. ENC:sub(3, 12) .. "#")) -- "mbo%2Bsk%2"
  end)

  it("replaces every echo, and two touching or overlapping ones as one", function()
    assert.equals("<redacted> and <redacted> and <redacted>",
      redacted(KEY .. " and " .. KEY:upper() .. " and " .. ENC))
    assert.equals("[<redacted>]", redacted("[" .. KEY .. KEY:sub(3, 12) .. "]"))
  end)

  it("returns s itself when nothing matches, and non-strings unchanged", function()
    local s = ("no key in here, just text. "):rep(100)
    assert.equals(s, core.redact(s, KEY))
    assert.equals("", core.redact("", KEY))
    assert.is_nil(core.redact(nil, KEY))
    assert.equals(42, core.redact(42, KEY))
    assert.equals("abc" .. KEY, core.redact("abc" .. KEY, nil))
    assert.equals(errors.redact, core.redact)
  end)

  it("does not look for keys shorter than 8 bytes (test keys)", function()
    assert.equals("test-ke and test-ke", core.redact("test-ke and test-ke", "test-ke"))
    assert.equals("<redacted>", core.redact("test-key", "test-key"))
  end)

  it("handles long keys (the set outside the redactor) and NUL bytes", function()
    local long = ""
    for i = 1, 60 do long = long .. ("%x"):format((i * 7919) % 4096) .. "Q+" end -- ~300 bytes, many "+"
    assert.equals("a<redacted>b", core.redact("a" .. long:sub(50, 250):upper() .. "b", long))
    local enc = long:gsub("%+", "%%2b")
    assert.equals("a<redacted>b", core.redact("a" .. enc .. "b", long))
    local nul = "key\0\0\0\0\0\0\0\0\0tail"
    assert.equals("<redacted>", core.redact(nul, nul))
    assert.equals("x<redacted>y", core.redact("x\0\0\0\0\0\0\0\0y", nul))
  end)

  -- The quick pass (csrc/core/redact.c quick_clean) clears a plain text by
  -- its 4-byte blocks counted from the text's start: a run of 8 key bytes
  -- must be found at every offset from that start, in every length of
  -- text around it, and for keys of every length from 8 (a key of 8 has a
  -- single window).
  it("finds a run of 8 or more key bytes at every offset and text length", function()
    local filler = "The quick brown fox jumps over the lazy dog, twice; "
    for _, key in ipairs { "abcdefgh", "Zq9-x_7.~w", KEY, "sk_live_4eC39HqLyjWDarjtT1zdp7dc" } do
      local enc = key:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)
      for _, form in ipairs { key, enc, key:upper() } do
        for len = 8, math.min(#form, 12) do
          for from = 1, #form - len + 1, 3 do
            local run = form:sub(from, from + len - 1)
            for before = 0, 9 do
              for after = 0, 5 do
                local s = filler:sub(1, before) .. run .. filler:sub(-after - 1, -2)
                local got = core.redact(s, key)
                assert.is_nil(got:find(run, 1, true), ("%q kept %q (key %q)"):format(s, run, key))
                assert.is_truthy(got:find("<redacted>", 1, true), s)
              end
            end
          end
        end
      end
      -- and plain texts without 8 key bytes are left as they are
      for before = 0, 9 do
        local s = filler:sub(1, before) .. key:sub(1, 7) .. "#" .. key:sub(2, 8) .. filler
        assert.equals(s, core.redact(s, key))
      end
    end
  end)

  it("is linear: a 4 MiB text of near misses takes well under a second", function()
    local s = (KEY:sub(1, 7) .. "#"):rep(512 * 1024)
    local t = os.clock()
    assert.equals(s, core.redact(s, KEY))
    assert.is_true(os.clock() - t < 1, "took " .. (os.clock() - t) .. " s")
  end)
end)

describe("a success answer echoing the key", function()
  local function success_with(headers, body)
    local call = assert(h.new_call { api_key = KEY })
    local raw = h.drive(call, { h.answer(200, headers, body) })
    call:close()
    local res, err = errors.from_result(raw, KEY)
    assert.is_nil(err, tostring(err))
    return res
  end

  it("has it redacted in every string of the result, keys and values, escaped or not", function()
    local body = cjson.encode { status = "success", data = {
      id = "att_" .. KEY:lower(), name = "cv-" .. KEY:sub(-9) .. ".pdf", [KEY] = "as a key",
      remote_id = "esc\\aped " .. KEY:upper(), nested = { list = { "u=" .. ENC, "fine" } },
    }, warnings = { { message = "key " .. KEY .. " seen" } } }
    local res = success_with({}, body)
    assert.equals("success", res.status)
    assert.equals("att_<redacted>", res.data.id)
    assert.equals("cv-<redacted>.pdf", res.data.name)
    assert.equals("as a key", res.data["<redacted>"])
    assert.is_nil(res.data[KEY])
    assert.equals("esc\\aped <redacted>", res.data.remote_id)
    assert.same({ "u=<redacted>", "fine" }, res.data.nested.list)
    assert.equals("key <redacted> seen", res.warnings[1].message)
  end)

  it("has it redacted in res.http.headers, also when split across two headers", function()
    local res = success_with({ "X-Echo: Bearer " .. KEY:lower(), "X-Part: " .. KEY:sub(1, 12),
                               "X-Part: " .. KEY:sub(13), "X-Enc: " .. ENC, "X-Fine: fine" })
    local hd = res.http.headers
    assert.equals("Bearer <redacted>", hd["x-echo"])
    assert.equals("<redacted>, <redacted>", hd["x-part"])
    assert.equals("<redacted>", hd["x-enc"])
    assert.equals("fine", hd["x-fine"])
    for k, v in pairs(res.http) do -- the raw block and the key are not fields of res.http
      if type(v) == "string" then assert.is_nil(v:find(KEY:sub(1, 8), 1, true), k) end
    end
    assert.is_nil(rawget(res.http, "raw_headers"))
  end)

  -- The decoder keeps the short strings it made (an answer's keys) for the
  -- next answers: one that was clean for a client is still looked at for
  -- the next client's key.
  it("redacts a short key that an earlier answer, of a client with another key, held clean", function()
    local short = "qwerty-uiop" -- 11 bytes: a key of one client, an ordinary word to another
    local body = cjson.encode({ status = "success", data = { [short] = "v", id = "att_1" } }):gsub("}$", ',"warnings":[]}')
    local function decoded(key)
      local call = assert(h.new_call { api_key = key })
      local raw = h.drive(call, { h.answer(200, {}, body) })
      call:close()
      return assert(errors.from_result(raw, key))
    end
    for _ = 1, 2 do
      assert.equals("v", decoded(KEY).data[short])
      local res = decoded(short)
      assert.is_nil(res.data[short])
      assert.equals("v", res.data["<redacted>"])
      assert.equals("att_1", res.data.id)
    end
  end)

  it("leaves a result without an echo exactly as the API sent it", function()
    local body = cjson.encode({ status = "success", data = { id = "att_1", name = "kombo+s.pdf",
      tags = { "kombo+s", "def_012" } } }):gsub("}$", ',"warnings":[]}')
    local res = success_with({ "X-Fine: kombo+s_abc=def" }, body) -- 7-byte runs of the key only
    assert.equals(h.serialize(cjson.decode(body).data), h.serialize(res.data))
    assert.equals("kombo+s_abc=def", res.http.headers["x-fine"])
  end)
end)

-- Keys holding bytes that JSON escapes ('"', '\', '/', control bytes,
-- 0x7f), non-ASCII and a space, echoed in every escaped form: lua-cjson's
-- and our own writer's, \u for every character (either case of hex,
-- surrogate pairs past the BMP), percent-encoded (either case, every byte
-- or only the reserved ones, "+" for a space), and mixtures of these.
describe("core.redact of escaped echoes", function()
  local KEYS = {
    'sk_"live\\Zq8/vN3\n\t\1\127\195\169\240\159\152\128 rT6yW1pL4x', -- every kind of byte
    'a"b\\c"d\\e"f\\g"h\\i"j\\k"l\\m', -- a special byte every other byte
    '\\\\\\\\\\\\\\\\\\\\"""""""""', -- nothing but specials
    'kombo/sk/live/0123/4567/89ab', -- "/" only: lua-cjson's "\/"
    'key with spaces and+plus 0123',
  }

  -- Characters (UTF-8 sequences) of a string.
  local function chars(s)
    local t = {}
    for ch in s:gmatch("[%z\1-\127\194-\244][\128-\191]*") do t[#t + 1] = ch end
    return t
  end
  local function codepoint(ch)
    local b = { ch:byte(1, -1) }
    if #b == 1 then return b[1] end
    if #b == 2 then return (b[1] % 32) * 64 + b[2] % 64 end
    if #b == 3 then return ((b[1] % 16) * 64 + b[2] % 64) * 64 + b[3] % 64 end
    return (((b[1] % 8) * 64 + b[2] % 64) * 64 + b[3] % 64) * 64 + b[4] % 64
  end
  local function u_escape(ch, upper)
    local fmt = upper and "\\u%04X" or "\\u%04x"
    local cp = codepoint(ch)
    if cp < 0x10000 then return fmt:format(cp) end
    cp = cp - 0x10000
    return fmt:format(0xD800 + math.floor(cp / 1024)) .. fmt:format(0xDC00 + cp % 1024)
  end
  local SHORT = { ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
  local FORMS = {
    cjson = function(k) return (cjson.encode(k):sub(2, -2)) end,
    ours = function(k) return (require("kombo.testing").json_string(k):sub(2, -2)) end,
    u_lower = function(k) local t = chars(k) for i, c in ipairs(t) do t[i] = u_escape(c) end return table.concat(t) end,
    u_upper = function(k) local t = chars(k) for i, c in ipairs(t) do t[i] = u_escape(c, true) end return table.concat(t) end,
    u_specials = function(k) -- only what must be escaped, as \u, hex in mixed case
      local n = 0
      return (k:gsub('[%c"\\/]', function(c) n = n + 1 return u_escape(c, n % 2 == 0) end))
    end,
    mixed = function(k) -- each character in another style
      local t = chars(k)
      for i, c in ipairs(t) do
        local style = i % 3
        if style == 0 then t[i] = u_escape(c, i % 2 == 0)
        elseif style == 1 then t[i] = SHORT[c] or (c:find("%c") and u_escape(c)) or c
        else t[i] = SHORT[c] or (c:find("%c") and u_escape(c, true)) or c end
      end
      return table.concat(t)
    end,
    pct_upper = function(k) return (k:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)) end,
    pct_lower = function(k) return (k:gsub("[^%w%-%._~]", function(c) return ("%%%02x"):format(c:byte()) end)) end,
    pct_all = function(k) -- every byte, hex case alternating
      local n = 0
      return (k:gsub(".", function(c) n = n + 1 return ((n % 2 == 0) and "%%%02X" or "%%%02x"):format(c:byte()) end))
    end,
    cjson_twice = function(k) return (cjson.encode(cjson.encode(k):sub(2, -2)):sub(2, -2)) end, -- JSON in JSON
    u_twice = function(k) -- \\u0022: \u-escaped, then quoted in JSON
      local t = chars(k)
      for i, c in ipairs(t) do t[i] = u_escape(c, i % 2 == 0) end
      return (cjson.encode(table.concat(t)):sub(2, -2))
    end,
    form = function(k) -- application/x-www-form-urlencoded: a space is "+"
      return (k:gsub("[^%w%-%._~ ]", function(c) return ("%%%02X"):format(c:byte()) end):gsub(" ", "+"))
    end,
  }
  local FORM_NAMES = {}
  for name in pairs(FORMS) do FORM_NAMES[#FORM_NAMES + 1] = name end
  table.sort(FORM_NAMES)

  -- Any 6 consecutive bytes of the key, ASCII case folded, in s.
  local function key_run(s, key)
    s, key = s:lower(), key:lower()
    for i = 1, #key - 5 do
      if s:find(key:sub(i, i + 5), 1, true) then return key:sub(i, i + 5) end
    end
  end

  for ki, key in ipairs(KEYS) do
    for _, name in ipairs(FORM_NAMES) do
      local form = FORMS[name](key)
      it(("key %d, %s: the echo goes, in text and inside a JSON string"):format(ki, name), function()
        assert.equals("x <redacted> y", redacted("x " .. form .. " y", key))
        assert.equals("x <redacted> y", redacted("x " .. FORMS[name](key:upper()) .. " y", key)) -- re-cased
        if name:find("^pct") then assert.equals("x <redacted> y", redacted("x " .. form:upper() .. " y", key)) end
        local doc = '{"message":"the key ' .. form .. ' is invalid","n":1}'
        local out = redacted(doc, key)
        local ok, t = pcall(cjson.decode, out)
        assert.is_true(ok, out)
        assert.equals("the key <redacted> is invalid", t.message)
        assert.is_nil(key_run(t.message, key))
      end)
    end

    it(("key %d: cut anywhere, a JSON-escaped echo leaves valid JSON and no 8 key bytes"):format(ki), function()
      local cs = chars(key)
      for _, name in ipairs { "cjson", "ours", "u_lower", "mixed", "cjson_twice" } do
        for i = 1, #cs do
          for j = i, #cs do
            local part = table.concat(cs, "", i, j)
            local out = redacted('["<' .. FORMS[name](part) .. '>"]', key)
            local ok, t = pcall(cjson.decode, out)
            assert.is_true(ok, name .. " " .. i .. ".." .. j .. ": " .. out)
            if #part >= 8 then
              assert.is_nil(t[1]:find(part, 1, true), out)
              assert.truthy(t[1]:find("<redacted>", 1, true), out)
            end
          end
        end
      end
    end)
  end

  it("takes control bytes and spaces for one another (messages have control bytes as spaces)", function()
    local key = KEYS[1]
    assert.equals("x <redacted> y", redacted("x " .. key:gsub("%c", " ") .. " y", key))
    assert.equals("x <redacted> y", redacted("x " .. key:gsub("%c", "+") .. " y", key))
  end)

  it("lets 7 key bytes through in every form (the rule is 8)", function()
    local key = KEYS[1]
    local part = key:sub(1, 7) -- 'sk_"liv'
    for _, name in ipairs { "cjson", "u_lower", "mixed" } do -- (%22 is 3 bytes of the encoded key: 9 go)
      local s = "#" .. FORMS[name](part) .. "#"
      assert.equals(s, redacted(s, key))
    end
  end)

  it("keeps percent-encoded and escaped bytes whole: no %x or \\u0 left at the edges", function()
    local key = "abc/def/ghi/jkl"
    assert.equals("x<redacted>y", redacted("x%2Fdef%2fghi%2Fy", key)) -- "/def/ghi/" decoded
    assert.equals("x<redacted>y", redacted("x\\u002Fdef\\/ghi\\u002fy", key))
    assert.equals('"<redacted>"', redacted('"\\\\\\u002fdef\\/ghi\\/"', "\\/def/ghi/"))
  end)

  it("takes an escaped-looking key literally too", function()
    local key = [[ab\u0041cd%41ef\ngh]]
    assert.equals("x <redacted> y", redacted("x " .. key .. " y", key))
    assert.equals("x <redacted> y", redacted("x " .. cjson.encode(key):sub(2, -2) .. " y", key))
    assert.equals("x <redacted> y", redacted("x " .. FORMS.pct_all(key) .. " y", key))
  end)

  it("random keys, forms and cuts: valid JSON and no 8 key bytes left, 400 cases", function()
    local alphabet = { "a", "B", "7", "_", '"', "\\", "/", "%", "+", " ", "\n", "\1", "\127", "\195\169",
                       "\240\159\152\128", "u", "0" }
    local seed = 12345
    local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648 return seed % n + 1 end
    local names = { "cjson", "ours", "u_lower", "u_upper", "mixed", "cjson_twice", "u_twice" }
    for case = 1, 400 do
      local t = {}
      for i = 1, 8 + rand(24) do t[i] = alphabet[rand(#alphabet)] end
      local key = table.concat(t)
      local cs = chars(key)
      local i = rand(#cs)
      local j = math.min(#cs, i + rand(#cs))
      local part = table.concat(cs, "", i, j)
      local name = names[rand(#names)]
      -- core.redact, the echo between bytes that are no key's ("<", ">"); core.redact_json, next to
      -- the structure (a '"' of the key may match the string's own quote)
      for _, doc in ipairs { { core.redact, '["<' .. FORMS[name](part) .. '>", "tail"]' },
                             { core.redact_json, '["' .. FORMS[name](part) .. '", "tail"]' } } do
        local out = doc[1](doc[2], key)
        local ok, v = pcall(cjson.decode, out)
        local label = ("case %d, %s, key %q, part %q: %s"):format(case, name, key, part, out)
        assert.is_true(ok, label)
        assert.equals("tail", v[2], label)
        if name:find("twice") then v[1] = cjson.decode('"' .. v[1] .. '"') end
        if #part >= 8 then assert.is_nil(v[1]:find(part, 1, true), label) end
      end
    end
  end)

  it("is linear with escapes too: 4 MiB of escaped near misses well under a second", function()
    local key = KEYS[2]
    local s = (FORMS.cjson(key:sub(1, 7)) .. "#%41"):rep(256 * 1024)
    local t = os.clock()
    assert.equals(s, core.redact(s, key))
    assert.is_true(os.clock() - t < 1, "took " .. (os.clock() - t) .. " s")
    local echo = ("x" .. FORMS.cjson(key) .. "y" .. ("#"):rep(300)):rep(4096) -- one echo every ~330 bytes
    t = os.clock()
    local out = core.redact(echo, key)
    assert.equals(("x<redacted>y" .. ("#"):rep(300)):rep(4096), out)
    assert.is_true(os.clock() - t < 1, "took " .. (os.clock() - t) .. " s")
  end)
end)

describe("core.redact_json", function()
  local KEY_Q = 'sk_"live\\Zq8/vN3rT6yW1pL4x'

  it("redacts inside strings only, so the text stays valid JSON for any key", function()
    local doc = cjson.encode { message = "the key " .. KEY_Q .. " is bad", list = { KEY_Q:sub(3, 14), "fine" }, n = 12 }
    local out = core.redact_json(doc, KEY_Q)
    local t = cjson.decode(out)
    assert.equals("the key <redacted> is bad", t.message)
    assert.same({ "<redacted>", "fine" }, t.list)
    assert.equals(12, t.n)
  end)

  it("leaves the structure alone when the key matches it", function()
    local key = 'false,"dry_run":false' -- matches the structure, and stands escaped in "b"
    local doc = '{"a":"x","exit":false,"dry_run":false,"b":' .. cjson.encode("<" .. key .. ">") .. '}'
    local out = core.redact_json(doc, key)
    local ok, t = pcall(cjson.decode, out)
    assert.is_true(ok, out)
    assert.equals(false, t.exit)
    assert.equals("x", t.a)
    assert.equals("<<redacted>>", t.b)
    local plain = core.redact(doc, key) -- the plain redactor breaks such a text; redact_json does not
    assert.is_false((pcall(cjson.decode, plain)))
  end)

  it("returns s itself when nothing matches, and non-strings unchanged", function()
    local doc = '{"a":"no key here"}'
    assert.equals(doc, core.redact_json(doc, KEY_Q))
    assert.is_nil(core.redact_json(nil, KEY_Q))
    assert.equals(doc, core.redact_json(doc, nil))
    assert.equals(errors.redact_json, core.redact_json)
  end)
end)
