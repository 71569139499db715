-- Starting and stopping real nginx instances for the spec/nginx specs, and
-- small HTTP helpers (LuaSocket) to talk to them and to the stand-in.
-- Every loop is bounded; every nginx started here is stopped by stop().
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local S = {}

S.ROOT = assert(io.popen("pwd")):read("*l")
S.NGINX = (os.getenv("NGINX") ~= nil and os.getenv("NGINX") ~= "") and os.getenv("NGINX") or "/usr/sbin/nginx"

local sys = require "support.sys"
local sh, read_file, write_file = sys.sh, sys.read_file, sys.write_file
S.sh, S.read_file, S.write_file = sh, read_file, write_file
S.free_port = sys.free_port


function S.sleep(s) socket.sleep(s) end
S.now = socket.gettime

function S.is_root()
  return (assert(io.popen("id -u")):read("*l")) == "0"
end

--- A name no other process uses: the time in ms and random bytes (the
--- suite runs several busted processes side by side; math.random is not
--- seeded on Lua 5.1-5.3).
function S.unique()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(4) or tostring(math.random(1, 1e9))
  if f then f:close() end
  return ("%d-%s"):format(math.floor(socket.gettime() * 1000) % 100000000,
    (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)))
end

--- A fresh runtime dir under .tmp.
function S.tmpdir(name)
  local dir = ("%s/.tmp/%s-%s"):format(S.ROOT, name, S.unique())
  assert(sh(("mkdir -p '%s/tmp/client_body' '%s/tmp/proxy' '%s/tmp/fastcgi' '%s/tmp/uwsgi' '%s/tmp/scgi'")
    :format(dir, dir, dir, dir, dir)))
  return dir
end

