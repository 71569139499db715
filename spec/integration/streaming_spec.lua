-- Streaming attachments against the local Kombo stand-in:
-- attachment.file (read and base64-encoded by the C core in 48 KiB chunks),
-- attachment.bytes, attachment.source + size; what arrives must decode to
-- exactly the original bytes for every base64 padding case and chunk
-- boundary; on_progress; and every way a stream can go wrong (missing,
-- unreadable or directory files, short / long / failing sources, files that
-- shrink or grow while being sent) aborts instead of sending a body that
-- merely looks complete.
local servers = require "support.servers"
local files = require "support.files"
local core = require "kombo.core"
local ltn12 = require "ltn12"

local KiB, MiB = 1024, 1024 * 1024
local CHUNK = 48 * KiB -- raw bytes per chunk in the core's body writer
local SIZES = { 1, 2, 3, 57, 58, CHUNK - 1, CHUNK, CHUNK + 1, MiB + 1, 20 * 1000 * 1000, 0 }
local INLINE_LIMIT = MiB + 1 -- bytes= and source= are tried up to this size
local STORED_LIMIT = 2 * MiB -- the stand-in keeps bodies up to this size

local function human(n)
  if n >= MiB then return ("%d bytes (%.2f MiB)"):format(n, n / MiB) end
  return ("%d bytes"):format(n)
end

