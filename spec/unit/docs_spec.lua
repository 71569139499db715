-- The reference stays complete: every public name of the `kombo` module and
-- every function of a client's metatable (the operation methods made in a
-- loop from core.operations included) has an LDoc comment, and the LuaLS
-- definitions file (lua/kombo/types.lua) declares every one of them.
--
-- The names come from the live objects, not from a list, so a new
-- operation in csrc/operations.c or a new module function fails here until
-- it is documented.  Two views of "documented": LDoc's own (its parsed
-- items, `ldoc --filter pl.pretty.dump`, when ldoc is installed) and a scan
-- of lua/kombo/init.lua's `---` blocks by the same rules (always).
local kombo = require "kombo"
local helpers = require "unit.helpers"

local INIT = "lua/kombo/init.lua"
local TYPES = "lua/kombo/types.lua"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
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

-- LDoc's rules, for init.lua: a doc block starts with a line of three
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

-- LDoc's view: the items it parsed from config.ld's files, { [name] = summary }.
local function ldoc_items()
  local p = assert(io.popen("ldoc --filter pl.pretty.dump . 2>&1"))
  local out = p:read("*a")
  p:close()
  local text = out:match("^[^{]*({.*})%s*$")
  assert(text, "ldoc printed no module table:\n" .. out)
  local chunk = assert((loadstring or load)("return " .. text))
  local items = {}
  for _, module in ipairs(chunk()) do
    for _, item in ipairs(module.items) do items[item.name] = item.summary end
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

  it("has a doc comment for every public name in lua/kombo/init.lua", function()
    assert.same({}, missing(want, scanned_blocks(read(INIT))))
  end)

  it("has an LDoc item with a summary for every public name (ldoc's own parse of config.ld)", function()
    if not ldoc_available() then
      pending("ldoc is not installed (apt-get install lua-ldoc lua-markdown)")
      return
    end
    assert.same({}, missing(want, ldoc_items()))
  end)

  it("the scan fails when a doc comment is missing", function()
    local src = read(INIT):gsub("%-%-%- Frees the connection", "-- Frees the connection", 1)
    assert.same({ "Client:close" }, missing(want, scanned_blocks(src)))
    src = read(INIT):gsub("%-%- @function Client:check_api_key\n", "", 1)
    assert.same({ "Client:check_api_key" }, missing(want, scanned_blocks(src)))
  end)
end)

describe("the editor types (lua/kombo/types.lua)", function()
  local src = read(TYPES)

  it("is a LuaLS definitions file for require 'kombo'", function()
    assert.truthy(src:find("^%-%-%-@meta kombo\n"))
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

  it("declares every client option and retry option that kombo.new accepts", function()
    local function class_fields(class)
      local body = src:match("\n%-%-%-@class " .. class:gsub("%.", "%%.") .. "\n(.-)\n\n")
      local fields = {}
      for f in (body or ""):gmatch("%-%-%-@field ([%w_]+)") do fields[#fields + 1] = f end
      table.sort(fields)
      return fields
    end
    local options = class_fields("kombo.ClientOptions")
    assert.same({ "api_key", "ca_file", "connect_timeout", "debug", "integration_id", "max_response_bytes",
      "preflight", "preflight_ttl", "retries", "server", "server_url", "timeout", "transport", "user_agent" }, options)
    local thread = coroutine.create(function() end) -- a type no option takes
    for _, name in ipairs(options) do -- each is a real option: a wrong type is named, not "unknown"
      local ok, err = pcall(kombo.new, { api_key = helpers.API_KEY, [name] = thread })
      assert.is_false(ok)
      assert.matches("option '" .. name .. "' must be a", err, 1, true)
    end
    assert.same({ "exponent", "initial_interval", "max_attempts", "max_elapsed", "max_interval", "retry_unsafe" },
      class_fields("kombo.RetryOptions"))
  end)
end)
