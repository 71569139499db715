--- A local CONNECT proxy for the proxy specs (spec/support/connect_proxy.js,
--- run by node): listeners on 127.0.0.1, each open, requiring credentials,
--- or refusing every CONNECT with one status; their counts over HTTP.
local socket = require "socket"
local cjson = require "cjson"
local sys = require "support.sys"

local proxy = {}

local ROOT = assert(io.popen("pwd")):read("*l")

local Proxy = {}
Proxy.__index = Proxy

--- Starts one node process with a listener per entry of `modes`, a table
--- name -> "open" | "auth:USER:PASSWORD" | "refuse:STATUS" | "close".  Returns the
--- proxy: p.port[name], p.url(name [, "user:password"]), p:stats(name), p:stop().
--- The process ends when p:stop() closes its stdin, or after 300 s.
function proxy.start(modes)
  local self = setmetatable({ port = {} }, Proxy)
  local args = {}
  for name, mode in pairs(modes) do
    self.port[name] = sys.free_port()
    args[#args + 1] = ("'%d:%s'"):format(self.port[name], mode)
  end
  self.pipe = assert(io.popen(("timeout -k 2 300 node '%s/spec/support/connect_proxy.js' %s >/dev/null 2>&1")
    :format(ROOT, table.concat(args, " ")), "w"))
  for name, port in pairs(self.port) do
    local up = false
    for _ = 1, 100 do -- up to 10 s
      local c = socket.tcp()
      c:settimeout(0.5)
      up = c:connect("127.0.0.1", port) ~= nil
      c:close()
      if up then break end
      socket.sleep(0.1)
    end
    if not up then
      self:stop()
      error("the CONNECT proxy did not start listening (" .. name .. ")")
    end
  end
  return self
end

--- http://[credentials@]127.0.0.1:port of the listener `name`.
function Proxy:url(name, credentials)
  return ("http://%s127.0.0.1:%d"):format(credentials and (credentials .. "@") or "", self.port[name])
end

--- The listener's counts: connects, tunnels, refused, authorizations, targets.
function Proxy:stats(name)
  local c = assert(socket.tcp())
  c:settimeout(5)
  assert(c:connect("127.0.0.1", self.port[name]))
  assert(c:send("GET /_stats HTTP/1.1\r\nHost: proxy\r\n\r\n"))
  local data = c:receive("*a")
  c:close()
  return cjson.decode(assert(data:match("\r\n\r\n(.*)$")))
end

function Proxy:stop()
  if self.pipe then
    self.pipe:close() -- stdin closes: the process exits
    self.pipe = nil
  end
end

return proxy
