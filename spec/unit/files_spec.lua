-- call:files(): what preflight checks, the body's file objects as the core
-- sees them once their defaults are applied (path, type, content type,
-- size), listed only for a call prepared to list them.
local h = require "unit.helpers"
local core = require "kombo.core"

describe("call:files()", function()
  local handle, dir
  setup(function()
    handle = assert(core.client(h.config()))
    dir = os.tmpname()
    local f = assert(io.open(dir, "wb"))
    f:write("%PDF-1.4\n", ("x"):rep(991))
    f:close()
  end)
  teardown(function()
    handle:close()
    os.remove(dir)
  end)

  local function create(list)
    return assert(handle:prepare("create_application", { job_id = "j1", body = {
      candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" },
      attachments = {
        { file = dir, type = "CV" },
        { bytes = "Dear team", name = "letter.txt", type = "COVER_LETTER" },
        { data = h.PDF_B64, name = "x.pdf", content_type = "application/pdf", type = "OTHER" },
        { data_url = "https://files.example.com/y", name = "y.pdf", type = "OTHER" },
      },
      screening_question_answers = {
        { question_id = "q1", answer = "text" },
        { question_id = "q2", answer = { bytes = "sample", name = "s.bin", content_type = "application/zip" } },
      },
    } }, nil, list))
  end

  it("lists every file object of a create with its path, type, content type and size", function()
    local call = create(true)
    local name = dir:match("[^/]+$")
    assert.same({
      { path = "body.attachments[1]", type = "CV", content_type = "application/pdf", size = 1000 },
      { path = "body.attachments[2]", type = "COVER_LETTER", content_type = "text/plain", size = 9 },
      { path = "body.attachments[3]", type = "OTHER", content_type = "application/pdf", size = 9 },
      { path = "body.attachments[4]", type = "OTHER" },
      { path = "body.screening_question_answers[2].answer", content_type = "application/zip", size = 6 },
    }, call:files())
    assert.matches('"name":"' .. name .. '"', call:body(), 1, true) -- the defaults the facts saw are sent
    call:close()
  end)

  it("an upload's one attachment, at body.attachment", function()
    local call = assert(handle:prepare("attach_to_candidate", { candidate_id = "c",
      body = { attachment = { bytes = "%PDF-1.4\n", name = "cv", type = "CV" } } }, nil, true))
    assert.same({ { path = "body.attachment", type = "CV", content_type = "application/pdf", size = 9 } },
      call:files())
    call:close()
  end)

  it("outlive the arguments (read in place until the call is made), as does the data the body borrows", function()
    -- Strings of 41 to 128 bytes: not interned, not anchored; their memory is
    -- reused once the arguments are collected.
    local function ctype(i) return "application/x-" .. ("q"):rep(40) .. i end
    local function data(i) return ("QUJD"):rep(20) .. ("%04d"):format(i) end
    local i = os.time() % 10
    local call = assert(handle:prepare("attach_to_candidate", { candidate_id = "c", body = { attachment = {
      data = data(i), content_type = ctype(i), name = "cv.pdf", type = "CV" } } }, nil, true))
    collectgarbage()
    collectgarbage()
    local junk = {}
    for k = 1, 200 do
      junk[#junk + 1] = "application/x-" .. ("r"):rep(40) .. k % 10
      junk[#junk + 1] = ("QUJE"):rep(20) .. ("%04d"):format(k)
    end
    assert.same({ { path = "body.attachment", type = "CV", content_type = ctype(i), size = 63 } }, call:files())
    assert.matches('"data":"' .. data(i) .. '"', call:body(), 1, true)
    call:close()
  end)

  it("a name read before a size whose __index drops it and collects is sent as it was read", function()
    -- Elements are read in order: the first one's name is lent to the tree
    -- when the second one's size runs Lua, which must copy it first.
    local function name(c) return ("cv-" .. c):rep(20) .. ".pdf" end -- 84 bytes
    local first = { bytes = "%PDF-1.4\n", name = name("a"), type = "CV" }
    local second = setmetatable({ name = "s.pdf", type = "OTHER", source = function()
      local done = false
      return function() if not done then done = true return "abc" end end
    end }, { __index = function(_, key)
      if key ~= "size" then return nil end
      first.name = name("b")
      collectgarbage()
      collectgarbage()
      local junk = {}
      for _ = 1, 200 do junk[#junk + 1] = name("z") end -- the freed memory, taken again
      return 3
    end })
    second.source = second.source()
    local call = assert(handle:prepare("create_application", { job_id = "j1", body = {
      candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" },
      attachments = { first, second } } }))
    local body = call:body()
    call:close()
    assert.matches('"name":"' .. name("a") .. '"', body, 1, true)
  end)

  it("raises for a call prepared without listing them (not an empty list)", function()
    local call = create(false)
    assert.has_error(function() call:files() end,
      "call:files(): the call was prepared without listing its files")
    call:close()
  end)
end)
