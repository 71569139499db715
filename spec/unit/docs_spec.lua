-- The reference stays complete: every public name of the `kombo` module and
-- every function of a client's metatable (the operation methods made in a
-- loop from core.operations included) has an LDoc comment, and the LuaLS
-- definitions file (lua/kombo/types.lua) declares every one of them.
--
-- The names come from the live objects, not from a list, so a new
-- operation in csrc/gen/operations.c or a new module function fails here until
-- it is documented.  Two views of "documented": LDoc's own (its parsed
-- items, `ldoc --filter` with spec/support/ldoc_items.lua, when ldoc is installed) and a scan
-- of the `---` blocks of the kombo module's files by the same rules (always): the files of
-- config.ld that say `@module kombo` (LDoc merges them into one page), init.lua and the
-- modules it assembles, doc/calls.luadoc (the uploads' argument tables), the generated
-- doc/operations.luadoc (every operation) and doc/reference.luadoc.  The editor types are lua/kombo/types.lua by
-- hand and lua/kombo/gen/types.lua generated (tools/generate.lua).
local kombo = require "kombo"
local helpers = require "unit.helpers"

local TYPES = "lua/kombo/types.lua"
local GEN_DOC = "doc/operations.luadoc"
local GEN_TYPES = "lua/kombo/gen/types.lua"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- The files of the `kombo` module's page, in config.ld's order.
local function kombo_files()
  local list = assert(read("config.ld"):match("\nfile%s*=%s*(%b{})"), "config.ld has no file list")
  local files = {}
  for path in list:gmatch('"([^"]+)"') do
    if read(path):find("\n%-%-%s*@module kombo%s*\n") then files[#files + 1] = path end
  end
  assert(files[1] == "lua/kombo/init.lua", "config.ld must list lua/kombo/init.lua first")
  return files
end
local KOMBO_FILES = kombo_files()

local function and_kombo_files(list)
  for _, path in ipairs(KOMBO_FILES) do list[#list + 1] = path end
  return list
end

-- Their text, one file after the other; a blank line between, so that no
-- doc block runs on into the next file.
local function kombo_source()
  local parts = {}
  for i, path in ipairs(KOMBO_FILES) do parts[i] = read(path) end
  return table.concat(parts, "\n\n")
end

local function sorted(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

-- What must be documented, as LDoc names it: "new", "VERSION" for the
-- module's fields, "Client:close" for a client's methods and metamethods.
local function public_names()
  local want = {}
  for k in pairs(kombo) do want[k] = "module" end
  local client = kombo.new(helpers.config())
  for k, v in pairs(getmetatable(client)) do
    if type(v) == "function" then want["Client:" .. k] = "client" end
  end
  client:close()
  return want
end

-- LDoc's rules, for the kombo files: a doc block starts with a line of three
-- dashes and text (a line of dashes only is not one), goes on while lines
-- are comments, and names its item by a @function/@field/@table tag or by
-- the code line that follows it.  Returns { [name] = summary }.
local function scanned_blocks(src)
  local lines = {}
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local found = {}
  local i = 1
  while i <= #lines do
    local line = lines[i]
    if line:match("^%-%-%-") and not line:match("^%-+%s*$") then
      local summary = line:match("^%-%-%-+%s*(.-)%s*$")
      local name
      local j = i + 1
      while j <= #lines and lines[j]:match("^%-%-") do
        local tag, tagged = lines[j]:match("^%-%-%s*@(%a+)%s+([%w_:.]+)")
        if tag == "function" or tag == "field" or tag == "table" then name = tagged end
        j = j + 1
      end
      if not name then
        local k = j
        while k <= #lines and lines[k]:match("^%s*$") do k = k + 1 end
        local code = lines[k] or ""
        local fn = code:match("^function%s+kombo%.([%w_]+)%s*%(")
          or code:match("^kombo%.([%w_]+)%s*=")
        local m = code:match("^function%s+Client[:.]([%w_]+)%s*%(")
          or code:match("^Client%.([%w_]+)%s*=")
        name = fn or (m and "Client:" .. m)
      end
      if name then found[name] = summary end
      i = j
    else
      i = i + 1
    end
  end
  return found
end

local function ldoc_available()
  local ok = os.execute("command -v ldoc >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- LDoc's view: the items it parsed from config.ld's modules (not its topics),
-- { [name] = summary }, through the filter spec/support/ldoc_items.lua.
local function ldoc_items()
  local p = assert(io.popen("LUA_PATH='spec/support/?.lua;;' ldoc --filter ldoc_items.dump . 2>&1"))
  local out = p:read("*a")
  p:close()
  local text = out:match("(return {\n.*})%s*$")
  assert(text, "ldoc printed no item list:\n" .. out)
  local items = {}
  for _, item in ipairs(assert((loadstring or load)(text))()) do
    if item.type ~= "topic" then items[item.name] = item.summary end
  end
  return items
end

local function missing(want, have)
  local list = {}
  for _, name in ipairs(sorted(want)) do
    local summary = have[name]
    if type(summary) ~= "string" or not summary:find("%S") then list[#list + 1] = name end
  end
  return list
end

describe("the reference", function()
  local want = public_names()

  it("knows the public surface: the module functions, the generated operations, the client methods", function()
    for _, op in ipairs(require("kombo.core").operations) do
      assert.equal("module", want[op.name])
      assert.equal("client", want["Client:" .. op.name])
    end
    for _, name in ipairs({ "new", "configure", "default_client", "is_error", "base64", "encode_json",
      "attachment_restrictions", "attachment_exists", "null", "empty_array", "VERSION", "features", "SERVERS",
      "Client:close", "Client:attachment_restrictions", "Client:attachment_exists" }) do
      assert.is_truthy(want[name], name)
    end
  end)

  it("has a doc comment for every public name in the kombo module's files", function()
    assert.same({}, missing(want, scanned_blocks(kombo_source())))
  end)

  it("documents each name once: every operation in the generated reference, none by hand", function()
    local by_hand = scanned_blocks(read("doc/calls.luadoc"))
    local twice = {}
    for name in pairs(scanned_blocks(read(GEN_DOC))) do
      if by_hand[name] then twice[#twice + 1] = name end
    end
    table.sort(twice)
    assert.same({}, twice)
    local generated = scanned_blocks(read(GEN_DOC))
    for _, op in ipairs(require("kombo.core").operations) do
      assert.truthy(generated["Client:" .. op.name], op.name .. " is not in " .. GEN_DOC)
      assert.truthy(generated[op.name], "kombo." .. op.name .. " is not in " .. GEN_DOC)
    end
    assert.truthy(read("config.ld"):find(GEN_DOC, 1, true))
  end)

  it("has an LDoc item with a summary for every public name (ldoc's own parse of config.ld)", function()
    if not ldoc_available() then
      pending("ldoc is not installed (apt-get install lua-ldoc lua-markdown)")
      return
    end
    assert.same({}, missing(want, ldoc_items()))
  end)

  it("the scan fails when a doc comment is missing", function()
    local src = kombo_source():gsub("%-%-%- Frees the client's settings", "-- Frees the client's settings", 1)
    assert.same({ "Client:close" }, missing(want, scanned_blocks(src)))
    src = kombo_source():gsub("%-%- @function Client:check_api_key\n", "", 1)
    assert.same({ "Client:check_api_key" }, missing(want, scanned_blocks(src)))
    local gen = kombo_source():gsub("%-%- @function Client:get_jobs\n", "", 1)
    assert.same({ "Client:get_jobs" }, missing(want, scanned_blocks(gen)))
  end)
end)

describe("the editor types (lua/kombo/types.lua, lua/kombo/gen/types.lua)", function()
  local src = read(TYPES) .. "\n" .. read(GEN_TYPES)

  it("is a LuaLS definitions file for require 'kombo'", function()
    assert.truthy(src:find("^%-%-%-@meta kombo\n"))
    assert.truthy(read(GEN_TYPES):find("^%-%-%-@meta kombo%.gen%.types\n"))
  end)

  it("declares every module name and every client method", function()
    local absent = {}
    for _, name in ipairs(sorted(public_names())) do
      local method = name:match("^Client:(.*)$")
      if method then
        if not method:match("^__") -- metamethods: tostring(), <close>
          and not src:find("\nfunction Client:" .. method .. "%(") then
          absent[#absent + 1] = name
        end
      elseif not (src:find("\nfunction kombo%." .. name .. "%(") or src:find("\nkombo%." .. name .. " =")) then
        absent[#absent + 1] = name
      end
    end
    assert.same({}, absent)
  end)

  -- The @field names of a LuaLS class in types.lua, sorted.
  local function class_fields(class)
    local body = src:match("\n%-%-%-@class " .. class:gsub("%.", "%%.") .. "\n(.-)\n\n")
    local fields = {}
    for f in (body or ""):gmatch("%-%-%-@field ([%w_]+)") do fields[#fields + 1] = f end
    table.sort(fields)
    return fields
  end

  it("declares every client option and retry option that kombo.new accepts", function()
    local options = class_fields("kombo.ClientOptions")
    -- the options kombo.new takes (kombo.client's OPTIONS: the core's and the Lua layer's), all declared
    local client_mod = require "kombo.client"
    assert.same(sorted(client_mod.OPTIONS), options)
    assert.same({ "api_key", "ca_file", "connect_timeout", "debug", "hooks", "integration_id", "max_response_bytes",
      "preflight", "preflight_ttl", "proxy", "retries", "server", "server_url", "timeout", "transport", "user_agent" }, options)
    local thread = coroutine.create(function() end) -- a type no option takes
    for _, name in ipairs(options) do -- each is a real option: a wrong type is named, not "unknown"
      local ok, err = pcall(kombo.new, { api_key = helpers.API_KEY, [name] = thread })
      assert.is_false(ok)
      assert.matches("option '" .. name .. "' must be a", err, 1, true)
    end
    assert.same({ "exponent", "initial_interval", "max_attempts", "max_elapsed", "max_interval", "retry_unsafe" },
      class_fields("kombo.RetryOptions"))
  end)

  it("declares every option of one call and every hook, as the client checks them", function()
    local client_mod = require "kombo.client"
    local call_options = class_fields("kombo.CallOptions")
    assert.same(sorted(client_mod.CALL_OPTIONS), call_options)
    local client = kombo.new { api_key = helpers.API_KEY, server_url = "http://127.0.0.1:1" }
    local thread = coroutine.create(function() end)
    for _, name in ipairs(call_options) do -- each is a real option of a call
      local ok, err = pcall(client.check_api_key, client, {}, { [name] = thread })
      assert.is_false(ok)
      assert.matches("option '" .. name .. "' must be a", err, 1, true)
    end
    assert.same({ "after_response", "before_request", "on_retry" }, class_fields("kombo.Hooks"))
    for _, name in ipairs(class_fields("kombo.Hooks")) do
      local ok, err = pcall(kombo.new, { api_key = helpers.API_KEY, hooks = { [name] = thread } })
      assert.is_false(ok)
      assert.matches("option 'hooks." .. name .. "' must be a function", err, 1, true)
    end
    -- the reference has the same tables (client.lua's LDoc)
    local ref = read("lua/kombo/client.lua")
    for _, t in ipairs { "CallOptions", "Hooks", "HookInfo" } do
      assert.truthy(ref:find("\n%-%- @table " .. t .. "\n"), t)
    end
    for _, name in ipairs(call_options) do
      assert.truthy(ref:match("@table CallOptions\n(.-)@within"):find("@tfield%[opt%] [%w|]+ " .. name .. " "), name)
    end
    client:close()
  end)

  it("shows the regions: the server option in the reference and the types", function()
    local ref = read("lua/kombo/client.lua")
    assert.truthy(ref:find('@tfield[opt="eu"] string server `"eu"` (`https://api.kombo.dev/v1`) or `"us"` '
      .. '(`https://api.us.kombo.dev/v1`)', 1, true))
    assert.truthy(src:find('---@alias kombo.Server "eu"|"us"', 1, true))
    assert.truthy(src:find("---@field server? kombo.Server", 1, true))
    assert.same({ eu = "https://api.kombo.dev/v1", us = "https://api.us.kombo.dev/v1" }, kombo.SERVERS)
  end)
end)

-- What LDoc shows: each doc block's text before its tags ({ name, text }),
-- and the summary LDoc takes from it (parse.lua: up to the first "." or "?"
-- followed by white space).
local function doc_texts(src)
  local blocks, cur = {}, nil
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%-%-%-") and not line:match("^%-+%s*$") then
      cur = { text = line:match("^%-%-%-+%s*(.-)%s*$"), tagged = false }
      blocks[#blocks + 1] = cur
    elseif cur and line:match("^%-%-") then
      local body = line:match("^%-%-%s?(.*)$")
      if body:match("^%s*@") then
        cur.tagged = true
        cur.name = cur.name or body:match("^%s*@%a+%s+([%w_:.]+)")
        cur.tags = (cur.tags or "") .. body .. "\n"
      elseif cur.tagged then
        cur.tags = cur.tags .. body .. "\n"
      else
        cur.text = cur.text .. "\n" .. body
      end
    else
      cur = nil
    end
  end
  return blocks
end

local function ldoc_summary(text)
  return text:match("^(.-[%.?])%s") or text
end

local ABBREVIATIONS = { "e%.g%.", "i%.e%.", "etc%.", "cf%.", "vs%." }

local function cut_summaries(summaries)
  local bad = {}
  for name, summary in pairs(summaries) do
    for _, abbr in ipairs(ABBREVIATIONS) do
      if summary:lower():match(abbr .. "$") then bad[#bad + 1] = name .. ": " .. summary end
    end
  end
  table.sort(bad)
  return bad
end

local COSOCKET_DOC = "doc/cosocket.luadoc"
local ATTACH_DOC = "doc/kombo-attach.md"
local APPLY_DOC = "doc/kombo-apply.md"
local TUNABLES = { "keepalive_timeout", "pool_size", "yield_after", "send_batch" }

local function block_of(blocks, name)
  for _, b in ipairs(blocks) do
    if b.name == name then return b end
  end
end

-- The options of kombo-attach (or kombo apply), as lua/kombo/cli/main.lua's
-- (apply.lua's) USAGE lists them.
local function usage_text(file)
  return assert(read(file or "lua/kombo/cli/main.lua"):match("\nlocal USAGE = %[%[\n(.-)%]%]"))
end

describe("the reference's text", function()
  it("has whole summaries: none is cut at an abbreviation such as 'e.g.'", function()
    for _, path in ipairs(and_kombo_files({ COSOCKET_DOC })) do
      local summaries = {}
      for i, b in ipairs(doc_texts(read(path))) do
        summaries[(b.name or "#" .. i) .. " (" .. path .. ")"] = ldoc_summary(b.text)
      end
      assert.same({}, cut_summaries(summaries))
    end
    assert.same({ "x: This release, e.g." }, cut_summaries({ x = ldoc_summary("This release, e.g. `1`.") }))
  end)

  it("has LDoc's summaries whole too (ldoc's own parse)", function()
    if not ldoc_available() then
      pending("ldoc is not installed (apt-get install lua-ldoc lua-markdown)")
      return
    end
    assert.same({}, cut_summaries(ldoc_items()))
  end)

  it("puts no @{reference} inside `code` (LDoc would show its <a href> as text)", function()
    for _, path in ipairs(and_kombo_files({ COSOCKET_DOC, ATTACH_DOC, APPLY_DOC })) do
      local bad = {}
      for _, b in ipairs(doc_texts(read(path))) do
        local text = b.text .. "\n" .. (b.tags or "")
        for span in text:gsub("\n%-?%-?", " "):gmatch("`([^`]*)`") do
          if span:find("@{", 1, true) then bad[#bad + 1] = span end
        end
      end
      assert.same({}, bad)
    end
  end)

  it("says Client:close frees no connection (a client holds none between calls)", function()
    local b = assert(block_of(doc_texts(kombo_source()), "Client:close"))
    assert.is_nil(b.text:lower():find("frees the connection", 1, true))
    assert.truthy(b.text:find("no connection or libcurl\n?%s*handle between calls"))
  end)

  it("says kombo.encode_json is not byte-exact (Lua tables keep no key order)", function()
    local b = assert(block_of(doc_texts(kombo_source()), "encode_json"))
    assert.truthy(b.text:lower():find("not byte%-exact"))
    assert.truthy(b.text:find("key order") or b.text:find("no key"))
    assert.is_nil(kombo_source():find("exactly (`kombo.encode_json(res)` gives it back)", 1, true))
    assert.truthy(read(TYPES):find("---Not byte-exact: object keys", 1, true))
  end)

  it("marks ListedAttachment fields optional unless every listing's contract requires them", function()
    local cjson = require "cjson.safe"
    local doc = assert(cjson.decode(read("spec/contract/kombo-openapi.json")))
    local function resolve(s)
      while s["$ref"] do s = doc.components.schemas[s["$ref"]:match("([^/]+)$")] end
      return s
    end
    local always -- field -> required by every listing
    for _, path in ipairs({ "/ats/candidates/{candidate_id}/attachments",
      "/ats/applications/{application_id}/attachments" }) do
      local schema = resolve(doc.paths[path].get.responses["200"].content["application/json"].schema)
      local item = resolve(resolve(resolve(schema.properties.data).properties.results).items)
      local req = {}
      for _, f in ipairs(item.required or {}) do req[f] = true end
      if always then
        for f in pairs(always) do always[f] = always[f] and req[f] or nil end
      else
        always = req
      end
    end
    assert.is_nil(always.application_id) -- the application listing has neither
    local b = assert(block_of(doc_texts(kombo_source()), "ListedAttachment"))
    local wrong = {}
    for opt, field in b.tags:gmatch("@tfield(%S*)%s+%S+%s+([%w_]+)") do
      if not always[field] and not opt:find("opt", 1, true) then wrong[#wrong + 1] = "doc/reference.luadoc " .. field end
    end
    local class = assert(read(TYPES):match("\n%-%-%-@class kombo%.ListedAttachment\n(.-)\n\n"))
    for field, q in class:gmatch("%-%-%-@field ([%w_]+)(%??)") do
      if not always[field] and q ~= "?" then wrong[#wrong + 1] = "types.lua " .. field end
    end
    assert.same({}, wrong)
  end)

  it("gives the answer caps the core applies when max_response_bytes is left out", function()
    local d = require("kombo.core").defaults
    local mib = d.max_list_response_bytes / 1048576
    assert.equals(d.max_response_bytes, 1048576) -- README's "1 MiB"
    local readme = read("README.md")
    local lists = assert(readme:match("\n### Lists, page by page\n(.-)\n### "))
    assert.truthy(lists:find(("up to\n?%%s*%d MiB"):format(mib)), "README's Lists section: the list cap")
    assert.truthy(readme:find(("a list's page %d MiB"):format(mib), 1, true), "README's Clients: the list cap")
    for _, path in ipairs { "lua/kombo/client.lua", TYPES } do
      local text = read(path)
      assert.truthy(text:find(tostring(d.max_response_bytes), 1, true), path)
      assert.truthy(text:find(tostring(d.max_list_response_bytes), 1, true), path)
    end
  end)

  it("documents kombo.cosocket's tunables with the defaults the module has", function()
    local cosocket = require "kombo.cosocket"
    local blocks = doc_texts(read(COSOCKET_DOC))
    for _, name in ipairs(TUNABLES) do
      local b = assert(block_of(blocks, name), name)
      local default = assert(b.text:match("Default `([^`]+)`"), name)
      assert.equal(tostring(cosocket[name]), default, name)
    end
    assert.truthy(read("config.ld"):find(COSOCKET_DOC, 1, true))
  end)

  it("has kombo-attach's --help text, as lua/kombo/cli/main.lua prints it", function()
    local md = read(ATTACH_DOC)
    local missing_lines = {}
    for line in usage_text():gmatch("([^\n]*)\n") do
      if line ~= "" and not md:find("\n" .. line .. "\n", 1, true) then missing_lines[#missing_lines + 1] = line end
    end
    assert.same({}, missing_lines)
    assert.truthy(read("config.ld"):find(ATTACH_DOC, 1, true))
  end)

  it("has kombo apply's --help text, as lua/kombo/cli/apply.lua prints it", function()
    local md = read(APPLY_DOC)
    local missing_lines = {}
    for line in usage_text("lua/kombo/cli/apply.lua"):gmatch("([^\n]*)\n") do
      if line ~= "" and not md:find("\n" .. line .. "\n", 1, true) then missing_lines[#missing_lines + 1] = line end
    end
    assert.same({}, missing_lines)
    assert.truthy(read("config.ld"):find(APPLY_DOC, 1, true))
  end)
end)

describe("the generated reference (ldoc into a temporary directory)", function()
  local dir, out

  setup(function()
    if not ldoc_available() then return end
    dir = os.tmpname()
    os.remove(dir)
    local p = assert(io.popen("ldoc -q -d '" .. dir .. "' . 2>&1"))
    out = p:read("*a")
    p:close()
    -- config.ld's merge: LDoc notes each kombo file after init.lua (not a warning).
    out = out:gsub("found master module\t[^\n]*/lua/kombo/init%.lua\n", "", #KOMBO_FILES - 1)
  end)

  teardown(function()
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end)

  local function page(rel)
    local f = io.open(dir .. "/" .. rel, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
  end

  local function need_ldoc()
    if not dir then
      pending("ldoc is not installed (apt-get install lua-ldoc lua-markdown)")
      return false
    end
    return true
  end

  it("builds without a warning", function()
    if not need_ldoc() then return end
    assert.equal("reading configuration from config.ld\n", (out:gsub("\n+$", "\n")))
  end)

  it("shows no HTML as text (no escaped <a ...>)", function()
    if not need_ldoc() then return end
    for _, rel in ipairs({ "index.html", "modules/kombo.html", "modules/kombo.cosocket.html",
      "topics/kombo-attach.md.html", "topics/kombo-apply.md.html" }) do
      local html = assert(page(rel), rel)
      assert.is_nil(html:find("&lt;a ", 1, true), rel)
      assert.is_nil(html:find("&lt;/a&gt;", 1, true), rel)
    end
  end)

  it("has a kombo.cosocket page with its tunables", function()
    if not need_ldoc() then return end
    local html = assert(page("modules/kombo.cosocket.html"))
    for _, name in ipairs(TUNABLES) do
      assert.truthy(html:find('<a name = "' .. name .. '"></a>', 1, true), name)
    end
  end)

  it("has a kombo-attach page with every option", function()
    if not need_ldoc() then return end
    local html = assert(page("topics/kombo-attach.md.html"))
    assert.truthy(html:find("<h1>kombo-attach</h1>", 1, true))
    for option in usage_text():gmatch("\n  (%-%-[%w%-]+)") do
      assert.truthy(html:find(option, 1, true), option)
    end
  end)

  it("has a kombo apply page with every option", function()
    if not need_ldoc() then return end
    local html = assert(page("topics/kombo-apply.md.html"))
    assert.truthy(html:find("<h1>kombo apply</h1>", 1, true))
    for option in usage_text("lua/kombo/cli/apply.lua"):gmatch("\n  (%-%-[%w%-]+)") do
      assert.truthy(html:find(option, 1, true), option)
    end
  end)
end)
