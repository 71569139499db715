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

  -- One source list: the folders.  The Makefile derives its lists from
  -- them with wildcards; the rockspec cannot, so it names every file.
  it("builds kombo.core from every C file of csrc/core, gen, curl and lua, as the Makefile does", function()
    local listed, n = {}, 0
    for _, path in ipairs(spec.build.modules["kombo.core"].sources) do
      assert.falsy(listed[path], path .. " is listed twice")
      listed[path] = true
      n = n + 1
    end
    local on_disk = lines_of("ls csrc/core/*.c csrc/gen/*.c csrc/curl/*.c csrc/lua/*.c | sort")
    assert.truthy(#on_disk > 10)
    for _, path in ipairs(on_disk) do
      assert.truthy(listed[path], path .. " is in a source folder but not in the rockspec")
    end
    assert.equal(#on_disk, n, "the rockspec lists a file that is not in a source folder")
    local mk = assert(io.open("Makefile")):read("*a")
    for _, dir in ipairs({ "core", "gen", "curl", "lua" }) do
      assert.truthy(mk:find("$(wildcard csrc/" .. dir .. "/*.c)", 1, true),
        "the Makefile does not build from csrc/" .. dir)
    end
    assert.falsy(mk:find("csrc/[%w_]+%.c"), "the Makefile names a C file by hand")
  end)

  -- The layers: the core includes nothing of the transports or the binding;
  -- the transports nothing of the binding; generated code only the core.
  it("keeps the layers: no include reaches up or sideways", function()
    local allowed = {
      core = { core = true },
      gen = { core = true, gen = true },
      curl = { core = true, curl = true },
      lua = { core = true, curl = true, lua = true, gen = true },
    }
    for dir, may in pairs(allowed) do
      for _, path in ipairs(lines_of("ls csrc/" .. dir .. "/*.c csrc/" .. dir .. "/*.h 2>/dev/null")) do
        for inc in assert(io.open(path)):read("*a"):gmatch('#include "([^"]+)"') do
          local layer = inc:match("^(%w+)/") or dir
          assert.truthy(may[layer], path .. " includes " .. inc)
        end
      end
    end
  end)
end)
