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

  it("leaves a result without an echo exactly as the API sent it", function()
    local body = cjson.encode({ status = "success", data = { id = "att_1", name = "kombo+s.pdf",
      tags = { "kombo+s", "def_012" } } }):gsub("}$", ',"warnings":[]}')
    local res = success_with({ "X-Fine: kombo+s_abc=def" }, body) -- 7-byte runs of the key only
    assert.equals(h.serialize(cjson.decode(body).data), h.serialize(res.data))
    assert.equals("kombo+s_abc=def", res.http.headers["x-fine"])
  end)
end)
