-- bin/kombo-attach from a checkout (issue 18, finding 14): it runs as
-- `bin/kombo-attach` (#!/usr/bin/env lua5.4) or `<lua> bin/kombo-attach`,
-- with no LUA_PATH or LUA_CPATH, from any directory, loading this
-- checkout's lua/ and build/<its Lua>/; a missing build is named.
local files = require "support.files"

local q = files.sh_quote
local ROOT = assert(io.popen("pwd")):read("*l")

local function this_lua()
  if type(jit) == "table" then return "luajit" end
  return "lua" .. _VERSION:match("%d%.%d")
end

local function run(cmd, cwd)
  local p = assert(io.popen(("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT "
    .. "-u LUA_PATH_5_3 -u LUA_CPATH_5_3 %s 2>&1; echo \"rc=$?\""):format(q(cwd), cmd)))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("rc=(%d+)%s*$")), out
end

describe("bin/kombo-attach from a checkout", function()
  it("runs with the Lua of the suite, without LUA_PATH/LUA_CPATH, from the root and from elsewhere", function()
    local rc, out = run(this_lua() .. " bin/kombo-attach --version", ROOT)
    assert.equals(0, rc, out)
    assert.matches("^kombo%-attach %(kombo%-lua%) %d", out)
    rc, out = run(this_lua() .. " " .. q(ROOT .. "/bin/kombo-attach") .. " --version", "/")
    assert.equals(0, rc, out)
    rc, out = run(this_lua() .. " ./kombo-attach --version", ROOT .. "/bin")
    assert.equals(0, rc, out)
  end)

  it("runs as a command: its #! line names lua5.4, not whatever `lua` is", function()
    local f = assert(io.open(ROOT .. "/bin/kombo-attach"))
    assert.equals("#!/usr/bin/env lua5.4", f:read("*l"))
    f:close()
    local probe = io.open(ROOT .. "/build/5.4/kombo/core.so")
    if not probe then return pending("no build/5.4 in this run") end
    probe:close()
    local rc, out = run("bin/kombo-attach --version", ROOT)
    assert.equals(0, rc, out)
    assert.matches("^kombo%-attach %(kombo%-lua%) %d", out)
  end)

  it("names the make command when the checkout has no build for its Lua", function()
    local dir = files.tmpdir()
    assert(files.run(("ln -s %s %s && ln -s %s %s"):format(q(ROOT .. "/lua"), q(dir .. "/lua"),
      q(ROOT .. "/bin"), q(dir .. "/bin"))))
    local rc, out = run(this_lua() .. " bin/kombo-attach --version", dir)
    files.rmtree(dir)
    assert.equals(2, rc, out)
    local v = type(jit) == "table" and "5.1" or _VERSION:match("%d%.%d")
    assert.matches("build/" .. v:gsub("%.", "%%.") .. "/kombo/core%.so is missing", out)
    assert.matches("make lib LUA_VERSION=" .. v:gsub("%.", "%%."), out)
  end)
end)