-- Plain HTTP request with LuaSocket: returns status, body (string), headers.
function S.request(method, url, body, headers, timeout)
  local chunks = {}
  headers = headers or {}
  if body then
    headers["content-length"] = tostring(#body)
    headers["content-type"] = headers["content-type"] or "application/json"
  end
  http.TIMEOUT = timeout or 30
  local _, status, h = http.request{
    url = url, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  }
  return status, table.concat(chunks), h
end

function S.json(method, url, t, timeout)
  local status, body = S.request(method, url, t and cjson.encode(t) or nil, nil, timeout)
  local ok, decoded = pcall(cjson.decode, body)
  assert(status == 200 and ok, ("%s %s -> %s %s"):format(method, url, tostring(status), tostring(body):sub(1, 500)))
  return decoded
end

-- One GET over a new TCP connection, timed: returns seconds, status line, body.
function S.timed_get(host, port, path)
  local t0 = socket.gettime()
  local c = assert(socket.tcp())
  c:settimeout(5)
  assert(c:connect(host, port))
  assert(c:send("GET " .. path .. " HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n"))
  local data, err, partial = c:receive("*a")
  c:close()
  local dt = socket.gettime() - t0
  data = data or partial or ""
  return dt, data:match("^[^\r\n]*"), data:match("\r\n\r\n(.*)$"), err
end

---------------------------------------------------------------- the stand-in

-- Uses KOMBO_TEST_STANDIN_URL (scripts/test starts it); otherwise starts a
-- private one, stopped by S.stop_standin().
function S.standin()
  local url = os.getenv("KOMBO_TEST_STANDIN_URL")
  if url and url ~= "" then return url end
  if not S.own_standin then
    S.own_standin = S.ROOT .. "/.tmp/standin-nginx-spec"
    local p = assert(io.popen(("'%s/scripts/standin' start '%s'"):format(S.ROOT, S.own_standin)))
    S.own_standin_url = p:read("*l")
    p:close()
    assert(S.own_standin_url and S.own_standin_url:match("^http"), "could not start the stand-in")
  end
  return S.own_standin_url
end

function S.stop_standin()
  if S.own_standin then
    sh(("'%s/scripts/standin' stop '%s' >/dev/null 2>&1"):format(S.ROOT, S.own_standin))
    S.own_standin, S.own_standin_url = nil, nil
  end
end

--- The stand-in's current last sequence number.
function S.standin_seq(base)
  local list = S.json("GET", base .. "/_requests?since=" .. (S.last_seq or 0))
  local seq = S.last_seq or 0
  for _, r in ipairs(list) do if r.seq > seq then seq = r.seq end end
  S.last_seq = seq
  return seq
end

--- Records since `seq` whose X-Integration-Id is `integration`.
function S.standin_records(base, seq, integration)
  local out = {}
  for _, r in ipairs(S.json("GET", base .. "/_requests?since=" .. seq)) do
    if r.headers and r.headers["x-integration-id"] == integration then out[#out + 1] = r end
  end
  return out
end

---------------------------------------------------------------- nginx

local function pid_of(dir)
  local s = read_file(dir .. "/nginx.pid")
  return s and tonumber(s:match("%d+"))
end

local function alive(pid)
  return pid and sh(("kill -0 %d 2>/dev/null"):format(pid))
end

--- Starts nginx with conf (already rendered) in dir; waits until
-- `health_url` answers.  Returns an instance table for stop().
function S.start_nginx(dir, conf, health_url, extra_args, env)
  local log = dir .. "/start.log"
  local cmd = ("%s '%s' -p '%s/' -c '%s' -e '%s/error.log' %s >'%s' 2>&1")
    :format(env or "", S.NGINX, dir, conf, dir, extra_args or "", log)
  local inst = { dir = dir, conf = conf }
  if not sh(cmd) then
    error("nginx did not start: " .. tostring(read_file(log)) .. "\n" .. tostring(read_file(dir .. "/error.log")))
  end
  inst.pid = pid_of(dir)
  for _ = 1, 100 do -- up to 10 s
    local status = S.request("GET", health_url, nil, nil, 1)
    if status == 200 then return inst end
    S.sleep(0.1)
  end
  S.stop_nginx(inst)
  error("nginx started but " .. health_url .. " did not answer; error.log:\n" .. tostring(read_file(dir .. "/error.log")))
end

--- Stops an instance: QUIT, then TERM, then KILL (master and workers, by pid).
function S.stop_nginx(inst)
  if not inst then return end
  local pid = inst.pid or pid_of(inst.dir)
  if not pid then return end
  local workers = {}
  local p = io.popen(("pgrep -P %d 2>/dev/null"):format(pid))
  if p then
    for line in p:lines() do workers[#workers + 1] = tonumber(line) end
    p:close()
  end
  sh(("kill -QUIT %d 2>/dev/null"):format(pid))
  for _, sig in ipairs{ "QUIT", "TERM", "KILL" } do
    if sig ~= "QUIT" then sh(("kill -%s %d 2>/dev/null"):format(sig, pid)) end
    for _ = 1, 40 do -- up to 4 s per signal
      if not alive(pid) then break end
      S.sleep(0.1)
    end
    if not alive(pid) then break end
  end
  for _, w in ipairs(workers) do
    if alive(w) then sh(("kill -KILL %d 2>/dev/null"):format(w)) end
  end
  inst.pid = nil
  -- runtime dir (logs, certs) removed unless KOMBO_TEST_KEEP_NGINX=1
  if inst.dir and inst.dir:find("/.tmp/", 1, true) and os.getenv("KOMBO_TEST_KEEP_NGINX") ~= "1" then
    sh(("rm -rf '%s'"):format(inst.dir))
  end
end

--- Test CA, a server certificate for 127.0.0.1 and an untrusted one, in dir/certs.
function S.make_certs(dir)
  local c = dir .. "/certs"
  local cmds = {
    ("mkdir -p '%s'"):format(c),
    ("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=kombo-lua test CA' " ..
      "-keyout '%s/ca.key' -out '%s/ca.pem'"):format(c, c),
    ("openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout '%s/server.key' -out '%s/server.csr'"):format(c, c),
    ("openssl x509 -req -in '%s/server.csr' -CA '%s/ca.pem' -CAkey '%s/ca.key' -CAcreateserial -days 2 " ..
      "-extfile '%s/ext.cnf' -out '%s/server.pem'"):format(c, c, c, c, c),
    ("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=127.0.0.1' " ..
      "-addext 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1' -keyout '%s/untrusted.key' -out '%s/untrusted.pem'"):format(c, c),
  }
  for i, cmd in ipairs(cmds) do
    assert(sh(cmd .. " >/dev/null 2>&1"), "failed: " .. cmd)
    if i == 1 then -- the SAN extension file, written directly (a redirect in cmds would be overridden)
      write_file(c .. "/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n")
    end
  end
  return c
end

--- Renders spec/nginx/app.conf.in and starts the test app.  `main`: extra
--- main-context directives (e.g. "env https_proxy;"); `env`: a shell prefix
--- setting variables for nginx ("https_proxy='http://...'").
function S.start_app(standin, main, env)
  local dir = S.tmpdir("nginx-app")
  S.make_certs(dir)
  local ports = { PORT = S.free_port(), TLS_PORT = S.free_port(), BADTLS_PORT = S.free_port() }
  local tpl = assert(read_file(S.ROOT .. "/spec/nginx/app.conf.in"))
  local subst = {
    PORT = ports.PORT, TLS_PORT = ports.TLS_PORT, BADTLS_PORT = ports.BADTLS_PORT,
    PREFIX = dir, ROOT = S.ROOT, STANDIN = standin,
    USER_DIRECTIVE = S.is_root() and "user root root;" or "",
  }
  local conf = tpl:gsub("@([A-Z_]+)@", function(k) return subst[k] and tostring(subst[k]) end)
  if main then -- main context: before the events block (other specs render the template too: no placeholder)
    conf = conf:gsub("\nevents {", function() return "\n" .. main .. "\nevents {" end, 1)
  end
  write_file(dir .. "/nginx.conf", conf)
  local inst = S.start_nginx(dir, dir .. "/nginx.conf", ("http://127.0.0.1:%d/ping"):format(ports.PORT), nil, env)
  inst.port, inst.tls_port, inst.badtls_port = ports.PORT, ports.TLS_PORT, ports.BADTLS_PORT
  inst.url = "http://127.0.0.1:" .. ports.PORT
  return inst
end

--- kombo.core for Lua 5.1 (what nginx's LuaJIT loads) must exist.
function S.ensure_lib51()
  if not read_file(S.ROOT .. "/build/5.1/kombo/core.so") then
    assert(sh(("make -s -C '%s' lib LUA_VERSION=5.1 >/dev/null"):format(S.ROOT)), "make lib LUA_VERSION=5.1 failed")
  end
end

function S.error_log(inst)
  return read_file(inst.dir .. "/error.log") or ""
end

-- The stand-in and the test app in front of it, for a describe block's
-- setup; the stand-in is stopped again when the app cannot start.
function S.standin_and_app()
  local standin = S.standin()
  local ok, inst = pcall(S.start_app, standin)
  if not ok then S.stop_standin(); error(inst, 0) end
  return standin, inst
end

-- A spec file's integration ids: ids(name) -> "<prefix>-<name>-<run>-<n>",
-- a new one each time (the stand-in's records are kept across runs).
function S.integration_ids(prefix)
  local run_id = ("%d"):format(math.floor(S.now() * 1000) % 1000000000)
  local n = 0
  return function(name)
    n = n + 1
    return ("%s-%s-%s-%d"):format(prefix, name, run_id, n)
  end
end

function S.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- The stand-in's records of the requests of one integration.
function S.requests_of(standin, integ)
  return S.json("GET", standin .. "/_requests?integration=" .. S.urlencode(integ))
end

S.cjson = cjson
return S
