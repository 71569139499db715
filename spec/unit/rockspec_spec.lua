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

-- No two C files use each other's functions, directly or around a longer
-- loop: each file can be read after the ones it uses.  From the symbols
-- each object file defines and needs (nm), so a new circle fails here.
describe("the C files #unit", function()
  -- #slow: reads every C file's object, made by make when stale (make test
  -- runs it, the fast loop does not); #once: the objects of Lua 5.4's build,
  -- whatever Lua runs busted (make test: its 5.4 run).
  it("use each other's functions without a circle #slow #once", function()
    local files = lines_of("ls csrc/core/*.c csrc/gen/*.c csrc/curl/*.c csrc/lua/*.c")
    local objects = {}
    for i, path in ipairs(files) do
      local name = path:match("^csrc/(.+)%.c$")
      objects[i] = (name:match("^lua/") and "build/5.4/obj/" or "build/obj/") .. name .. ".o"
    end
    assert(os.execute("make -s -j2 LUA_VERSION=5.4 " .. table.concat(objects, " ") .. " >/dev/null"),
      "cannot make the objects")
    local defines, needs = {}, {}
    for i, path in ipairs(files) do
      local obj = objects[i]
      needs[path] = {}
      for _, l in ipairs(lines_of("nm " .. obj)) do
        local kind, sym = l:match("^%s*%x*%s+(%a)%s+(%S+)$")
        if kind == "T" or kind == "D" or kind == "R" or kind == "B" then defines[sym] = path
        elseif kind == "U" then needs[path][#needs[path] + 1] = sym end
      end
    end
    local uses = {}
    for path, syms in pairs(needs) do
      uses[path] = {}
      for _, sym in ipairs(syms) do
        local owner = defines[sym]
        if owner and owner ~= path then uses[path][owner] = true end
      end
    end
    -- Depth-first search for a back edge.
    local state, stack = {}, {}
    local function visit(path)
      state[path] = "open"
      stack[#stack + 1] = path
      for other in pairs(uses[path]) do
        if state[other] == "open" then
          local loop, on = {}, false
          for _, p in ipairs(stack) do
            if p == other then on = true end
            if on then loop[#loop + 1] = p end
          end
          loop[#loop + 1] = other
          error("C files use each other in a circle: " .. table.concat(loop, " -> "))
        elseif state[other] == nil then
          visit(other)
        end
      end
      stack[#stack] = nil
      state[path] = "done"
    end
    for _, path in ipairs(files) do
      if state[path] == nil then visit(path) end
    end
  end)
end)
