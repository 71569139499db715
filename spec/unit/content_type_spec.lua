-- content_type inference for attachments given as file, bytes or source
-- (csrc/content_type.c): the leading bytes first (PDF, PNG, JPEG, GIF, RTF,
-- OLE2, ZIP -> OOXML/ODF by extension), then the extension table, then
-- "valid UTF-8 without NUL" -> text/plain, else application/octet-stream.
-- An explicit content_type always wins; `data` never infers.  No network:
-- core.prepare renders the call and call:body() is decoded.
local helpers = require "unit.helpers"
local files = require "support.files"
local cjson = helpers.cjson
local hex = helpers.hex

local DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
local XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
local PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
local ODT = "application/vnd.oasis.opendocument.text"
local ODS = "application/vnd.oasis.opendocument.spreadsheet"
local ODP = "application/vnd.oasis.opendocument.presentation"

local PDF = "%PDF-1.7\n%" .. hex("E2 E3 CF D3") .. "\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
local PNG = hex("89 50 4E 47 0D 0A 1A 0A 00 00 00 0D 49 48 44 52") .. "rest"
local JPEG = hex("FF D8 FF E0 00 10") .. "JFIF" .. hex("00 01 02")
local GIF87 = "GIF87a" .. hex("01 00 01 00 80 00 00")
local GIF89 = "GIF89a" .. hex("01 00 01 00 80 00 00")
local RTF = "{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Frank Doe}"
local OLE2 = hex("D0 CF 11 E0 A1 B1 1A E1 00 00 00 00 00 00 00 00")
local ZIP = "PK" .. hex("03 04 14 00 06 00 08 00 00 00 21 00") .. "[Content_Types].xml"
local TEXT = "Frank Doe\nSenior engineer, Z" .. hex("C3 BC") .. "rich \226\130\172 100k\n"
local BINARY = hex("00 01 02 FF FE 80 00 7F 10 C0")

-- The attachment the core would send: (json.attachment) or nil, problems.
local function sent(attachment)
  local call, problems = helpers.prepare({ attachment = attachment })
  if not call then return nil, problems end
  local body = call:body()
  call:close()
  return cjson.decode(body).attachment
end

-- The content_type inferred for these bytes under this name.
local function inferred(bytes, name)
  local att, problems = sent { bytes = bytes, name = name, type = "CV" }
  assert(att, "prepare failed: " .. helpers.dump(problems))
  return att.content_type
end

