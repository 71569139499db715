--- Small process and file helpers shared by the spec harness (all Lua versions).
local socket = require "socket"

local sys = {}

--- Runs a shell command; true when it exited 0.
function sys.sh(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1
  return ok == true and how == "exit" and code == 0
end

--- The whole file, or nil when it cannot be opened.
function sys.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function sys.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

--- A TCP port on 127.0.0.1 where nothing listens (bound to port 0, read,
--- closed): free to listen on, and refused when connected to.
function sys.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

--- Marks a field to remove from a default table in sys.merge.
sys.NONE = setmetatable({}, { __tostring = function() return "<none>" end })

--- A copy of base with over's fields applied (sys.NONE removes one).
function sys.merge(base, over)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(over or {}) do
    if v == sys.NONE then t[k] = nil else t[k] = v end
  end
  return t
end

--- The interpreter running the specs and the build of kombo.core for it
--- ("lua5.4", "build/5.4"; "luajit", "build/5.1").
function sys.this_lua()
  if type(jit) == "table" then return "luajit", "build/5.1" end
  local v = _VERSION:match("%d%.%d")
  return "lua" .. v, "build/" .. v
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Runs the Lua chunk `script` in a child process (this interpreter, this
--- build of kombo.core, lua/ and spec/ on the path, the parent's
--- environment) under timeout(1): a child still running after `seconds`
--- (servers-style bound: relaxed under valgrind) gets SIGTERM, then SIGKILL
--- 3 s later.  For what would hang the suite if it regressed.  Returns the
--- child's exit status (124 or 137: it was stopped) and its stdout+stderr.
--- `env`: variables for the child, as a shell prefix ("https_proxy='...'").
function sys.run_lua(script, args, seconds, env)
  local lua, build = sys.this_lua()
  if os.getenv("KOMBO_TEST_UNDER_VALGRIND") == "1" then seconds = seconds * 10 + 5 end
  local path = os.tmpname()
  sys.write_file(path, script)
  local quoted = {}
  for i, a in ipairs(args or {}) do quoted[i] = sh_quote(a) end
  local cmd = ("%s LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='%s/?.so;;' timeout -k 3 %d %s %s %s"
    .. " </dev/null 2>&1; echo \"exit:$?\""):format(env or "", build, seconds, lua, path, table.concat(quoted, " "))
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local rc = tonumber(out:match("exit:(%d+)%s*$"))
  return rc, (out:gsub("exit:%d+%s*$", ""))
end

return sys
