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

return sys
