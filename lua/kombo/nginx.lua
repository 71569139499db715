-- kombo.nginx: whether this Lua runs inside nginx's Lua module (OpenResty),
-- in which phase, and so which transport a call takes there: cosockets in
-- a phase that has them (lua/kombo/cosocket.lua), libcurl outside nginx.
--
-- A module of its own, and small, because every client asks these
-- questions and only code inside nginx needs the transport itself: a
-- script, a cron job or the command line never loads (parses) the
-- transport.  kombo.call loads it with itself inside nginx, and outside
-- nginx only if `ngx` appears later and a call takes it.
local type, rawget, tostring = type, rawget, tostring

local M = {}

-- Phases with cosockets (ngx.get_phase() names).
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
  preread = true,
}
M.COSOCKET_PHASES = COSOCKET_PHASES

--- nginx's `ngx` table when running inside nginx's Lua module, else nil.
local function ngx_table()
  local n = rawget(_G, "ngx")
  if n ~= nil and type(n) == "table" and type(n.get_phase) == "function"
     and type(n.socket) == "table" and type(n.socket.tcp) == "function" then
    return n
  end
  return nil
end
M.ngx_table = ngx_table

--- True when running inside nginx's Lua module (in any phase).
function M.in_nginx()
  return ngx_table() ~= nil
end

--- The current nginx phase, or nil outside nginx.
function M.phase()
  local n = ngx_table()
  return n and n.get_phase() or nil
end

--- True when cosockets can be used right now.
function M.available()
  local n = ngx_table()
  return n ~= nil and COSOCKET_PHASES[n.get_phase()] == true
end

local function phase_error(phase)
  return ("kombo: cannot upload in nginx's '%s' phase: cosockets are not available there, "
    .. "and a blocking libcurl call would freeze the whole nginx worker; run the upload "
    .. "from a timer instead (ngx.timer.at(0, function(premature) ... end)) or from "
    .. "content_by_lua*, access_by_lua* or rewrite_by_lua*"):format(tostring(phase))
end

--- A function that returns module `name`, required once: inside nginx now
-- (by init_by_lua, before the workers fork: no request parses it), outside
-- nginx by the function's first call (a program that never needs the module
-- never parses it).
function M.loader(name)
  local module = ngx_table() ~= nil and require(name) or nil
  return function()
    if module == nil then module = require(name) end
    return module
  end
end

--- Which transport a call made now uses for the `transport` option
-- ("auto" | "curl" | "cosocket").  Returns "curl" or "cosocket", or nil and
-- a message when cosockets are required but unavailable (the caller raises).
function M.select(mode)
  mode = mode or "auto"
  if mode == "curl" then return "curl" end
  local n = ngx_table()
  if not n then
    if mode == "cosocket" then
      return nil, "kombo: transport \"cosocket\" needs nginx's Lua module (OpenResty); "
        .. "ngx.socket.tcp is not available here"
    end
    return "curl"
  end
  local phase = n.get_phase()
  if COSOCKET_PHASES[phase] then return "cosocket" end
  return nil, phase_error(phase)
end

return M
