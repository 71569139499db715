--- kombo.cosocket: the OpenResty transport.
--
-- Drives a prepared call (kombo.core's sans-I/O state machine) over nginx
-- cosockets, so that an upload from a request handler or a timer never
-- blocks the nginx worker.  The C core still does everything except moving
-- bytes: validation, URL and headers, the body writer, classification,
-- retries and error objects.  This file only
--   * writes "<method> <path> HTTP/1.1" (POST unless call:request() says GET)
--     + the call's headers + the body,
--   * reads the answer (Content-Length, chunked, or until close),
--   * reports what happened (status, raw header block, body, or a transport
--     error with the phase it happened in) through call:complete(),
--   * sleeps with ngx.sleep() between attempts.
--
-- Phases.  Cosockets exist in rewrite, access, content, timer (ngx.timer.at
-- callbacks, and ngx.thread threads spawned from those) and the ssl_cert /
-- ssl_session_fetch / ssl_client_hello phases (and stream's preread).  In
-- every other phase (init, init_worker, set, header_filter, body_filter, log,
-- balancer, exit_worker, ...) an upload RAISES a Lua error naming the phase
-- and suggesting ngx.timer.at: that is a programming error, not something a
-- retry could fix, and the alternative (a blocking libcurl call) would freeze
-- the worker.  Creating a client is fine in any phase.
--
-- TLS.  sslhandshake() runs with verification on and SNI set to the URL's
-- host.  Inside nginx, the trusted CAs are those of the
-- `lua_ssl_trusted_certificate` directive (and the chain depth is limited
-- by `lua_ssl_verify_depth`, default 1: set it to 3 or more).  The client
-- option `ca_file` cannot be loaded into a cosocket by this module (nginx's
-- Lua module takes CAs only from that directive): when it is set, add the
-- same bundle to lua_ssl_trusted_certificate; a verification failure then
-- says so in the error message, and a warning is logged once per worker.
--
-- Proxies.  Through an HTTP proxy (the client's `proxy` option, or with
-- none given the environment's https_proxy / all_proxy / no_proxy, as
-- libcurl reads them: lua/kombo/client.lua's PROXY_VARIABLES; a worker
-- sees a variable only when nginx.conf passes it with the `env`
-- directive, and reads them once, at its first call that looks for a
-- proxy: a worker's environment is fixed when nginx starts it) every call
-- goes in a tunnel: on a new connection to the
-- proxy, "CONNECT host:port HTTP/1.1" (with Proxy-Authorization when the
-- proxy URL has credentials), the proxy's answer read, then the TLS
-- handshake with the server on the same socket.  A proxy that answers
-- CONNECT with anything but 2xx ends the attempt before anything was sent
-- (outcome not_sent), in the core's words (core.proxy_refusal).
--
-- Keepalive.  After a complete answer without `Connection: close`, the
-- connection goes back to nginx's per-worker pool with
-- setkeepalive(M.keepalive_timeout, M.pool_size).  Pools are named
-- "kombo:<host>:<port>:tls|plain", and through a proxy
-- "...:via:<proxy host>:<port>[:<digest of its credentials>]", so that a
-- tunnel is reused only for the same server, proxy and credentials.  nginx closes a pooled connection as
-- soon as the server closes it while idle, so a dead one is rarely handed
-- out.  When one is and writing the request fails before all of it went
-- out, the attempt is made again, once, on a fresh connection, within the
-- same `timeout`.  Once the whole request has been written it is never sent
-- again automatically (the outcome rule): a pooled connection that then
-- ends without an answer is outcome "unknown", and the message says how to
-- check (attachment_exists).  A replay never reports less than the first
-- try did: when the fresh try cannot even connect, or the body cannot be
-- read a second time, the first try's result stands.
--
-- Structure.  One attempt is a per-attempt state table `st` (like
-- lua-resty-http's `self`) handed to module-level functions, one per step:
-- connect, handshake, send_request, receive_status, receive_head,
-- receive_body, finish.  No closure is created per call or per attempt
-- (LuaJIT cannot compile the creation of one).  A step returns nil to go
-- on, or the finished (failed) response.  The response (call:complete's
-- phase, status, headers, body, error, message, timing) is `st` itself:
-- one table per attempt, not two.
local core = require "kombo.core"
local trace = require "kombo.trace"
local where = require "kombo.nginx"   -- inside nginx? which phase? which transport?
local client = require "kombo.client" -- PROXY_VARIABLES

local type, tostring, tonumber, rawget, setmetatable, ipairs, pairs =
  type, tostring, tonumber, rawget, setmetatable, ipairs, pairs
local str_gmatch = string.gmatch
local str_find, str_match, str_sub, str_lower, str_format, str_byte =
  string.find, string.match, string.sub, string.lower, string.format, string.byte
local tbl_concat = table.concat
local floor, min = math.floor, math.min
-- core.now() (monotonic seconds, wall seconds) without a Lua C API call,
-- which a LuaJIT trace cannot compile through: the core's clocks
-- (csrc/core/clock.c: CLOCK_MONOTONIC and CLOCK_REALTIME, tv_sec +
-- tv_nsec / 1e9 as doubles) read the same way through LuaJIT's FFI.
-- core.now itself without the FFI or outside 64-bit Linux.  mono_now:
-- the monotonic clock only (the deadlines need no wall time).
local now, mono_now = core.now, core.now
do
  local has_ffi, ffi = pcall(require, "ffi")
  if has_ffi and ffi.os == "Linux" and ffi.abi("64bit") then
    if not pcall(ffi.typeof, "kombo_cosocket_timespec") then
      ffi.cdef [[
        typedef struct { long tv_sec; long tv_nsec; } kombo_cosocket_timespec;
        int kombo_cosocket_clock_gettime(int clock, kombo_cosocket_timespec *ts) __asm__("clock_gettime");
      ]]
    end
    local C, ts, to_number = ffi.C, ffi.new("kombo_cosocket_timespec"), tonumber
    local MONOTONIC, REALTIME = 1, 0 -- Linux's clock ids
    mono_now = function()
      C.kombo_cosocket_clock_gettime(MONOTONIC, ts)
      return to_number(ts.tv_sec) + to_number(ts.tv_nsec) / 1e9
    end
    now = function()
      local mono = mono_now()
      C.kombo_cosocket_clock_gettime(REALTIME, ts)
      return mono, to_number(ts.tv_sec) + to_number(ts.tv_nsec) / 1e9
    end
  end
end

-- call:report(), call:next(), call:request_head() and call:read() through
-- LuaJIT's FFI: a classic Lua C function is a trace exit for LuaJIT, a
-- call through the FFI is compiled into the trace.  The C functions
-- (lua_call.c, cosocket_ffi) are what those methods do, without the Lua C
-- API; they never call back into Lua (the read declines, and the classic
-- call is made, when the body could: a source function, on_progress,
-- on_written).  Their addresses are a
-- light userdata in the call metatable's `cosocket_ffi`: only a userdata
-- with that metatable (a call the core made) takes this way, so the
-- pointer handed over is a call's.  nil without the FFI.
local call_ffi -- call -> the functions, or nil (a stand-in, no FFI)
local ffi_delay, ffi_timing, ffi_out, ffi_last -- double[1], double[4], double[5], int[1]
local ffi_string, ffi_copy, ffi_buf, FFI_BUF_SIZE -- the buffer request_head and read write into
do
  local has_ffi, ffi = pcall(require, "ffi")
  if has_ffi then
    if not pcall(ffi.typeof, "kombo_cosocket_ffi") then
      ffi.cdef [[
        typedef struct {
          int (*report)(void *call, int phase, double status, const char *headers, size_t headers_len,
                        const char *body, size_t body_len, int error, const char *message, double now,
                        double wall_now, const double *timing, double *delay);
          int (*next)(void *call, double now, double *delay);
          int (*request_head)(void *call, char *buf, size_t cap, double *out);
          int (*read)(void *call, char *buf, size_t max, int *last);
        } kombo_cosocket_ffi;
      ]]
    end
    local ptr_t = ffi.typeof("const kombo_cosocket_ffi *")
    ffi_delay, ffi_timing, ffi_out, ffi_last = ffi.new("double[1]"), ffi.new("double[4]"), ffi.new("double[5]"),
      ffi.new("int[1]")
    -- (a worker's uploads share it: what is written there is copied into a
    -- Lua string before anything can yield)
    FFI_BUF_SIZE = 65536
    ffi_string, ffi_copy, ffi_buf = ffi.string, ffi.copy, ffi.new("char[?]", FFI_BUF_SIZE)
    local known_mt, known = nil, nil
    call_ffi = function(call)
      if type(call) ~= "userdata" then return nil end
      local mt = getmetatable(call)
      if mt == known_mt and mt ~= nil then return known end
      local p = type(mt) == "table" and rawget(mt, "cosocket_ffi") or nil
      if type(p) ~= "userdata" then return nil end
      known_mt, known = mt, ffi.cast(ptr_t, p)
      return known
    end
  end
end
-- call:report's codes (csrc/core/kombo.h: kombo_phase, kombo_transport_error, kombo_step)
local PHASE_CODE = { connect = 0, sending = 1, waiting = 2, receiving = 3, done = 4 }
local ERROR_CODE = { network = 1, timeout = 2, too_large = 3, aborted = 4, resources = 5, headers = 6 }
local STEP_NAME = { [0] = "send", "sleep", "done" }

-- nginx's functions, cached once (nil outside nginx; bound in perform()
-- when the module was loaded before `ngx` existed).
local ngx_tcp, ngx_sleep, ngx_log, ngx_WARN, ngx_get_phase
local function bind_ngx(n)
  ngx_tcp, ngx_sleep, ngx_log, ngx_WARN, ngx_get_phase = n.socket.tcp, n.sleep, n.log, n.WARN, n.get_phase
end

local M = {
  keepalive_timeout = 60000, -- ms a pooled connection may stay idle
  pool_size = 32,            -- connections kept per pool (per worker)
  send_batch = 65536,        -- body bytes handed to sock:send at once
  -- status line + header block (each 1xx block, and all of them together):
  -- the core's limit, the one the libcurl transport applies
  max_header_bytes = core.MAX_HEADER_BYTES,
  early_answer_wait = 1,     -- s: how long to look for an answer after a failed write
  -- s of encoding and sending after which an upload yields, so that other
  -- requests are served; false: only when the socket blocks
  yield_after = 0.002,
  -- how: ngx.sleep(yield_sleep).  Not 0: without OpenResty's "delayed
  -- events" patch (Debian's nginx) a 0 s timer runs again in the same pass
  -- over the timers, before any socket event (and logs a warning each time)
  yield_sleep = 0.001,
}

-- Where this runs (lua/kombo/nginx.lua: the one owner of these answers),
-- also on this module for code that asked it before.
local COSOCKET_PHASES, ngx_table = where.COSOCKET_PHASES, where.ngx_table
M.COSOCKET_PHASES, M.in_nginx, M.phase, M.available, M.select =
  COSOCKET_PHASES, where.in_nginx, where.phase, where.available, where.select

do
  local n = ngx_table()
  if n then bind_ngx(n) end
end

---------------------------------------------------------------- URL

local function parse_url(url)
  local scheme, rest = str_match(url, "^(https?)://(.*)$")
  if not scheme then return nil, "unsupported URL (http or https expected)" end
  local authority, path = str_match(rest, "^([^/]*)(.*)$")
  if path == "" then path = "/" end
  local host, port
  if str_sub(authority, 1, 1) == "[" then
    host, port = str_match(authority, "^(%[[^%]]+%]):?(%d*)$")
  else
    host, port = str_match(authority, "^([^:@]+):?(%d*)$")
  end
  if not host or host == "" then return nil, "URL has no usable host" end
  local tls = scheme == "https"
  port = tonumber(port) or (tls and 443 or 80)
  local pool = str_format("kombo:%s:%d:%s", host, port, tls and "tls" or "plain")
  return {
    tls = tls, host = host, port = port, path = path, authority = authority,
    sni = (host:gsub("^%[(.*)%]$", "%1")),
    pool = pool,
    connect_options = { pool = pool }, -- sock:connect's third argument, made once
  }
end
M.parse_url = parse_url

---------------------------------------------------------------- proxies

-- The environment's proxy variables, in the order libcurl looks at them
-- (lua/kombo/client.lua's, also on this module).
local PROXY_VARIABLES = client.PROXY_VARIABLES
M.PROXY_VARIABLES = PROXY_VARIABLES

local proxies, proxies_n = {}, 0 -- proxy URL -> what the tunnel needs, or { err = }

local function parsed_proxy(url)
  local px = proxies[url]
  if px then return px end
  if proxies_n >= 32 then proxies, proxies_n = {}, 0 end -- bounded, whatever the environment does
  local p, why = core.proxy(url)
  if p then
    px = { host = p.host, port = p.port, authority = p.authority, authorization = p.authorization,
           pool = ":via:" .. p.authority
             .. (p.authorization and (":" .. str_sub(core.sha256(p.authorization), 1, 16)) or "") }
  else
    px = { err = why }
  end
  proxies[url] = px
  proxies_n = proxies_n + 1
  return px
end

-- no_proxy as libcurl reads it: names separated by commas or blanks, "*"
-- for all, a name matching itself and its subdomains (a leading "." is
-- the same), an IP address itself.  (libcurl also takes CIDR ranges.)
local function no_proxy_matches(list, host)
  host = str_lower((host:gsub("^%[(.*)%]$", "%1")))
  for entry in str_gmatch(list, "[^,%s]+") do
    if entry == "*" then return true end
    entry = str_lower((entry:gsub("^%[(.*)%]$", "%1"):gsub("^%.", "")))
    if entry ~= "" and (host == entry or (#host > #entry and str_sub(host, -#entry - 1) == "." .. entry)) then
      return true
    end
  end
  return false
end
M.no_proxy_matches = no_proxy_matches

-- The environment's proxy variables, read once per worker (at the first
-- call that needs them) and kept: a worker's environment is fixed when
-- nginx starts it (the `env` directive), and os.getenv inside nginx goes
-- through OpenResty's wrapper (a request lookup per variable, up to 6 per
-- call).  `false` for an unset or empty variable.
local env_cache = nil
local function env(name)
  local cache = env_cache
  if cache == nil then
    cache = {}
    env_cache = cache
  end
  local v = cache[name]
  if v == nil then
    v = os.getenv(name)
    if v == nil or v == "" then v = false end
    cache[name] = v
  end
  return v or nil
end

-- Per scheme: the proxy the environment names, found once per worker:
-- { url =, from = } or false (none); then no_proxy is matched per host.
local env_proxies = {}
local function env_proxy(tls)
  local key = tls and "https" or "http"
  local e = env_proxies[key]
  if e == nil then
    e = false
    for _, name in ipairs(PROXY_VARIABLES[key]) do
      local url = env(name)
      if url then
        if not str_find(url, "://", 1, true) then url = "http://" .. url end -- as libcurl reads it
        e = { url = url, from = name }
        break
      end
    end
    env_proxies[key] = e
  end
  return e
end

-- no_proxy's verdict per host (the variable is read once, the hosts are few)
local no_proxy_hosts, no_proxy_n = {}, 0
local function no_proxy_for(host)
  local hit = no_proxy_hosts[host]
  if hit == nil then
    local vars = PROXY_VARIABLES.no_proxy
    local np = env(vars[1]) or env(vars[2])
    hit = np ~= nil and no_proxy_matches(np, host)
    if no_proxy_n >= 64 then no_proxy_hosts, no_proxy_n = {}, 0 end
    no_proxy_hosts[host], no_proxy_n = hit, no_proxy_n + 1
  end
  return hit
end

-- The proxy for a call to `target`: the client's option (false: none), or
-- with none given the environment's.  nil for none; nil, message for one
-- this transport cannot use (the message names the variable, never its value).
local function proxy_for(config, target)
  local url, from = config.proxy, "option 'proxy'"
  if url == false or url == "" then return nil end
  if url == nil then
    local e = env_proxy(target.tls)
    if not e or no_proxy_for(target.host) then return nil end
    url, from = e.url, e.from
  end
  local px = parsed_proxy(url)
  if px.err then return nil, from .. " " .. px.err end
  return px
end

-- Where a call's URL goes: parse_url's target, with the proxy it goes
-- through, and the URL's path.  Targets come from a cache by scheme,
-- authority and proxy (a client's calls share one, so the pool name and the
-- rest are made once, not per call); a cached target is never changed.
local targets, ntargets = {}, 0
local function remember(key, t)
  if ntargets >= 64 then targets, ntargets = {}, 0 end -- bounded: distinct servers are few
  targets[key], ntargets = t, ntargets + 1
  return t
end

local function tunnelled(direct, px)
  local t = {}
  for k, v in pairs(direct) do t[k] = v end
  t.proxy, t.pool = px, direct.pool .. px.pool
  t.connect_options = { pool = t.pool }
  return t
end

-- The target of a URL's "<scheme>://<authority>" (plain string.find and
-- no closure: LuaJIT compiles this whole function; string.match and a
-- closure per call it cannot).
local function target_at(base, config)
  local direct = targets[base]
  if not direct then
    local err
    direct, err = parse_url(base)
    if not direct then return nil, err end
    remember(base, direct)
  end
  local px, perr = proxy_for(config, direct)
  if perr then return nil, perr end
  if not px then return direct end
  local key = base .. px.pool
  return targets[key] or remember(key, tunnelled(direct, px))
end

local function target_of(url, config)
  local from
  if str_sub(url, 1, 8) == "https://" then
    from = 9
  elseif str_sub(url, 1, 7) == "http://" then
    from = 8
  else
    return nil, "unsupported URL (http or https expected)"
  end
  local base, path = url, "/"
  local slash = str_find(url, "/", from, true)
  if slash then base, path = str_sub(url, 1, slash - 1), str_sub(url, slash) end
  local target, err = target_at(base, config)
  if not target then return nil, err end
  return target, path
end
M.target_of = target_of

---------------------------------------------------------------- one attempt

local sessions = {}   -- TLS sessions per pool, for resumption
local warned_ca_file = false

-- Errors of a pooled connection the server had already closed.
local STALE = { closed = true, ["connection reset by peer"] = true, ["broken pipe"] = true }

local READ_SIZE = 65536 -- bytes asked of receiveany() and of call:read()

-- Seconds to cosocket milliseconds: at least 1, at most what nginx takes
-- (a huge `timeout` passes validation and must not raise here).
local function ms(seconds)
  local v = floor(seconds * 1000 + 0.5)
  if v < 1 then return 1 end
  if v > 2147483647 then return 2147483647 end
  return v
end

-- Every operation gets what is left of the attempt's `timeout`, like
-- libcurl's CURLOPT_TIMEOUT covers the whole transfer.  False when nothing
-- is left.
local function arm(st)
  local t = mono_now()
  local left = st.deadline - t
  if left <= 0 then return false end
  local c = st.connect_deadline - t
  if c > left then c = left end
  local r = st.read_deadline - t
  if r <= 0 then return false end
  c, left, r = ms(c > 0 and c or 0.001), ms(left), ms(r)
  -- the socket keeps what it was given: the same milliseconds again (a
  -- small answer's reads come within the same one) need no C call
  if c ~= st.armed_c or left ~= st.armed_s or r ~= st.armed_r then
    st.sock:settimeouts(c, left, r)
    st.armed_c, st.armed_s, st.armed_r = c, left, r
  end
  return true
end

-- Ends the attempt with a transport error; returns the response table.
local function fail(st, kind, what, err, partial_stale)
  local resp = st
  st.sock:close()
  if err == "timeout" or kind == "timeout" then
    resp.error = "timeout"
    resp.message = str_format("%s timed out (timeout %gs, connect_timeout %gs)",
      what, st.timeout, st.connect_timeout)
  else
    resp.error = kind or "network"
    resp.message = what .. (err and (": " .. tostring(err)) or "")
  end
  -- Stale: a pooled connection the server had closed, found out while the
  -- request was still being written; it may be sent again on a fresh one.
  -- After the whole request went out, never (see the top of the file).
  local dead_pooled = partial_stale and st.reused > 0 and STALE[err] == true
  resp.stale = dead_pooled and resp.phase == "sending"
  if dead_pooled and resp.phase == "waiting" then
    resp.message = resp.message .. "; the kept-alive connection closed without an answer, so the request "
      .. "was not sent again"
  end
  return resp
end

-- The status and header block of the proxy's answer to CONNECT; receive_status
-- and block_end are defined with the reader below.
local receive_status, block_end

-- On a new connection to the proxy: CONNECT, and its answer.  The whole
-- exchange counts against connect_timeout (with the TCP connect and the
-- TLS handshake).
local function tunnel(st, target)
  local px = target.proxy
  local what = "CONNECT through the proxy " .. px.authority
  st.read_deadline = min(st.deadline, st.connect_deadline)
  if not arm(st) then return fail(st, "timeout", what) end
  local req = { "CONNECT ", target.host, ":", target.port, " HTTP/1.1\r\nHost: ", target.host, ":", target.port,
                "\r\n" }
  if px.authorization then
    req[#req + 1] = "Proxy-Authorization: " .. px.authorization .. "\r\n"
  end
  req[#req + 1] = "\r\n"
  local sent, serr = st.sock:send(req)
  if not sent then return fail(st, "network", what, serr) end
  local version, status, bad = receive_status(st)
  if not version then
    if bad then return fail(st, "network", what .. ": not an HTTP answer", bad) end
    return fail(st, "network", what, status)
  end
  local e, err, too_big = block_end(st, M.max_header_bytes)
  if not e then
    return fail(st, "network", what, too_big and "answer headers too large" or err)
  end
  if status < 200 or status > 299 then
    return fail(st, "network", core.proxy_refusal(px.authority, status))
  end
  if e < #st.buf then -- bytes after the proxy's answer, before the server's: not a clean tunnel
    return fail(st, "network", what, "the proxy sent bytes after its 2xx answer")
  end
  st.buf, st.pos, st.got_any = "", 1, false
  st.read_deadline = st.deadline
  return nil
end

-- TCP connect (through the pool; to the proxy when there is one, then the
-- tunnel on a new connection).  With `fresh_only`, pooled connections
-- are closed until a new one comes (they are suspect too); the attempt's
-- deadline bounds that.
local function connect(st, target, fresh_only)
  local px = target.proxy
  local host, port = target.host, target.port
  if px then host, port = px.host, px.port end
  while true do
    if not arm(st) then return fail(st, "timeout", "connect") end
    local ok, err = st.sock:connect(host, port, target.connect_options)
    if not ok then
      if err and str_find(err, "no resolver defined", 1, true) then
        err = err .. " (add a 'resolver' directive to nginx.conf)"
      end
      if err and (str_find(err, "Too many open files", 1, true) or str_find(err, "(24:", 1, true)) then
        -- out of descriptors in this worker: not sent, and not retried (as with libcurl)
        return fail(st, "resources", str_format("too many open files: connect to %s:%d", host, port), err)
      end
      return fail(st, "network", str_format("connect to %s%s:%d", px and "the proxy " or "", host, port), err)
    end
    st.reused = st.sock:getreusedtimes() or 0
    if not fresh_only or st.reused == 0 then
      if px and st.reused == 0 then return tunnel(st, target) end
      return nil
    end
    st.sock:close()
    st.sock = ngx_tcp()
    st.armed_c, st.armed_s, st.armed_r = nil, nil, nil -- a new socket: its timeouts are not set
    st.reused = 0
    st.connect_deadline = mono_now() + st.connect_timeout
  end
end

-- TLS on a new connection: verification on, SNI, session resumption.
local function handshake(st, target, ca_file)
  if not arm(st) or mono_now() >= st.connect_deadline then return fail(st, "timeout", "TLS handshake") end
  local pool = target.pool
  local sess, err = st.sock:sslhandshake(sessions[pool] or nil, target.sni, true)
  if not sess then
    sessions[pool] = nil
    if ca_file then
      err = tostring(err) .. " (inside nginx the trusted CAs come from lua_ssl_trusted_certificate;"
        .. " ca_file " .. ca_file .. " must be added there)"
    end
    return fail(st, "network", "TLS handshake with " .. target.sni, err)
  end
  if type(sess) ~= "boolean" then sessions[pool] = sess end
  return nil
end

---------------------------------------------------------------- the buffered reader

-- A buffered reader over receiveany(): st.buf holds what arrived, st.pos
-- the first byte not consumed.  nginx's read timeout restarts whenever
-- bytes arrive, so every read is re-armed with what is left of the
-- attempt's deadline (a server dripping bytes cannot stretch it).
local function fill(st)
  if not arm(st) then return nil, "timeout" end
  local data, err = st.sock:receiveany(READ_SIZE)
  if not data then return nil, err end
  if st.measure and not st.got_any then st.first_byte = mono_now() - st.started end
  st.got_any = true
  local buf, pos = st.buf, st.pos
  if pos > #buf then st.buf = data else st.buf = str_sub(buf, pos) .. data end
  st.pos = 1
  return true
end

-- One line without its CRLF (or LF), consumed.
local function read_line(st, limit)
  for _ = 1, limit + 2 do -- every fill brings at least one byte
    local buf, pos = st.buf, st.pos
    local i = str_find(buf, "\n", pos, true)
    if i then
      st.pos = i + 1
      if i > pos and str_sub(buf, i - 1, i - 1) == "\r" then i = i - 1 end
      return str_sub(buf, pos, i - 1)
    end
    if #buf - pos + 1 > limit then return nil, "line longer than " .. limit .. " bytes" end
    local ok, err = fill(st)
    if not ok then return nil, err end
  end
  return nil, "line longer than " .. limit .. " bytes"
end

-- 1..max bytes, consumed.
local function read_some(st, max)
  if st.pos > #st.buf then
    local ok, err = fill(st)
    if not ok then return nil, err end
  end
  local buf, pos = st.buf, st.pos
  local n = #buf - pos + 1
  if n > max then n = max end
  st.pos = pos + n
  if pos == 1 and n == #buf then return buf end
  return str_sub(buf, pos, pos + n - 1)
end

-- Waits until the buffer holds, from st.pos, a block of lines ended by an
-- empty line (a header block, or a chunked body's trailers, possibly
-- empty); returns the index of the block's last byte, not consumed.  nil,
-- err, too_big on failure; too_big when no such block fits in `limit` bytes.
-- (what the patterns "^\r?\n" and "\n\r?\n" find, with plain string.find
-- and string.byte, which LuaJIT compiles; a pattern search it does not)
local function blank_line_end(buf, from)
  -- the first "\n" followed by "\n" or "\r\n": the earlier of the two
  -- plain searches (no loop: LuaJIT aborts a root trace that leaves one)
  local lf = str_find(buf, "\n\n", from, true)
  local crlf = str_find(buf, "\n\r\n", from, true)
  if crlf and (not lf or crlf < lf) then return crlf + 2 end
  if lf then return lf + 1 end
  return nil
end

function block_end(st, limit)
  local scanned = 0 -- bytes after st.pos already searched in vain
  for _ = 1, limit + 2 do -- every fill brings at least one byte
    local buf, pos = st.buf, st.pos
    local e
    local b = str_byte(buf, pos)
    if b == 10 then
      e = pos
    elseif b == 13 and str_byte(buf, pos + 1) == 10 then
      e = pos + 1
    else
      local from = pos + scanned - 2 -- the end marker may straddle two reads
      if from < pos then from = pos end
      e = blank_line_end(buf, from)
    end
    if e then
      if e - pos + 1 > limit then return nil, nil, true end
      return e
    end
    scanned = #buf - pos + 1
    if scanned > limit then return nil, nil, true end
    local ok, err = fill(st)
    if not ok then return nil, err end
  end
  return nil, nil, true
end

-- How a header-limit error names the limit: the core's, unless changed here.
local LIMIT_NAME = "KOMBO_MAX_HEADER_BYTES"

local function is_digit(b) return b ~= nil and b >= 48 and b <= 57 end

-- "HTTP/<d>.<d> <ddd>" at pos: the version (a number: 11 for "1.1", 10
-- for "1.0"; no string made) and the status (a number), or nil (what the
-- pattern "^HTTP/(%d%.%d) (%d%d%d)" finds, in bytes: LuaJIT compiles
-- string.byte, not string.match).
local function status_line(buf, pos)
  if str_sub(buf, pos, pos + 4) ~= "HTTP/" then return nil end
  local v1, dot, v2, blank, c1, c2, c3 = str_byte(buf, pos + 5, pos + 11)
  if is_digit(v1) and dot == 46 and is_digit(v2) and blank == 32
     and is_digit(c1) and is_digit(c2) and is_digit(c3) then
    return (v1 - 48) * 10 + (v2 - 48), (c1 - 48) * 100 + (c2 - 48) * 10 + (c3 - 48)
  end
  return nil
end

-- The status line of the next answer, not consumed: version (11 for 1.1), status; or
-- nil, err; or nil, nil, the quoted line when it is not an HTTP status line.
function receive_status(st)
  local limit = M.max_header_bytes
  local scanned = 0 -- bytes after st.pos already searched in vain
  for _ = 1, limit + 2 do -- every fill brings at least one byte
    local buf, pos = st.buf, st.pos
    local e = str_find(buf, "\n", pos + scanned, true)
    if e then
      local version, code = status_line(buf, pos)
      if version then return version, code end
      if e > pos and str_sub(buf, e - 1, e - 1) == "\r" then e = e - 1 end
      return nil, nil, str_format("%q", str_sub(buf, pos, min(e - 1, pos + 79)))
    end
    scanned = #buf - pos + 1
    if scanned > limit then
      return nil, str_format("status line longer than %d bytes (%s)", limit, LIMIT_NAME)
    end
    local ok, err = fill(st)
    if not ok then return nil, err end
  end
  return nil, str_format("status line longer than %d bytes (%s)", limit, LIMIT_NAME)
end

---------------------------------------------------------------- request

-- Sends one batch.  nil when it went out; otherwise how the attempt goes
-- on: a failed response table, or true when the server answered early.  A
-- server may answer early (413, 401) and close while the body is still
-- arriving: when a write fails and a status line comes within
-- M.early_answer_wait, that answer is read as the result (st.written
-- stays false), as with libcurl.
-- `n`: the batch's length; one string goes out as itself (nginx's send
-- walks a table twice in C: its length, then its copy).
local function send_batch(st, batch, n)
  if not arm(st) then return fail(st, "timeout", "send") end
  local sent, serr = st.sock:send(n == 1 and batch[1] or batch)
  if sent then
    if st.measure then
      local bytes = st.bytes_sent
      for i = 1, n do bytes = bytes + #batch[i] end
      st.bytes_sent = bytes
    end
    return nil
  end
  if serr == "timeout" then return fail(st, "network", "send", serr) end
  st.read_deadline = min(st.deadline, mono_now() + M.early_answer_wait)
  local version = receive_status(st)
  st.read_deadline = st.deadline
  if not version then return fail(st, "network", "send", serr, true) end
  return true
end

-- Calls the attachment's source function here, in Lua, and hands what it
-- returned to the core (push mode: the core only base64-encodes it).  No C
-- frame sits between the request handler and the source, so the source may
-- yield (read ngx.req.socket(), another cosocket, ngx.sleep).
local function pull_source(call, src)
  local ok, chunk, err = pcall(src)
  if not ok then
    call:feed(nil, "source raised: " .. tostring(chunk)) -- the curl transport's words
  else
    call:feed(chunk, err)
  end
end

-- Request line, headers and body, in batches of M.send_batch bytes.  What
-- the source function gives is sent as it comes (the batch is flushed
-- before the source is asked again, which may wait for the bytes).  Every
-- M.yield_after seconds of encoding and sending the upload yields
-- (ngx.sleep(M.yield_sleep)): a socket that never fills must not hold the
-- worker.
local function send_request(st, call, up)
  local length = up.length
  st.max_body = up.max_body
  -- the first batch in the state's own table (kept with it: no table per
  -- attempt); sock:send() copies what it is given before it returns
  local batch, n = st.batch, 1
  batch[1] = up.head
  local size, body_bytes = 0, 0
  local resp = st
  resp.phase = "sending"
  local src -- the source function, fetched the first time the core asks for it
  -- a small body in one read (the binding's read buffer grows to what is
  -- asked: 64 KiB for a 1.5 KB body was a malloc, and page faults, per call)
  local read_size = length < READ_SIZE and (length > 0 and length or 1) or READ_SIZE
  -- (a body shorter than a batch is sent in one: no yield point, no clock)
  local slice = M.yield_after
  local yield_at = slice and length >= M.send_batch and mono_now() + slice
  -- every read brings a byte or asks the source, which brings a byte or an
  -- empty chunk (the core fails the source after 1000 of those in a row)
  local f = call_ffi ~= nil and read_size <= FFI_BUF_SIZE and call_ffi(call) or nil
  -- the first read lands after a copy of the head, when both fit: the head
  -- and the body's first bytes made one string, sent as one (batch[1])
  local head = batch[1]
  local hl = f and #head + read_size <= FFI_BUF_SIZE and #head or 0
  for _ = 1, (length + 2) * 1002 do
    local chunk, source_err, last
    local got, at = -1, hl
    if f then
      if at > 0 then ffi_copy(ffi_buf, head, at) end
      got = f.read(call, ffi_buf + at, read_size, ffi_last)
    end
    hl = 0
    if got > 0 then
      chunk, last = ffi_string(ffi_buf, at + got), ffi_last[0] ~= 0
      -- (with the head: it takes batch[1]'s place, counted as no body)
      if at > 0 then n, size, body_bytes = 0, -at, -at end
    elseif got == 0 then
      chunk = nil
    else
      chunk, source_err, last = call:read(read_size, true, true)
    end
    if chunk == false then
      if n > 0 then
        local r = send_batch(st, batch, n)
        if r == true then return nil elseif r then return r end
        for i = n, 1, -1 do batch[i] = nil end
        n, size = 0, 0
      end
      src = src or call:source()
      pull_source(call, src)
    elseif source_err then
      return fail(st, "aborted", source_err) -- same words as the curl transport
    else
      if chunk then
        n = n + 1
        batch[n] = chunk
        size = size + #chunk
        body_bytes = body_bytes + #chunk
        -- the body's last chunk (call:read said so): as if the read after
        -- it had come back empty
        if last then chunk = nil end
      end
      if not chunk and body_bytes ~= length then
        -- the body writer stopped short (an attachment source failed, or it
        -- could not be rewound): never let a short body pass as complete
        return fail(st, "aborted", "request aborted",
          str_format("the attachment's source ended after %.0f of %.0f body bytes", body_bytes, length))
      end
      if not chunk and n == 0 then
        -- the last batch went out whole already: the request is written (an
        -- empty send failing now must not look like a write that failed)
        resp.phase = "waiting"
        st.written = true
        return nil
      end
      if not chunk or size >= M.send_batch then
        local r = send_batch(st, batch, n)
        if r == true then return nil elseif r then return r end
        if not chunk then
          resp.phase = "waiting"
          st.written = true
          return nil
        end
        for i = n, 1, -1 do batch[i] = nil end
        n, size = 0, 0
        if yield_at and mono_now() >= yield_at then
          ngx_sleep(M.yield_sleep)
          yield_at = mono_now() + slice
        end
      end
    end
  end
  return fail(st, "aborted", "request aborted", "the body did not end") -- a backstop: the core ends it first
end

---------------------------------------------------------------- response head

-- The framing headers of a header block, found as the curl transport
-- finds them: the core's parser and name rule (headers.c,
-- kombo_header_name_is: the whole name, ASCII case folded), values trimmed
-- of blanks; one C call for the three: the first Connection and
-- Transfer-Encoding values lower-cased, the first Content-Length, and
-- whether a later Content-Length differs from it.
-- framing_of(block) -> close, keep_alive, chunked, length, lengths_differ,
-- length_digits: whether the Connection value (lower-cased; "" when
-- absent) holds "close" and "keep-alive", whether Transfer-Encoding's holds
-- "chunked", the first Content-Length value (nil when absent), whether a
-- later one differs, and whether the first is digits only, at least one
-- (what "^%d+$" finds; tonumber would also take "0x37", " 55", "5e1").
-- Through LuaJIT's FFI when it is there (core.framing_ffi: no trace exit),
-- else core.framing_flags: the same C function, the rule's one owner.
local framing_of = core.framing_flags
do
  local has_ffi, ffi = pcall(require, "ffi")
  local p = core.framing_ffi
  if has_ffi and type(p) == "userdata" then
    if not pcall(ffi.typeof, "kombo_framing_ffi") then
      ffi.cdef [[
        typedef struct { void (*framing)(const char *block, size_t len, int *out); } kombo_framing_ffi;
      ]]
    end
    local fn = ffi.cast("const kombo_framing_ffi *", p).framing
    local out = ffi.new("int[7]")
    framing_of = function(block)
      fn(block, #block, out)
      local at = out[3]
      return out[0] ~= 0, out[1] ~= 0, out[2] ~= 0, at >= 0 and str_sub(block, at + 1, at + out[4]) or nil,
        out[5] ~= 0, out[6] ~= 0
    end
  end
end

-- Status line and header block of the final answer, skipping interim
-- (1xx) answers, any number of them, as long as they fit in
-- M.max_header_bytes together.  Sets resp.status and resp.headers (the raw
-- block, as received) and st.keep, st.chunked, st.length (Content-Length
-- or nil), st.no_body.
local function receive_head(st)
  local resp = st
  local limit = M.max_header_bytes
  local interim_bytes = 0
  for _ = 1, limit + 1 do -- every interim block takes bytes of `limit`
    local version, status, bad = receive_status(st)
    if not version then
      local waiting = resp.phase == "waiting"
      if bad then
        resp.phase = "receiving"
        return fail(st, "network", "invalid HTTP status line", bad)
      end
      if status and str_find(status, "status line longer than", 1, true) then
        resp.phase = "receiving"
        return fail(st, "headers", status)
      end
      return fail(st, "network", waiting and "waiting for the response" or "reading the response",
        status, waiting and not st.got_any)
    end
    resp.phase = "receiving"
    local e, err, too_big = block_end(st, limit)
    if too_big then
      resp.status = nil
      return fail(st, "headers", str_format("response headers larger than %d bytes (%s)", limit, LIMIT_NAME))
    elseif not e then
      return fail(st, "network", "reading the response headers", err)
    end
    local block = str_sub(st.buf, st.pos, e)
    st.pos = e + 1
    if status >= 200 or status == 101 then
      resp.status = status
      resp.headers = block
      local close, keep_alive, chunked, length, lengths_differ, length_digits = framing_of(block)
      local keep = not close
      if version == 10 and not keep_alive then keep = false end -- HTTP/1.0
      if status < 200 then keep = false end -- 101: we never asked to switch protocols
      if not st.written then keep = false end -- answered before the whole request was written
      st.no_body = status == 204 or status == 304 or status < 200
      st.chunked = chunked
      st.length = length
      st.keep = keep
      if not st.chunked and length then
        -- digits only (tonumber would take "0x37", "+5", "5e1"), and no two that differ
        local not_digits = not length_digits
        if lengths_differ then
          resp.status = nil
          return fail(st, "headers", not_digits and "invalid Content-Length (digits only)"
            or "conflicting Content-Length headers")
        end
        if not_digits then
          resp.status = nil
          return fail(st, "headers", "invalid Content-Length (digits only)")
        end
      end
      return nil
    end
    interim_bytes = interim_bytes + #block
    if interim_bytes > limit then break end
  end
  return fail(st, "headers",
    str_format("response headers larger than %d bytes (%s; interim 1xx answers included)", limit, LIMIT_NAME))
end

---------------------------------------------------------------- response body

local function too_large(st)
  local resp = st
  resp.body = tbl_concat(st.parts)
  st.sock:close()
  resp.error = "too_large"
  resp.message = str_format("response body larger than %d bytes", st.max_body)
  return resp
end

local function broken(st, what, err)
  st.body = tbl_concat(st.parts)
  return fail(st, "network", what, err)
end

-- Exactly n bytes of body.
local function take(st, n)
  local parts, max_body = st.parts, st.max_body
  -- (all of them already read, within the cap: what the first round of
  -- the loop below does, then its end)
  local buf, pos = st.buf, st.pos
  if n > 0 and n <= READ_SIZE and n <= max_body - st.total and #buf - pos + 1 >= n then
    st.pos = pos + n
    parts[#parts + 1] = (pos == 1 and n == #buf) and buf or str_sub(buf, pos, pos + n - 1)
    st.total = st.total + n
    return nil
  end
  for _ = 1, n + 1 do -- every read brings at least one byte
    if n <= 0 then return nil end
    local room = max_body - st.total
    if room <= 0 then return too_large(st) end
    local piece, err = read_some(st, min(n, room, READ_SIZE))
    if not piece then return broken(st, "reading the response body", err) end
    parts[#parts + 1] = piece
    st.total = st.total + #piece
    n = n - #piece
  end
  return nil
end

-- Transfer-Encoding: chunked, then the trailers (skipped).
local function receive_chunked(st)
  for _ = 1, st.max_body + 2 do -- every chunk holds at least one byte
    local line, err = read_line(st, 4096)
    if not line then return broken(st, "reading the response body", err) end
    local n = tonumber(str_match(line, "^%s*(%x+)") or "", 16)
    if not n then return broken(st, "reading the response body", "invalid chunk size line") end
    if n == 0 then
      local limit = M.max_header_bytes
      local e, terr, too_big = block_end(st, limit)
      if too_big then
        return broken(st, "reading the response trailers",
          str_format("larger than %d bytes (cosocket.max_header_bytes)", limit))
      elseif not e then
        return broken(st, "reading the response trailers", terr)
      end
      st.pos = e + 1
      return nil
    end
    local r = take(st, n)
    if r then return r end
    local crlf, cerr = read_line(st, 2)
    if crlf ~= "" then return broken(st, "reading the response body", cerr or "malformed chunked encoding") end
  end
  return broken(st, "reading the response body", "malformed chunked encoding")
end

-- No Content-Length, not chunked: the body ends when the server closes.
local function receive_until_close(st)
  local parts, max_body = st.parts, st.max_body
  st.keep = false
  for _ = 1, max_body + 2 do -- every read brings at least one byte
    local piece, err = read_some(st, READ_SIZE)
    if not piece then
      if err ~= "closed" then return broken(st, "reading the response body", err) end
      return nil
    end
    local total = st.total
    if total + #piece > max_body then
      parts[#parts + 1] = str_sub(piece, 1, max_body - total)
      return too_large(st)
    end
    parts[#parts + 1] = piece
    st.total = total + #piece
  end
  return too_large(st)
end

local function receive_body(st)
  if st.no_body then return nil end
  if st.chunked then return receive_chunked(st) end
  local cl = st.length
  if cl == nil then return receive_until_close(st) end
  -- (digits only, as receive_head found: tonumber() would also take
  -- "0x37", " 55", "5e1"; it failed the attempt otherwise)
  return take(st, tonumber(cl))
end

-- A complete answer: the body joined, the connection pooled or closed.
local function finish(st)
  local resp = st
  if st.pos <= #st.buf then st.keep = false end -- bytes beyond the answer: do not reuse
  local parts = st.parts
  resp.body = parts[2] == nil and (parts[1] or "") or tbl_concat(parts)
  resp.phase = "done"
  local sock = st.sock
  if st.keep then
    local kept = sock:setkeepalive(M.keepalive_timeout, M.pool_size)
    if not kept then sock:close() end
  else
    sock:close()
  end
  return resp
end

---------------------------------------------------------------- attempts

-- One try on one connection, begun at `t0` (core.now()), ending by
-- `deadline` (the attempt's).
-- `up`: the upload object (config, target, the rendered head); its
-- `measure`: note the figures hooks get (st.first_byte, st.connect_time,
-- st.bytes_sent).  The timeouts are the call's (attempt).
-- Attempt state tables are kept for later attempts (the way OpenResty's
-- lua-tablepool keeps tables): at 30-odd fields, one per attempt was the
-- transport's largest allocation.  A table goes back (release) only once
-- nothing refers to it any more: call:complete() has copied what it
-- holds; taking it sets every field again (new_state), so nothing of an
-- earlier attempt is left in it.
local spare_states, nspare = {}, 0
local SPARE_MAX = 64

local function new_state(up, t0, deadline, timeout, connect_timeout)
  local st
  if nspare > 0 then
    st = spare_states[nspare]
    spare_states[nspare], nspare = nil, nspare - 1
  else
    st = { -- every field, so that the table is made at its size
      state = true, phase = false, sock = false, timeout = 0, connect_timeout = 0, deadline = 0,
      connect_deadline = 0, read_deadline = 0, reused = 0, armed_c = false, armed_s = false, armed_r = false,
      written = false, buf = "", pos = 1, got_any = false, max_body = 0, parts = {}, batch = {}, total = 0,
      keep = false,
      chunked = false, length = false, no_body = false, measure = false, started = false, first_byte = 0,
      connect_time = 0, bytes_sent = 0, total_time = 0, status = false, headers = false, body = false,
      error = false, message = false, stale = false,
    }
  end
  local measure = up.measure
  -- the response fields (phase, status, headers, body, error, message,
  -- stale; the timing: what call:report is given) are set on it too
  st.phase, st.status, st.headers, st.body, st.error, st.message, st.stale =
    "connect", nil, nil, nil, nil, nil, nil
  st.sock = ngx_tcp()
  st.timeout, st.connect_timeout = timeout, connect_timeout
  st.deadline = deadline
  st.connect_deadline = t0 + connect_timeout -- TCP connect and TLS handshake together
  st.read_deadline = deadline -- shortened while looking for an early answer
  st.reused = 0
  st.armed_c, st.armed_s, st.armed_r = nil, nil, nil -- the timeouts the socket was given (arm)
  st.written = false -- true once the whole request had been written
  st.buf, st.pos, st.got_any = "", 1, false
  st.max_body, st.total = 0, 0 -- (st.parts: emptied by release)
  st.keep, st.chunked, st.length, st.no_body = false, false, nil, false
  st.measure, st.started, st.first_byte, st.connect_time, st.bytes_sent, st.total_time =
    measure, measure and t0 or nil, 0, 0, 0, 0
  return st
end

local function release(st)
  if st.state ~= true or nspare >= SPARE_MAX then return end
  st.sock, st.buf, st.body, st.headers, st.message = nil, "", nil, nil, nil
  local parts = st.parts
  if #parts <= 2 then parts[1], parts[2] = nil, nil else for i = #parts, 1, -1 do parts[i] = nil end end
  parts = st.batch
  if #parts <= 2 then parts[1], parts[2] = nil, nil else for i = #parts, 1, -1 do parts[i] = nil end end
  nspare = nspare + 1
  spare_states[nspare] = st
end

local function attempt_once(call, up, fresh_only, t0, deadline, timeout, connect_timeout)
  local config, target, measure = up.config, up.target, up.measure
  local st = new_state(up, t0, deadline, timeout, connect_timeout)
  local r = connect(st, target, fresh_only)
  if not r and target.tls and st.reused == 0 then r = handshake(st, target, config.ca_file) end
  if measure and not r and st.reused == 0 then st.connect_time = mono_now() - st.started end
  r = r or send_request(st, call, up) or receive_head(st) or receive_body(st)
  r = r or finish(st)
  if measure then r.total_time = mono_now() - st.started end
  return r
end

-- One attempt; a pooled connection that turns out to be dead (closed by
-- the server while idle) is replaced by a fresh one, once, within the same
-- deadline.  The first try's result stands when the replay cannot happen
-- (the body cannot be read again) or fails before sending anything: it
-- must not turn "may have been processed" into "not sent".
-- The timeouts are the call's (its own, else its client's).
local function attempt(call, up)
  local timeout, connect_timeout = up.timeout, up.connect_timeout
  local t0 = mono_now()
  local deadline = t0 + timeout
  local first = attempt_once(call, up, false, t0, deadline, timeout, connect_timeout)
  if not first.stale or not call:rewind() then return first end
  local again = attempt_once(call, up, true, mono_now(), deadline, timeout, connect_timeout)
  if again.phase == "connect" then
    release(again)
    return first
  end
  release(first)
  return again
end

---------------------------------------------------------------- the driver

-- Tells the call how an attempt ended, at `mono`, `wall` (core.now()'s
-- clocks): call:report(), the response's fields as arguments (one C call,
-- no table for the core to read field by field); with `step`, it returns
-- what call:next(mono) returns (the loop of perform asks that next).  A
-- stand-in for the core's call object without report
-- (spec/nginx/faults_spec.lua) gets call:complete's table.
local function deliver(call, resp, mono, wall, step)
  local f = step and call_ffi ~= nil and call_ffi(call)
  if f then
    local phase, err = PHASE_CODE[resp.phase or "done"], resp.error
    local code = err == nil and 0 or ERROR_CODE[err]
    if phase and code then -- (else the classic call, which raises as it always did)
      local h, b, timing = resp.headers, resp.body, nil
      if resp.measure then
        timing = ffi_timing
        timing[0], timing[1], timing[2], timing[3] =
          resp.connect_time, resp.first_byte, resp.total_time, resp.bytes_sent
      end
      code = f.report(call, phase, resp.status or 0, h, h and #h or 0, b, b and #b or 0, code, resp.message,
        mono, wall, timing, ffi_delay)
      if code == 1 then return "sleep", ffi_delay[0] end
      if code >= 0 then return STEP_NAME[code] end
    end
  end
  if call.report == nil then
    call:complete(resp, mono, wall)
    if step then return call:next(mono) end
    return nil
  end
  if resp.measure then
    return call:report(resp.phase, resp.status, resp.headers, resp.body, resp.error, resp.message, mono, wall,
      step, resp.connect_time, resp.first_byte, resp.total_time, resp.bytes_sent)
  end
  return call:report(resp.phase, resp.status, resp.headers, resp.body, resp.error, resp.message, mono, wall, step)
end

-- What trace.drive() calls for each attempt: a callable table per upload
-- (its config and target), not a closure.  Returns the time the attempt
-- was reported to the call at (core.now()'s monotonic clock).
local Upload = {}
Upload.__index = Upload
local render_head -- below
local function attempt_of(up, call)
  if up.per_attempt then render_head(up, call) end
  if up.target then return attempt(call, up) end
  return { error = "network", phase = "connect", message = up.url_error }
end
Upload.__call = function(self, call)
  local resp = attempt_of(self, call)
  local mono, wall = now()
  deliver(call, resp, mono, wall, false)
  release(resp) -- (the core copied what it needs)
  return mono
end
-- The same attempt for perform's own loop: returns what call:next() says
-- after it (the attempt's end is the time it decides at).
function Upload.step(self, call)
  local resp = attempt_of(self, call)
  local mono, wall = now()
  local step, delay = deliver(call, resp, mono, wall, true)
  release(resp)
  return step, delay
end

-- What every attempt of a call sends before the body ("<method> <path>
-- HTTP/1.1", Host, the call's headers, Content-Length, Connection), into
-- up.head, with the length, the core's cap (max_body, defaults resolved)
-- and the call's timeouts.  The core renders it (call:request_head(): one
-- C call); a stand-in for the core's call object that has only
-- call:request() and call:timeouts() (spec/nginx/faults_spec.lua) gets the
-- same bytes rendered here.
function render_head(up, call)
  local request_head = call.request_head
  local head, base, length, max_body, timeout, connect_timeout
  local f = call_ffi ~= nil and call_ffi(call) or nil
  local n = f and f.request_head(call, ffi_buf, FFI_BUF_SIZE, ffi_out) or -1
  if n >= 0 then
    if n > 0 then
      local out = ffi_out
      head, base = ffi_string(ffi_buf, n), ffi_string(ffi_buf + n, out[0])
      length, max_body, timeout, connect_timeout = out[1], out[2], out[3], out[4]
    end
  elseif request_head then
    head, base, length, max_body, timeout, connect_timeout = request_head(call)
  else
    local url, headers, method
    url, headers, length, max_body, method = call:request()
    timeout, connect_timeout = call:timeouts()
    local from = str_sub(url, 1, 8) == "https://" and 9 or str_sub(url, 1, 7) == "http://" and 8
    if from then
      method = method or "POST"
      local path, slash = "/", str_find(url, "/", from, true)
      base = url
      if slash then base, path = str_sub(url, 1, slash - 1), str_sub(url, slash) end
      head = method .. " " .. path .. " HTTP/1.1\r\nHost: " .. str_sub(base, from) .. "\r\n"
        .. (#headers > 0 and (tbl_concat(headers, "\r\n") .. "\r\n") or "")
        .. ((length > 0 or method ~= "GET") and str_format("Content-Length: %.0f\r\n", length) or "")
        .. "Connection: keep-alive\r\n\r\n"
    end
  end
  if not head then
    up.target, up.url_error = nil, "unsupported URL (http or https expected)"
    return
  end
  local target, err = target_at(base, up.config)
  up.target, up.url_error = target, err
  up.head, up.length, up.max_body, up.timeout, up.connect_timeout = head, length, max_body, timeout, connect_timeout
end

-- The upload object of a call: its config, target and head, rendered
-- once, or before every attempt when a before_request hook may have added
-- headers to the call (`per_attempt`).
-- Kept for later calls like the attempt states (release_upload once the
-- call is done with it; every field is set again when it is taken).
local spare_uploads, nspare_uploads = {}, 0

local function upload_of(call, config, per_attempt, measure)
  local up
  if nspare_uploads > 0 then
    up = spare_uploads[nspare_uploads]
    spare_uploads[nspare_uploads], nspare_uploads = nil, nspare_uploads - 1
  else
    -- every field in the constructor: the table is made at its size (no
    -- rehash as render_head fills it)
    up = setmetatable({ config = false, per_attempt = false, measure = false, target = false,
      url_error = false, head = false, length = 0, max_body = 0, timeout = 0, connect_timeout = 0 }, Upload)
  end
  up.config, up.per_attempt, up.measure = config, per_attempt, measure or false
  up.target, up.url_error, up.head = nil, nil, nil -- render_head sets them, and the rest
  render_head(up, call)
  return up
end

local function release_upload(up)
  if nspare_uploads >= SPARE_MAX then return end
  up.config, up.target, up.url_error, up.head = nil, nil, nil, nil
  nspare_uploads = nspare_uploads + 1
  spare_uploads[nspare_uploads] = up
end

--- Drives `call` to the end over cosockets; returns call:result() and, when
-- a hook failed, its failure (trace.drive).  `obs`: the call's observer
-- (debug, hooks), or nil; without one, `index` (errors.success_index)
-- has the core dress a success: call:result(index), res and true.
-- Raises when cosockets are unavailable in the current phase.
function M.perform(call, config, obs, index)
  -- (nginx's functions bound: only the phase to check)
  if ngx_tcp == nil or not COSOCKET_PHASES[ngx_get_phase()] then
    local which, why = where.select("cosocket")
    if which ~= "cosocket" then error(why, 2) end
    if ngx_tcp == nil then bind_ngx(ngx_table()) end
  end
  local one_attempt = upload_of(call, config, obs ~= nil and obs.before_request ~= nil, obs and obs.measure)
  if config.ca_file and not warned_ca_file then
    warned_ca_file = true
    ngx_log(ngx_WARN, "kombo: ca_file is not used by the cosocket transport; ",
      "the CAs of lua_ssl_trusted_certificate are used instead")
  end
  if obs then
    local res, failure = trace.drive(call, obs, one_attempt, ngx_sleep, now)
    release_upload(one_attempt)
    return res, failure
  end
  -- Nothing watches the call: trace.drive's loop without its observer
  -- (nothing to tell, nothing to measure), and the clock read once per
  -- step: an attempt's end is the time call:next() decides at, in the
  -- same C call as its report (Upload.step).
  local f, step, delay = call_ffi ~= nil and call_ffi(call), nil, nil
  if f then
    local code = f.next(call, mono_now(), ffi_delay)
    if code == 1 then step, delay = "sleep", ffi_delay[0] elseif code >= 0 then step = STEP_NAME[code] end
  end
  if step == nil then step, delay = call:next(mono_now()) end
  -- (the common call, one attempt, outside the loop: a loop of two rounds
  -- is one LuaJIT aborts as a root trace)
  if step == "send" then step, delay = one_attempt:step(call) end
  for _ = 1, 10000 do -- the core's retry policy ends the loop; the bound is a backstop
    if step == "done" then break end
    if step == "sleep" then
      if delay > 0 then ngx_sleep(delay) end
      step, delay = call:next(mono_now())
    else
      step, delay = one_attempt:step(call)
    end
  end
  release_upload(one_attempt)
  return call:result(index)
end

--- One attempt of `call` over cosockets, reported to the call (what
-- attach_many's light threads run; call:next() decides the rest);
-- `measure`: for hooks (call:measure() was called).
function M.attempt(call, config, measure)
  if ngx_tcp == nil then bind_ngx(ngx_table()) end
  local one_attempt = upload_of(call, config, false, measure)
  one_attempt(call)
  release_upload(one_attempt)
end

return M
