-- The rockspec installs what the code needs: every Lua module under
-- lua/kombo/ and every C source the Makefile builds kombo.core from (a
-- module missing from the rock works in a checkout and fails once installed).
local function rockspec()
  local env = {}
  local chunk = assert(loadfile("kombo-0.1.0-1.rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end -- luacheck: ignore 143 (Lua 5.1)
  chunk()
  return env
end

local function lines_of(cmd)
  local out = {}
  local p = assert(io.popen(cmd))
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

describe("the rockspec #unit", function()
  local spec = rockspec()

  it("lists every Lua module under lua/kombo/", function()
    local listed = {}
    for _, path in pairs(spec.build.modules) do
      if type(path) == "string" then listed[path] = true end
    end
    for _, path in ipairs(lines_of("find lua/kombo -name '*.lua' | sort")) do
      assert.truthy(listed[path], path .. " is not in the rockspec's build.modules")
    end
  end)

  it("builds kombo.core from the Makefile's sources", function()
    local sources = {}
    for _, path in ipairs(spec.build.modules["kombo.core"].sources) do sources[path] = true end
    local mk = assert(io.open("Makefile")):read("*a")
    local lua_src = mk:match("\nLUA_SRC%s*:=([^\n]*\\?\n?[^\n]*)")
    local core_src = mk:match("\nCORE_SRC%s*:=([^\n]*\\\n[^\n]*)")
    local wanted = 0
    for path in ((core_src or "") .. " " .. (lua_src or "")):gmatch("csrc/[%w_]+%.c") do
      wanted = wanted + 1
      assert.truthy(sources[path], path .. " is built by the Makefile but not by the rockspec")
    end
    assert.truthy(wanted > 10)
    for path in pairs(sources) do
      assert.truthy(mk:find(path, 1, true), path .. " is in the rockspec but not in the Makefile")
    end
  end)
end)