describe("content_type inference", function()
  describe("by magic bytes (bytes =)", function()
    local cases = {
      { "%PDF", PDF, "application/pdf" },
      { "PNG", PNG, "image/png" },
      { "JPEG", JPEG, "image/jpeg" },
      { "GIF87a", GIF87, "image/gif" },
      { "GIF89a", GIF89, "image/gif" },
      { "{\\rtf", RTF, "application/rtf" },
      { "OLE2 (.doc)", OLE2, "application/msword" },
    }
    for _, c in ipairs(cases) do
      it(("%s without a telling name -> %s"):format(c[1], c[3]), function()
        assert.equals(c[3], inferred(c[2], "upload"))
        assert.equals(c[3], inferred(c[2], "upload.bin"))
      end)
    end

    it("the magic wins over the extension: a resume.doc that starts with %PDF is a PDF", function()
      assert.equals("application/pdf", inferred(PDF, "resume.doc"))
      assert.equals("image/png", inferred(PNG, "photo.jpg"))
      assert.equals("application/rtf", inferred(RTF, "cv.txt"))
    end)

    it("a magic prefix that is cut short does not count", function()
      assert.equals("application/octet-stream", inferred(hex("89 50 4E 47 0D 0A"), "x"))
      assert.equals("text/plain", inferred("%PDF", "x")) -- "%PDF-" is the magic
      assert.equals("text/plain", inferred("GIF88a", "x"))
    end)
  end)

  describe("ZIP containers by extension", function()
    local cases = {
      { "cv.docx", DOCX }, { "sheet.xlsx", XLSX }, { "deck.pptx", PPTX },
      { "cv.odt", ODT }, { "sheet.ods", ODS }, { "deck.odp", ODP },
      { "CV.DOCX", DOCX }, { "My.Resume.Docx", DOCX },
      { "archive.zip", "application/zip" }, { "archive", "application/zip" },
      { "cv.docx.zip", "application/zip" }, { "cv.pdf", "application/zip" },
    }
    for _, c in ipairs(cases) do
      it(("PK\\3\\4 named %q -> %s"):format(c[1], c[2]), function()
        assert.equals(c[2], inferred(ZIP, c[1]))
      end)
    end
  end)

  describe("by content and extension", function()
    it("UTF-8 text without a known extension -> text/plain", function()
      assert.equals("text/plain", inferred(TEXT, "notes"))
      assert.equals("text/plain", inferred(TEXT, "notes.log"))
      assert.equals("text/plain", inferred("a", "a"))
    end)

    it("binary without a known extension -> application/octet-stream", function()
      assert.equals("application/octet-stream", inferred(BINARY, "blob"))
      assert.equals("application/octet-stream", inferred(BINARY, "blob.bin"))
      assert.equals("application/octet-stream", inferred(hex("FF FE FD"), "x.dat"))
    end)

    it("text with a NUL byte or invalid UTF-8 is not text", function()
      assert.equals("application/octet-stream", inferred("abc\0def", "x"))
      assert.equals("application/octet-stream", inferred("abc" .. hex("C0 80") .. "def", "x")) -- overlong NUL
      assert.equals("application/octet-stream", inferred("abc" .. hex("FF") .. "def", "x"))
      assert.equals("application/octet-stream", inferred("abc" .. hex("ED A0 80") .. "def", "x")) -- surrogate
    end)

    -- Only a sequence cut off by the 512-byte sample may be excused; these
    -- attachments are shorter than the sample, so their last bytes are the
    -- real end of the content and are simply invalid UTF-8.
    it("a short attachment ending in 0xFF is not text", function()
      assert.equals("application/octet-stream", inferred("abc" .. hex("FF"), "x"))
    end)

    it("a short attachment ending in a complete surrogate sequence (ED A0 80) is not text", function()
      assert.equals("application/octet-stream", inferred("abc" .. hex("ED A0 80"), "x"))
    end)

    it("a UTF-8 sequence cut by the 512-byte sample is still text", function()
      assert.equals("text/plain", inferred(("a"):rep(511) .. hex("C3 A9") .. "tail", "x"))
      assert.equals("text/plain", inferred(("a"):rep(510) .. hex("E2 82 AC") .. "tail", "x"))
      assert.equals("text/plain", inferred(("a"):rep(509) .. hex("F0 9F 98 80") .. "tail", "x"))
    end)

    it("a one-byte binary attachment without a known extension -> application/octet-stream", function()
      assert.equals("application/octet-stream", inferred("\255", "tiny"))
      assert.equals("text/plain", inferred("\255", "tiny.txt"))
    end)

    local by_name = {
      { "data.csv", "text/csv" }, { "README.md", "text/markdown" }, { "cv.html", "text/html" },
      { "cv.HTM", "text/html" }, { "cv.txt", "text/plain" },
    }
    for _, c in ipairs(by_name) do
      it(("text content named %q -> %s"):format(c[1], c[2]), function()
        assert.equals(c[2], inferred("name,role\nFrank Doe,engineer\n", c[1]))
      end)
    end

    local binary_by_name = {
      { "cv.pdf", "application/pdf" }, { "cv.PDF", "application/pdf" }, { "cv.doc", "application/msword" },
      { "cv.docx", DOCX }, { "cv.odt", ODT }, { "cv.rtf", "application/rtf" },
      { "photo.png", "image/png" }, { "photo.jpg", "image/jpeg" }, { "photo.jpeg", "image/jpeg" },
      { "anim.gif", "image/gif" }, { "archive.zip", "application/zip" },
    }
    for _, c in ipairs(binary_by_name) do
      it(("unrecognised bytes named %q -> %s (extension table)"):format(c[1], c[2]), function()
        assert.equals(c[2], inferred(BINARY, c[1]))
      end)
    end

    it("the extension is only what follows the last dot of the base name", function()
      assert.equals("application/octet-stream", inferred(BINARY, "pdf"))
      assert.equals("application/octet-stream", inferred(BINARY, "cv.pdf.bin"))
      assert.equals("application/octet-stream", inferred(BINARY, "dir.pdf/cv"))
      assert.equals("application/octet-stream", inferred(BINARY, "cv."))
    end)
  end)

  describe("explicit content_type and data", function()
    it("an explicit content_type always wins", function()
      local att = assert(sent { bytes = PDF, name = "cv.pdf", content_type = "text/plain", type = "CV" })
      assert.equals("text/plain", att.content_type)
      att = assert(sent { bytes = BINARY, name = "x", content_type = "application/x-custom", type = "CV" })
      assert.equals("application/x-custom", att.content_type)
    end)

    it("data never infers: without content_type it is still a validation problem", function()
      local att, problems = sent { data = helpers.PDF_B64, name = "cv.pdf", type = "CV" }
      assert.is_nil(att)
      assert.equals(1, #helpers.at(problems, "body.attachment.content_type"), helpers.dump(problems))
    end)

    it("data_url does not infer either (no content_type is sent)", function()
      local att = assert(sent { data_url = "https://files.example.com/cv.pdf", name = "cv.pdf", type = "CV" })
      assert.is_nil(att.content_type)
    end)

    it("an explicit content_type that is invalid is reported, not replaced", function()
      local att, problems = sent { bytes = PDF, name = "cv.pdf", content_type = "not a type", type = "CV" }
      assert.is_nil(att)
      assert.equals(1, #helpers.at(problems, "body.attachment.content_type"), helpers.dump(problems))
    end)
  end)

  describe("source = (inferred from the name only)", function()
    local function via_source(content, name)
      local att, problems = sent {
        source = files.chunked_source(content), size = #content, name = name, type = "CV",
      }
      assert(att, "prepare failed: " .. helpers.dump(problems))
      return att
    end

    it("uses the extension table", function()
      assert.equals("application/pdf", via_source(BINARY, "cv.pdf").content_type)
      assert.equals(DOCX, via_source(ZIP, "cv.docx").content_type)
      assert.equals("text/csv", via_source("a,b\n", "x.csv").content_type)
    end)

    it("does not look at the bytes", function()
      assert.equals("application/octet-stream", via_source(PDF, "upload").content_type)
      assert.equals("application/octet-stream", via_source(TEXT, "notes").content_type)
      assert.equals("application/msword", via_source(PDF, "resume.doc").content_type)
    end)

    it("the source is not called while preparing the call", function()
      local calls = 0
      local call = assert(helpers.prepare({
        attachment = { source = function() calls = calls + 1 end, size = 3, name = "x.pdf", type = "CV" },
      }))
      call:close()
      assert.equals(0, calls)
    end)
  end)

  describe("file = (reads the leading bytes and takes the base name)", function()
    local dir
    setup(function() dir = files.tmpdir() end)
    teardown(function() files.rmtree(dir) end)

    local function via_file(content, base, over)
      local path = files.write(dir .. "/" .. base, content)
      local attachment = { file = path, type = "CV" }
      for k, v in pairs(over or {}) do attachment[k] = v end
      local att, problems = sent(attachment)
      assert(att, "prepare failed: " .. helpers.dump(problems))
      return att
    end

    it("a PDF called resume.doc -> application/pdf, name resume.doc", function()
      local att = via_file(PDF, "resume.doc")
      assert.equals("application/pdf", att.content_type)
      assert.equals("resume.doc", att.name)
      assert.equals(PDF, files.base64_decode(att.data))
    end)

    it("a ZIP called Frank Doe.docx -> the OOXML type", function()
      local att = via_file(ZIP, "Frank Doe.docx")
      assert.equals(DOCX, att.content_type)
      assert.equals("Frank Doe.docx", att.name)
    end)

    it("text in a file without extension -> text/plain; binary -> octet-stream", function()
      assert.equals("text/plain", via_file(TEXT, "notes").content_type)
      assert.equals("application/octet-stream", via_file(BINARY, "blob").content_type)
    end)

    it("only the first 512 bytes are sampled: text followed by binary is text", function()
      assert.equals("text/plain", via_file(("t"):rep(512) .. BINARY, "mixed").content_type)
      assert.equals("application/octet-stream", via_file(("t"):rep(500) .. BINARY, "mixed2").content_type)
    end)

    it("a one-byte binary file: by extension, else application/octet-stream", function()
      assert.equals("text/plain", via_file("\255", "tiny.txt").content_type)
      assert.equals("application/octet-stream", via_file("\255", "tiny").content_type)
    end)

    it("an explicit name drives the extension lookup; explicit content_type wins", function()
      assert.equals(DOCX, via_file(ZIP, "upload.tmp", { name = "cv.docx" }).content_type)
      assert.equals("application/zip", via_file(ZIP, "upload2.tmp").content_type)
      local att = via_file(PDF, "cv3.pdf", { content_type = "application/octet-stream" })
      assert.equals("application/octet-stream", att.content_type)
    end)
  end)
end)
