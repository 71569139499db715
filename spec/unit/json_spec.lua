-- JSON on the wire: string escaping (testing.json_string and in the body) and
-- the body's exact field names and layout.
local kombo = require "kombo"
local core = require "kombo.core"
local testing = require "kombo.testing" -- test-only helpers, not part of kombo.core
local h = require "unit.helpers"

local cjson = h.cjson
local hex = h.hex

local SHORT = { [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r" }

local function expected_escape(byte)
  return SHORT[byte] or ("\\u%04x"):format(byte)
end

local function body_of(request_over)
  local call, problems = h.prepare(request_over)
  assert(call, h.dump(problems))
  local body = call:body()
  call:close()
  return body
end

describe("testing.json_string", function()
  it("quotes the empty string", function()
    assert.equals('""', testing.json_string(""))
  end)

  it("escapes a double quote", function()
    assert.equals('"say \\"hi\\""', testing.json_string('say "hi"'))
  end)

  it("escapes a backslash", function()
    assert.equals('"C:\\\\cv\\\\x"', testing.json_string("C:\\cv\\x"))
  end)

  it("does not escape '/'", function()
    assert.equals('"a/b</script>"', testing.json_string("a/b</script>"))
  end)

  for byte = 0, 31 do
    it(("escapes control byte 0x%02x"):format(byte), function()
      local s = "a" .. string.char(byte) .. "b"
      local encoded = testing.json_string(s)
      assert.equals('"a' .. expected_escape(byte) .. 'b"', encoded)
      assert.equals(s, cjson.decode(encoded))
    end)
  end

  it("escapes DEL (0x7f)", function()
    assert.equals('"a\\u007fb"', testing.json_string("a\127b"))
    assert.equals("a\127b", cjson.decode(testing.json_string("a\127b")))
  end)

  it("escapes all control bytes in one string and decodes back", function()
    local bytes = {}
    for b = 0, 31 do bytes[#bytes + 1] = string.char(b) end
    bytes[#bytes + 1] = "\127"
    local s = table.concat(bytes)
    local encoded = testing.json_string(s)
    assert.is_nil(encoded:sub(2, -2):find("[%z\1-\31\127]"))
    assert.equals(s, cjson.decode(encoded))
  end)

  local utf8_cases = {
    { "2-byte (é)", hex "C3 A9" },
    { "3-byte (€)", hex "E2 82 AC" },
    { "4-byte (emoji)", hex "F0 9F 98 80" },
    { "U+2028 line separator", hex "E2 80 A8" },
    { "U+FEFF BOM", hex "EF BB BF" },
    { "U+10FFFF", hex "F4 8F BF BF" },
  }
  for _, case in ipairs(utf8_cases) do
    it("passes UTF-8 through unchanged: " .. case[1], function()
      assert.equals('"x' .. case[2] .. 'y"', testing.json_string("x" .. case[2] .. "y"))
    end)
  end

  -- Short strings are told plain or not a word at a time (codec.c's
  -- kombo_json_plain): every byte, at every place, of every length around
  -- the word's.
  it("escapes any byte at any place of a short string", function()
    local function escaped(byte)
      if byte == 34 then return '\\"' end
      if byte == 92 then return "\\\\" end
      if byte == 127 then return "\\u007f" end
      if byte < 32 then return expected_escape(byte) end
      return string.char(byte)
    end
    for len = 1, 9 do
      for at = 1, len do
        for byte = 0, 255 do
          local s = ("a"):rep(at - 1) .. string.char(byte) .. ("b"):rep(len - at)
          local want = '"' .. ("a"):rep(at - 1) .. escaped(byte) .. ("b"):rep(len - at) .. '"'
          local got = testing.json_string(s)
          if got ~= want then
            assert.equals(want, got, ("length %d, byte 0x%02X at %d"):format(len, byte, at))
          end
        end
      end
    end
  end)

  it("passes every printable ASCII byte except \" and \\ through", function()
    local bytes = {}
    for b = 32, 126 do
      if b ~= 34 and b ~= 92 then bytes[#bytes + 1] = string.char(b) end
    end
    local s = table.concat(bytes)
    assert.equals('"' .. s .. '"', testing.json_string(s))
  end)

  it("raises for a non-string argument", function()
    assert.has_error(function() testing.json_string({}) end)
  end)
end)

describe("the body", function()
  local names = {
    { "quotes", 'Frank "The Tank" Doe.pdf' },
    { "backslashes", "C:\\Users\\frank\\cv.pdf" },
    { "newlines and tabs", "line1\nline2\r\n\tend.pdf" },
    { "an emoji", "cv " .. hex "F0 9F 9A 80" .. ".pdf" },
    { "accents", "R" .. hex "C3 A9" .. "sum" .. hex "C3 A9" .. ".pdf" },
    { "CJK", hex "E5 B1 A5 E6 AD B4 E6 9B B8" .. ".pdf" },
    { "control bytes", "a\1b\31c\127d" },
    { "a slash", "2024/cv.pdf" },
    { "JSON-looking text", '{"name":"x"},"type":"OTHER"' },
  }
  for _, case in ipairs(names) do
    it("carries a name with " .. case[1] .. " exactly (cjson round trip)", function()
      local body = body_of { attachment = h.attachment { name = case[2] } }
      assert.equals(case[2], cjson.decode(body).attachment.name)
      assert.equals('{"attachment":{"name":' .. testing.json_string(case[2])
        .. ',"content_type":"application/pdf","type":"CV","data":"' .. h.PDF_B64 .. '"}}', body)
    end)
  end

  it("with data has exactly the API's fields, in the documented layout", function()
    local body = body_of()
    assert.equals('{"attachment":{"name":"cv.pdf","content_type":"application/pdf","type":"CV","data":"'
      .. h.PDF_B64 .. '"}}', body)
  end)

  it("with data decodes to exactly {attachment={name,content_type,type,data}}", function()
    assert.are.same({ attachment = { name = "cv.pdf", content_type = "application/pdf", type = "CV",
      data = h.PDF_B64 } }, cjson.decode(body_of()))
  end)

  it("with data_url and no content_type has no content_type key", function()
    local body = body_of { attachment = h.url_attachment() }
    assert.equals('{"attachment":{"name":"cv.pdf","type":"CV","data_url":"https://files.example.com/cv.pdf"}}', body)
  end)

  it("with data_url and a content_type sends it", function()
    local body = body_of { attachment = h.url_attachment { content_type = "application/pdf" } }
    assert.are.same({ attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf",
      data_url = "https://files.example.com/cv.pdf" } }, cjson.decode(body))
  end)

  it("keeps the data_url's characters unescaped (no \\/)", function()
    local url = "https://files.example.com/a/b?x=1&y=%20#frag"
    local body = body_of { attachment = h.url_attachment { data_url = url } }
    assert.matches('"data_url":"' .. url .. '"', body, 1, true)
  end)

  it("with remote_fields has them last, under 'remote_fields'", function()
    local body = body_of { remote_fields = { workable = { on_behalf_of_user_remote_id = "w1" } } }
    assert.equals('{"attachment":{"name":"cv.pdf","content_type":"application/pdf","type":"CV","data":"'
      .. h.PDF_B64 .. '"},"remote_fields":{"workable":{"on_behalf_of_user_remote_id":"w1"}}}', body)
  end)

  it("has no remote_fields key when none are given", function()
    local decoded = cjson.decode(body_of())
    local keys = {}
    for k in pairs(decoded) do keys[#keys + 1] = k end
    assert.are.same({ "attachment" }, keys)
  end)

  it("carries a large data payload verbatim", function()
    local data = core.base64_encode(("%PDF-1.4 " .. ("x"):rep(100)):rep(1000))
    local call = assert(h.prepare { attachment = h.attachment { data = data } })
    local body = call:body()
    local _, _, length = call:request()
    assert.equals(#body, length)
    assert.equals(data, cjson.decode(body).attachment.data)
  end)

  it("reads the same bytes in chunks with call:read()", function()
    local data = core.base64_encode(("0123456789"):rep(5000))
    local call = assert(h.prepare { attachment = h.attachment { data = data },
      remote_fields = { note = "tail" } })
    local chunks = {}
    while true do
      local chunk = call:read(777)
      if not chunk then break end
      assert.is_true(#chunk <= 777)
      chunks[#chunks + 1] = chunk
    end
    assert.equals(call:body(), table.concat(chunks))
  end)

  it("call:body() can be read twice", function()
    local call = assert(h.prepare())
    assert.equals(call:body(), call:body())
  end)

  it("exists through the public API with the same bytes", function()
    local rec = h.send(h.client(), "attach_to_candidate", h.args())
    assert.equals('{"attachment":{"name":"cv.pdf","content_type":"application/pdf","type":"CV","data":"'
      .. h.PDF_B64 .. '"}}', rec.body)
    assert.is_truthy(kombo.VERSION)
  end)
end)
