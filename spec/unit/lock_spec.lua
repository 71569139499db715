-- core.lock(path): an exclusive fcntl lock.  Another process (the Lua
-- running this spec, with its build of kombo.core) cannot take it while it
-- is held and learns the holder's pid; this process cannot take it twice.
local core = require "kombo.core"
local files = require "support.files"
local sys = require "support.sys"

local q = files.sh_quote
local ROOT = assert(io.popen("pwd")):read("*l")

local function this_lua()
  if type(jit) == "table" then return "luajit", "build/5.1" end
  local v = _VERSION:match("%d%.%d")
  return "lua" .. v, "build/" .. v
end

local function my_pid()
  return tonumber(sys.read_file("/proc/self/stat"):match("^(%d+)"))
end

-- Runs `code` in another Lua process with kombo.core loaded as `core`.
local function child_command(code)
  local lua, build = this_lua()
  local prelude = ("package.cpath = %q .. package.cpath; local core = require 'kombo.core'; ")
    :format(ROOT .. "/" .. build .. "/?.so;")
  return lua .. " -e " .. q(prelude .. code)
end

-- Another process's attempt: "ok" | "no <pid> <message>".
local function try_elsewhere(path)
  local p = assert(io.popen(child_command(
    ("local l, msg, pid = core.lock(%q); if l then io.write('ok') else io.write('no ', tostring(pid), ' ', msg) end")
      :format(path))))
  local out = p:read("*a")
  p:close()
  return out
end

describe("core.lock", function()
  local dir
  before_each(function() dir = files.tmpdir() end)
  after_each(function() files.rmtree(dir) end)

  it("creates the file and holds it: another process is refused with our pid, then can take it", function()
    local path = dir .. "/journal.lock"
    local lock = assert(core.lock(path))
    assert.is_true(lock:held())
    -- created (checked by another process: opening it here would drop the lock)
    assert.is_true(files.run("test -f " .. q(path)))
    local pid = my_pid()
    assert.equals(("no %d %s is locked by process %d"):format(pid, path, pid), try_elsewhere(path))
    lock:unlock()
    assert.is_false(lock:held())
    lock:unlock() -- idempotent
    assert.equals("ok", try_elsewhere(path))
  end)

  it("held by another process: nil, message naming its pid, the pid; ours once it let go", function()
    local path = dir .. "/held.lock"
    local ready = dir .. "/ready"
    -- The child locks, writes its pid to `ready`, and waits for a line on stdin.
    local child = assert(io.popen(child_command(([[
      local l = assert(core.lock(%q))
      local pid = io.open("/proc/self/stat"):read("*l"):match("^(%%d+)")
      local f = io.open(%q, "w"); f:write(pid); f:close()
      io.read("*l")
      l:unlock()
    ]]):format(path, ready)), "w"))
    local deadline = core.now() + 20
    while not sys.read_file(ready) or sys.read_file(ready) == "" do
      assert(core.now() < deadline, "the child never took the lock")
      core.sleep(0.02)
    end
    local child_pid = tonumber(sys.read_file(ready))
    local lock, msg, pid = core.lock(path)
    assert.is_nil(lock)
    assert.equals(child_pid, pid)
    assert.equals(path .. " is locked by process " .. child_pid, msg)
    child:write("\n")
    child:close() -- waits for it to exit
    lock = assert(core.lock(path))
    lock:unlock()
  end)

  it("refuses a second lock of the same file in this process, by any path to it", function()
    local path = dir .. "/same.lock"
    local lock = assert(core.lock(path))
    local again, msg, pid = core.lock(path)
    assert.is_nil(again)
    assert.equals(my_pid(), pid)
    assert.equals(path .. " is locked by process " .. my_pid(), msg)
    assert.is_true(files.run("ln " .. q(path) .. " " .. q(dir .. "/link.lock")))
    again = core.lock(dir .. "/link.lock") -- the same inode
    assert.is_nil(again)
    -- the refusals did not drop the real lock
    assert.truthy(try_elsewhere(path):find("^no "))
    lock:unlock()
    again = assert(core.lock(dir .. "/link.lock"))
    again:unlock()
  end)

  it("is dropped when this process closes any descriptor of the file (why only core.lock opens it)", function()
    local path = dir .. "/fragile.lock"
    local lock = assert(core.lock(path))
    assert.truthy(try_elsewhere(path):find("^no "))
    sys.read_file(path) -- io.open + close: POSIX drops the process's lock
    assert.equals("ok", try_elsewhere(path))
    lock:unlock()
  end)

  it("is released by __gc and by __close", function()
    local path = dir .. "/gc.lock"
    local lock = assert(core.lock(path)) -- luacheck: ignore
    lock = nil -- luacheck: ignore
    collectgarbage(); collectgarbage()
    assert.equals("ok", try_elsewhere(path))
    if _VERSION == "Lua 5.4" then
      local f = assert(load(([[
        local core, path = ...
        do local l <close> = assert(core.lock(path)) end
        return core.lock(path)
      ]])))
      local l2 = assert(f(core, path))
      l2:unlock()
    end
  end)

  it("says why when the file cannot be opened", function()
    local lock, msg = core.lock(dir .. "/missing/dir/x.lock")
    assert.is_nil(lock)
    assert.equals(dir .. "/missing/dir/x.lock: cannot open: No such file or directory", msg)
  end)
end)