describe("integration: streaming attachments (file, bytes, source) #integration #streaming", function()
  local dir, records
  local content = {} -- size -> random bytes
  local path_of = {} -- size -> file holding them

  setup(function()
    dir = files.tmpdir()
    records = files.recorder(servers)
    for _, size in ipairs(SIZES) do
      content[size] = files.random_bytes(size)
      path_of[size] = files.write(("%s/blob-%d.bin"):format(dir, size), content[size])
    end
  end)

  teardown(function()
    files.rmtree(dir)
  end)

  -- Uploads `attachment` (with on_progress recording every call); returns
  -- res, err, the integration id and the progress calls {sent, total}.
  local function upload(attachment, over)
    over = over or {}
    local client, integ = servers.client(over.client)
    local progress = {}
    local res, err = client:attach_to_candidate {
      candidate_id = over.candidate_id or "cand-stream",
      body = { attachment = attachment },
      on_progress = over.on_progress or function(sent, total) progress[#progress + 1] = { sent, total } end,
    }
    client:close()
    return res, err, integ, progress
  end

  -- The single request the stand-in recorded for integ.
  local function the_request(integ)
    local recs = records(integ)
    assert.equals(1, #recs, "expected exactly one recorded request for " .. integ)
    return recs[1]
  end

  -- Asserts that the recorded request carried exactly `bytes` as
  -- attachment.data under `name`, with a body byte-for-byte equal to the
  -- layout kombo documents, and a Content-Length that was exact.
  local function assert_received(rec, bytes, name, progress)
    assert.equals(200, rec.response.status)
    assert.equals("POST", rec.method)
    assert.equals(("%d"):format(rec.body_length), rec.headers["content-length"])
    assert.is_nil(rec.headers["transfer-encoding"]) -- the length is known up front
    local att = rec.attachment
    assert.is_table(att, "the stand-in could not parse the body as JSON")
    assert.equals(name, att.name)
    assert.equals("CV", att.type)
    assert.equals(files.base64_len(#bytes), att.data_length)
    local content_type = att.content_type
    assert.is_string(content_type)
    if #bytes >= 57 then -- random bytes this long are neither text nor a known format
      assert.equals("application/octet-stream", content_type)
    end

    local b64 = core.base64_encode(bytes)
    assert.equals(files.base64_len(#bytes), #b64)
    local expected = files.expected_body(name, content_type, "CV", b64)
    assert.equals(#expected, rec.body_length)

    if rec.body_length <= STORED_LIMIT then
      assert.is_true(rec.body_stored)
      assert.is_table(rec.json)
      local data = rec.json.attachment.data
      -- Decoded independently of the core's encoder (pure Lua), big bodies
      -- on Lua 5.4 only and not under valgrind: the encoder is C, the same
      -- on every Lua, and body == expected holds everywhere (the decode of
      -- three 1.4 MB bodies was most of this file's time on Lua 5.1).
      if #data <= 100000 or (not servers.UNDER_VALGRIND and _VERSION == "Lua 5.4") then
        local decoded = files.base64_decode(data)
        assert.equals(#bytes, #decoded)
        assert.is_true(decoded == bytes, "attachment.data does not decode to the original bytes")
      end
      assert.is_true(rec.body == expected, "the body differs from the documented layout")
    else
      assert.is_falsy(rec.body_stored)
      local path = dir .. "/expected-body.json"
      files.write(path, expected)
      local sha1 = files.sha1_file(path)
      os.remove(path)
      assert.equals(sha1, rec.body_sha1)
    end

    if progress then -- what kombo computed up front (body->length) is what went out
      assert.is_true(#progress >= 1, "on_progress was never called")
      for _, p in ipairs(progress) do assert.equals(rec.body_length, p[2]) end
      assert.equals(rec.body_length, progress[#progress][1])
    end
  end

  ---------------------------------------------------------------- round trips

  it("an empty document (file, bytes or source of 0 bytes) is refused, nothing sent", function()
    for _, att in ipairs {
      { file = path_of[0], type = "CV" },
      { bytes = "", name = "e.bin", type = "CV" },
      { source = files.chunked_source(""), size = 0, name = "e.bin", type = "CV" },
    } do
      local res, err = upload(att)
      assert.is_nil(res)
      assert.equals("validation", err.kind)
      assert.matches("0 bytes: an empty document is refused", err.message, 1, true)
    end
  end)

  for _, size in ipairs(SIZES) do
    if size == 0 then break end -- 0 bytes is refused (above); SIZES lists it last
    local name = ("blob-%d.bin"):format(size)

    it(("file = <%s> arrives intact"):format(human(size)), function()
      local res, err, integ, progress = upload { file = path_of[size], type = "CV" }
      assert.is_nil(err, err and tostring(err))
      assert.equals("success", res.status)
      assert.equals(size, res.data.size_bytes)
      assert_received(the_request(integ), content[size], name, progress)
    end)

    if size <= INLINE_LIMIT then
      it(("bytes = <%s> arrives intact"):format(human(size)), function()
        local res, err, integ, progress = upload { bytes = content[size], name = name, type = "CV" }
        assert.is_nil(err, err and tostring(err))
        assert.equals(size, res.data.size_bytes)
        assert_received(the_request(integ), content[size], name, progress)
      end)

      it(("source = <%s in chunks of 1, 7, 4096, 65537 bytes> arrives intact"):format(human(size)), function()
        local source = files.chunked_source(content[size], files.UNEVEN)
        local res, err, integ, progress = upload { source = source, size = size, name = name, type = "CV" }
        assert.is_nil(err, err and tostring(err))
        assert.equals(size, res.data.size_bytes)
        local rec = the_request(integ)
        assert.equals("application/octet-stream", rec.attachment.content_type) -- by name only
        assert_received(rec, content[size], name, progress)
      end)
    end
  end

  it("an ltn12 source (ltn12.source.string) arrives intact", function()
    local bytes = content[CHUNK + 1]
    local res, err, integ = upload {
      source = ltn12.source.string(bytes), size = #bytes, name = "blob.bin", type = "CV",
    }
    assert.is_nil(err, err and tostring(err))
    assert.equals(#bytes, res.data.size_bytes)
    assert_received(the_request(integ), bytes, "blob.bin")
  end)

  it("Content-Length is what the core computes up front for a file", function()
    local size = MiB + 1
    local handle = assert(core.client {
      api_key = servers.API_KEY, server_url = servers.standin_url(), integration_id = "x",
      user_agent = "kombo-lua-spec",
    })
    local call = assert(handle:prepare("attach_to_candidate",
      { candidate_id = "cand-stream", body = { attachment = { file = path_of[size], type = "CV" } } }))
    local _, _, length = call:request()
    call:close()
    local _, err, integ = upload { file = path_of[size], type = "CV" }
    assert.is_nil(err, err and tostring(err))
    local rec = the_request(integ)
    assert.equals(length, rec.body_length)
    assert.equals(("%d"):format(length), rec.headers["content-length"])
  end)

  ---------------------------------------------------------------- name and type defaults

  describe("name and content_type defaults", function()
    local pdf = "%PDF-1.4\n%\226\227\207\211\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"

    it("name defaults to the file's base name, content_type to what the bytes are", function()
      local path = files.write(dir .. "/Frank Doe CV.pdf", pdf)
      local res, err, integ = upload { file = path, type = "CV" }
      assert.is_nil(err, err and tostring(err))
      assert.equals("Frank Doe CV.pdf", res.data.name)
      local rec = the_request(integ)
      assert.equals("Frank Doe CV.pdf", rec.json.attachment.name)
      assert.equals("application/pdf", rec.json.attachment.content_type)
      assert.equals(pdf, files.base64_decode(rec.json.attachment.data))
    end)

    it("an explicit name and content_type win over the file's", function()
      local path = files.write(dir .. "/upload-7f3a.tmp", pdf)
      local _, err, integ = upload { file = path, name = "Lebenslauf.pdf", content_type = "application/x-pdf", type = "CV" }
      assert.is_nil(err, err and tostring(err))
      local rec = the_request(integ)
      assert.equals("Lebenslauf.pdf", rec.json.attachment.name)
      assert.equals("application/x-pdf", rec.json.attachment.content_type)
    end)

    it("a relative path: name is the part after the last slash", function()
      local rel = ".tmp/streaming-rel-" .. servers.unique("rel"):gsub("[^%w-]", "-") .. ".txt"
      files.run("mkdir -p .tmp")
      finally(function() os.remove(rel) end)
      files.write(rel, "plain text CV\n")
      local _, err, integ = upload { file = rel, type = "CV" }
      local rec = the_request(integ)
      assert.is_nil(err, err and tostring(err))
      assert.equals(rel:match("[^/]+$"), rec.json.attachment.name)
      assert.equals("text/plain", rec.json.attachment.content_type)
    end)
  end)

  ---------------------------------------------------------------- progress

  describe("on_progress", function()
    it("for the 20 MB file: non-decreasing, constant total = body length, ends at total, <= 110 calls", function()
      local size = 20 * 1000 * 1000
      local _, err, integ, progress = upload { file = path_of[size], type = "CV" }
      assert.is_nil(err, err and tostring(err))
      local rec = the_request(integ)
      assert.is_true(#progress >= 2, "expected several progress calls, got " .. #progress)
      assert.is_true(#progress <= 110, "on_progress called " .. #progress .. " times")
      local total = progress[1][2]
      assert.equals(rec.body_length, total)
      local prev = -1
      for i, p in ipairs(progress) do
        assert.equals(total, p[2], "total changed at call " .. i)
        assert.is_true(p[1] >= prev, ("sent went backwards at call %d: %s < %s"):format(i, p[1], prev))
        assert.is_true(p[1] <= total)
        prev = p[1]
      end
      assert.equals(total, progress[#progress][1])
      -- exactly one report of the end
      assert.is_true(progress[#progress - 1][1] < total, "sent == total reported more than once")
    end)

    it("for a tiny body: called, and ends with sent == total", function()
      local _, err, integ, progress = upload { bytes = "hi", name = "hi.txt", type = "CV" }
      assert.is_nil(err, err and tostring(err))
      local rec = the_request(integ)
      assert.is_true(#progress >= 1)
      assert.same({ rec.body_length, rec.body_length }, progress[#progress])
    end)

    it("a callback that raises aborts the upload (kind aborted, not_sent), nothing complete arrives", function()
      local size = 5 * 1000 * 1000
      local path = files.write(dir .. "/raise-5MB.bin", files.random_bytes(size))
      local calls, total = 0, nil
      local res, err, integ = upload({ file = path, type = "CV" }, {
        on_progress = function(_, t)
          calls, total = calls + 1, t
          error("progress bar crashed")
        end,
      })
      assert.is_nil(res)
      assert.equals("aborted", err.kind)
      assert.equals("not_sent", err.outcome)
      assert.truthy(err.message:find("on_progress raised", 1, true), err.message)
      assert.truthy(err.message:find("progress bar crashed", 1, true), err.message)
      assert.equals(1, calls)
      for _, rec in ipairs(records(integ)) do
        assert.is_nil(rec.json)
        assert.is_true(rec.body_length < total, "the stand-in received a complete body")
      end
    end)

    -- Callbacks run inside the transfer: closing the client there must wait
    -- for the transfer to end, and a second upload on the same client there
    -- is refused, not allowed to trample the first (the ASan run checks).
    for _, case in ipairs { { "small", ("s"):rep(1000) }, { "streamed", ("S"):rep(300000) } } do
      it(case[1] .. " body: on_progress closing the client: the upload finishes, the client is closed after", function()
        local client = servers.client()
        local res, err = client:attach_to_candidate {
          candidate_id = "cand-close-in-progress",
          body = { attachment = { bytes = case[2], name = "x.bin", type = "CV" } },
          on_progress = function() client:close() end,
        }
        assert.is_nil(err, err and tostring(err))
        assert.equals("success", res.status)
        assert.has_error(function()
          client:attach_to_candidate { candidate_id = "c", body = { attachment = servers.attachment() } }
        end, "'attach_to_candidate' on a closed kombo client")
      end)

      it(case[1] .. " body: an upload started from on_progress on the same client is refused", function()
        local client = servers.client { retries = false }
        local inner_err
        local res, err = client:attach_to_candidate {
          candidate_id = "cand-nested",
          body = { attachment = { bytes = case[2], name = "x.bin", type = "CV" } },
          on_progress = function()
            local ok, e = pcall(client.attach_to_candidate, client,
              { candidate_id = "cand-inner", body = { attachment = servers.attachment() } })
            if not ok then inner_err = e end
          end,
        }
        assert.is_nil(err, err and tostring(err))
        assert.equals("success", res.status)
        assert.truthy(tostring(inner_err):find("busy", 1, true), tostring(inner_err))
        client:close()
      end)
    end

    it("a callback that raises on its final call (sent == total) still aborts", function()
      local res, err, integ = upload({ bytes = "tiny", name = "tiny.txt", type = "CV" }, {
        on_progress = function(sent, t) if sent == t then error("late failure") end end,
      })
      assert.is_nil(res)
      assert.equals("aborted", err.kind)
      assert.equals("not_sent", err.outcome)
      assert.truthy(err.message:find("late failure", 1, true), err.message)
      for _, rec in ipairs(records(integ)) do assert.is_nil(rec.json) end
    end)
  end)

  ---------------------------------------------------------------- errors

  describe("errors", function()
    -- Asserts a validation error with a problem at `path`, and that nothing
    -- reached the stand-in.
    local function assert_validation(err, integ, path, pattern)
      assert.is_table(err)
      assert.equals("validation", err.kind)
      assert.equals("not_sent", err.outcome)
      local found
      for _, p in ipairs(err.problems) do
        if p.path == path then found = p end
      end
      assert.is_table(found, "no problem at " .. path .. " in: " .. err.message)
      if pattern then assert.truthy(found.message:find(pattern), found.message) end
      assert.equals(0, #records(integ))
      return found
    end

    -- Asserts an aborted upload, and that no complete body reached the stand-in.
    local function assert_aborted(res, err, integ, pattern)
      assert.is_nil(res)
      assert.is_table(err)
      assert.equals("aborted", err.kind, tostring(err))
      assert.equals("not_sent", err.outcome)
      if pattern then assert.truthy(err.message:find(pattern), err.message) end
      for _, rec in ipairs(records(integ)) do
        assert.is_nil(rec.json, "the stand-in parsed a complete body")
        assert.is_falsy(rec.response and rec.response.status == 200)
      end
    end

    it("a missing file -> validation problem at body.attachment.file, nothing sent", function()
      local path = dir .. "/no-such-file.pdf"
      local res, err, integ = upload { file = path, type = "CV" }
      assert.is_nil(res)
      local p = assert_validation(err, integ, "body.attachment.file")
      assert.truthy(p.message:find(path, 1, true), p.message)
      assert.truthy(p.message:find("No such file", 1, true), p.message)
    end)

    it("a directory -> validation problem at body.attachment.file, nothing sent", function()
      local res, err, integ = upload { file = dir, type = "CV" }
      assert.is_nil(res)
      assert_validation(err, integ, "body.attachment.file", "director")
    end)

    it("an unreadable file (chmod 000) -> validation problem at body.attachment.file", function()
      local path = files.write(dir .. "/secret.pdf", "%PDF-1.4\n")
      files.run("chmod 000 " .. files.sh_quote(path))
      local probe = io.open(path, "rb")
      if os.getenv("USER") == "root" or probe then
        if probe then probe:close() end
        pending("chmod 000 does not stop this user (root) from reading the file")
        return
      end
      local res, err, integ = upload { file = path, type = "CV" }
      assert.is_nil(res)
      assert_validation(err, integ, "body.attachment.file", "ermission")
    end)

    it("an empty path -> validation problem at body.attachment.file", function()
      local res, err, integ = upload { file = "", type = "CV" }
      assert.is_nil(res)
      assert_validation(err, integ, "body.attachment.file")
    end)

    it("a source without size -> validation problem at body.attachment.size", function()
      local res, err, integ = upload { source = files.chunked_source("abc"), name = "a.txt", type = "CV" }
      assert.is_nil(res)
      assert_validation(err, integ, "body.attachment.size")
    end)

    it("file and bytes together -> validation problem at body.attachment", function()
      local res, err, integ = upload { file = path_of[3], bytes = "abc", name = "a.bin", type = "CV" }
      assert.is_nil(res)
      assert_validation(err, integ, "body.attachment", "exactly one")
    end)

    it("a source that ends before size -> aborted, message mentions the announced size", function()
      local res, err, integ = upload {
        source = files.chunked_source(("x"):rep(100000)), size = 100001, name = "short.txt", type = "CV",
      }
      assert_aborted(res, err, integ, "announced size")
    end)

    it("a source that ends before size within the first chunk -> aborted", function()
      local res, err, integ = upload { source = files.chunked_source("abc"), size = 10, name = "s.txt", type = "CV" }
      assert_aborted(res, err, integ, "announced size")
    end)

    it("a source that returns more than size -> aborted", function()
      local res, err, integ = upload {
        source = files.chunked_source(("y"):rep(CHUNK * 2 + 5)), size = CHUNK * 2, name = "long.txt", type = "CV",
      }
      assert_aborted(res, err, integ, "longer than its announced size")
    end)

    it("a source of size 0 -> validation problem at body.attachment.size (an empty document)", function()
      local res, err, integ = upload { source = files.chunked_source("surprise"), size = 0, name = "z.txt", type = "CV" }
      assert.is_nil(res)
      assert_validation(err, integ, "body.attachment.size", "0 bytes")
    end)

    it("a source that raises -> aborted with the error's message", function()
      local n = 0
      local res, err, integ = upload {
        source = function()
          n = n + 1
          if n > 3 then error("object store connection reset") end
          return ("z"):rep(30000)
        end,
        size = 500000, name = "r.bin", type = "CV",
      }
      assert_aborted(res, err, integ, "object store connection reset")
    end)

    it("an ltn12 source failing with nil, message -> aborted with that message", function()
      local n = 0
      local res, err, integ = upload {
        source = function()
          n = n + 1
          if n > 2 then return nil, "disk on fire" end
          return ("q"):rep(1000)
        end,
        size = 10000, name = "f.bin", type = "CV",
      }
      assert_aborted(res, err, integ, "disk on fire")
    end)

    it("a source returning a non-string -> aborted", function()
      local res, err, integ = upload { source = function() return 42 end, size = 10, name = "n.bin", type = "CV" }
      assert_aborted(res, err, integ, "number")
      local res2, err2, integ2 = upload { source = function() return {} end, size = 10, name = "t.bin", type = "CV" }
      assert_aborted(res2, err2, integ2, "table")
    end)

    it("a file that shrinks while being sent -> aborted", function()
      local path = files.write(dir .. "/shrinks-5MB.bin", files.random_bytes(5 * 1000 * 1000))
      local truncated = false
      local res, err, integ = upload({ file = path, type = "CV" }, {
        on_progress = function()
          if not truncated then
            truncated = true
            assert(io.open(path, "wb")):close()
          end
        end,
      })
      assert.is_true(truncated)
      assert_aborted(res, err, integ, "shrink")
    end)

    it("a file that grows while being sent -> aborted", function()
      local path = files.write(dir .. "/grows-5MB.bin", files.random_bytes(5 * 1000 * 1000))
      local grown = false
      local res, err, integ = upload({ file = path, type = "CV" }, {
        on_progress = function()
          if not grown then
            grown = true
            local f = assert(io.open(path, "ab"))
            f:write(("more"):rep(1000))
            f:close()
          end
        end,
      })
      assert.is_true(grown)
      assert_aborted(res, err, integ, "grow")
    end)
  end)

  ---------------------------------------------------------------- retries

  describe("retries (scenario-503-once, retries enabled)", function()
    it("a function source is not retried: the 503 stands, and says why", function()
      local bytes = content[CHUNK + 1]
      local res, err, integ = upload({
        source = files.chunked_source(bytes), size = #bytes, name = "once.bin", type = "CV",
      }, { candidate_id = "scenario-503-once" })
      assert.is_nil(res)
      assert.equals("api", err.kind)
      assert.equals(503, err.status)
      assert.equals(1, err.attempts)
      assert.truthy(err.message:find("(not retried: the attachment source cannot be read a second time)", 1, true),
        err.message)
      local recs = records(integ)
      assert.equals(1, #recs)
      assert.equals(503, recs[1].response.status)
    end)

    it("a file is rewound: the second attempt succeeds with the complete body", function()
      local size = MiB + 1
      local res, err, integ = upload({ file = path_of[size], type = "CV" }, { candidate_id = "scenario-503-once" })
      assert.is_nil(err, err and tostring(err))
      assert.equals(2, res.http.attempts)
      assert.equals(size, res.data.size_bytes)
      local recs = records(integ)
      assert.equals(2, #recs)
      assert.equals(503, recs[1].response.status)
      assert.equals(recs[1].body_length, recs[2].body_length)
      assert_received(recs[2], content[size], ("blob-%d.bin"):format(size))
    end)

    it("bytes are rewound too: the second attempt succeeds with the complete body", function()
      local size = CHUNK * 3 + 2
      local bytes = files.random_bytes(size)
      local res, err, integ = upload({ bytes = bytes, name = "b.bin", type = "CV" },
        { candidate_id = "scenario-503-once" })
      assert.is_nil(err, err and tostring(err))
      assert.equals(2, res.http.attempts)
      local recs = records(integ)
      assert.equals(2, #recs)
      assert_received(recs[2], bytes, "b.bin")
    end)
  end)
end)
