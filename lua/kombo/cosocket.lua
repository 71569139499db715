--- kombo.cosocket: the OpenResty transport.
--
-- Drives a prepared call (kombo.core's sans-I/O state machine) over nginx
-- cosockets, so that an upload from a request handler or a timer never
-- blocks the nginx worker.  The C core still does everything except moving
-- bytes: validation, URL and headers, the body writer, classification,
-- retries and error objects.  This file only
--   * writes "POST <path> HTTP/1.1" + the call's headers + the body,
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
-- Keepalive.  After a complete answer without `Connection: close`, the
-- connection goes back to nginx's per-worker pool with
-- setkeepalive(M.keepalive_timeout, M.pool_size).  Pools are named
-- "kombo:<host>:<port>:tls|plain".  A pooled connection the server has
-- closed in the meantime (the idle-close race) is detected and the attempt
-- is made again, once, on a fresh connection, within the same `timeout`:
-- when writing the request fails, or when the connection ends without a
-- single byte of answer within M.stale_window seconds of the request being
-- written (a dead connection answers within a round trip; a server that
-- got the upload and then died takes longer than that to process it).
-- Later, the request may have been processed: the attempt fails with
-- outcome "unknown" instead.  A replay never reports less than the first
-- try did: when the fresh try cannot even connect, or the body cannot be
-- read a second time, the first try's result stands.
local core = require "kombo.core"
local trace = require "kombo.trace"

local M = {
  keepalive_timeout = 60000, -- ms a pooled connection may stay idle
  pool_size = 32,            -- connections kept per pool (per worker)
  send_batch = 65536,        -- body bytes handed to sock:send at once
  max_header_bytes = 65536,  -- status line + header block
  stale_window = core.STALE_WINDOW, -- s: a pooled connection dying this soon after the request is stale
  early_answer_wait = 1,     -- s: how long to look for an answer after a failed write
}

-- Phases with cosockets (ngx.get_phase() names).
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
  preread = true,
}
M.COSOCKET_PHASES = COSOCKET_PHASES

local function nginx()
  local n = rawget(_G, "ngx")
  if type(n) == "table" and type(n.get_phase) == "function"
     and type(n.socket) == "table" and type(n.socket.tcp) == "function" then
    return n
  end
  return nil
end

--- True when running inside nginx's Lua module (in any phase).
function M.in_nginx()
  return nginx() ~= nil
end

--- The current nginx phase, or nil outside nginx.
function M.phase()
  local n = nginx()
  return n and n.get_phase() or nil
end

--- True when cosockets can be used right now.
function M.available()
  local n = nginx()
  return n ~= nil and COSOCKET_PHASES[n.get_phase()] == true
end

local function phase_error(phase)
  return ("kombo: cannot upload in nginx's '%s' phase: cosockets are not available there, "
    .. "and a blocking libcurl call would freeze the whole nginx worker; run the upload "
    .. "from a timer instead (ngx.timer.at(0, function(premature) ... end)) or from "
    .. "content_by_lua*, access_by_lua* or rewrite_by_lua*"):format(tostring(phase))
end

--- Which transport a call made now uses for the `transport` option
-- ("auto" | "curl" | "cosocket").  Returns "curl" or "cosocket", or nil and
-- a message when cosockets are required but unavailable (the caller raises).
function M.select(mode)
  mode = mode or "auto"
  if mode == "curl" then return "curl" end
  local n = nginx()
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

---------------------------------------------------------------- URL

local function parse_url(url)
  local scheme, rest = url:match("^(https?)://(.*)$")
  if not scheme then return nil, "unsupported URL (http or https expected)" end
  local authority, path = rest:match("^([^/]*)(.*)$")
  if path == "" then path = "/" end
  local host, port
  if authority:sub(1, 1) == "[" then
    local h, p = authority:match("^(%[[^%]]+%]):?(%d*)$")
    host, port = h, p
  else
    host, port = authority:match("^([^:@]+):?(%d*)$")
  end
  if not host or host == "" then return nil, "URL has no usable host" end
  local tls = scheme == "https"
  port = tonumber(port) or (tls and 443 or 80)
  return {
    tls = tls, host = host, port = port, path = path, authority = authority,
    sni = host:gsub("^%[(.*)%]$", "%1"),
    pool = ("kombo:%s:%d:%s"):format(host, port, tls and "tls" or "plain"),
  }
end
M.parse_url = parse_url

---------------------------------------------------------------- one attempt

local sessions = {}   -- TLS sessions per pool, for resumption
local warned_ca_file = false

-- Errors of a pooled connection the server had already closed.
local STALE = { closed = true, ["connection reset by peer"] = true, ["broken pipe"] = true }

-- Seconds to cosocket milliseconds: at least 1, at most what nginx takes
-- (a huge `timeout` passes validation and must not raise here).
local function ms(seconds)
  local v = math.floor(seconds * 1000 + 0.5)
  if v < 1 then return 1 end
  if v > 2147483647 then return 2147483647 end
  return v
end

-- One try on one connection, ending by `deadline` (the attempt's).
local function attempt_once(call, config, target, fresh_only, deadline)
  local resp = { phase = "connect", status = nil }
  local timeout = config.timeout or 300
  local connect_timeout = config.connect_timeout or 10
  local connect_deadline = core.now() + connect_timeout -- TCP connect and TLS handshake together
  local read_deadline = deadline -- shortened while looking for an early answer
  local sock = ngx.socket.tcp()
  local reused = 0
  local written_at -- when the whole request had been written

  -- Every operation gets what is left of the attempt's `timeout`, like
  -- libcurl's CURLOPT_TIMEOUT covers the whole transfer.
  local function arm()
    local now = core.now()
    local left = deadline - now
    if left <= 0 then return false end
    local c = connect_deadline - now
    if c > left then c = left end
    local r = read_deadline - now
    if r <= 0 then return false end
    sock:settimeouts(ms(c > 0 and c or 0.001), ms(left), ms(r))
    return true
  end

  local function fail(kind, what, err, partial_stale)
    sock:close()
    if err == "timeout" or kind == "timeout" then
      resp.error = "timeout"
      resp.message = ("%s timed out (timeout %gs, connect_timeout %gs)"):format(what, timeout, connect_timeout)
    else
      resp.error = kind or "network"
      resp.message = what .. (err and (": " .. tostring(err)) or "")
    end
    -- Stale: a pooled connection the server had closed.  In the waiting
    -- phase only right after the request went out (see the top of the file).
    resp.stale = partial_stale and reused > 0 and STALE[err] == true
      and (resp.phase == "sending" or (written_at ~= nil and core.now() - written_at <= M.stale_window))
    return resp
  end

  if not arm() then return fail("timeout", "connect") end
  local ok, err = sock:connect(target.host, target.port, { pool = target.pool })
  if not ok then
    local what = ("connect to %s:%d"):format(target.host, target.port)
    if err and err:find("no resolver defined", 1, true) then
      err = err .. " (add a 'resolver' directive to nginx.conf)"
    end
    return fail("network", what, err)
  end
  reused = sock:getreusedtimes() or 0
  if fresh_only and reused > 0 then
    -- looking for a fresh connection: this pooled one is suspect too
    sock:close()
    return attempt_once(call, config, target, fresh_only, deadline)
  end

  if target.tls and reused == 0 then
    if not arm() or core.now() >= connect_deadline then return fail("timeout", "TLS handshake") end
    local sess, herr = sock:sslhandshake(sessions[target.pool] or nil, target.sni, true)
    if not sess then
      sessions[target.pool] = nil
      local what = "TLS handshake with " .. target.sni
      if config.ca_file then
        herr = tostring(herr) .. " (inside nginx the trusted CAs come from lua_ssl_trusted_certificate;"
          .. " ca_file " .. config.ca_file .. " must be added there)"
      end
      return fail("network", what, herr)
    end
    if type(sess) ~= "boolean" then sessions[target.pool] = sess end
  end

  -- A buffered reader over receiveany(): nginx's read timeout restarts
  -- whenever bytes arrive, so every read is re-armed with what is left of
  -- the attempt's deadline (a server dripping bytes cannot stretch it).
  local buf, pos, got_any = "", 1, false
  local function fill()
    if not arm() then return nil, "timeout" end
    local data, rerr = sock:receiveany(65536)
    if not data then return nil, rerr end
    got_any = true
    if pos > #buf then buf = data else buf = buf:sub(pos) .. data end
    pos = 1
    return true
  end
  local function read_line(limit) -- one line without its CRLF
    for _ = 1, limit + 1 do
      local i = buf:find("\n", pos, true)
      if i then
        local l = buf:sub(pos, i - 1)
        pos = i + 1
        if l:sub(-1) == "\r" then l = l:sub(1, -2) end
        return l
      end
      if #buf - pos + 1 > limit then return nil, "line longer than " .. limit .. " bytes" end
      local ok, rerr = fill()
      if not ok then return nil, rerr end
    end
    return nil, "line too long"
  end
  local function read_some(max) -- 1..max bytes
    if pos > #buf then
      local ok, rerr = fill()
      if not ok then return nil, rerr end
    end
    local n = #buf - pos + 1
    if n > max then n = max end
    local piece = buf:sub(pos, pos + n - 1)
    pos = pos + n
    return piece
  end

  -- request line, headers, body -----------------------------------------
  local _, headers, length, max_body = call:request() -- max_body: the core's cap, defaults resolved
  local batch = { "POST ", target.path, " HTTP/1.1\r\nHost: ", target.authority, "\r\n" }
  for _, h in ipairs(headers) do
    batch[#batch + 1] = h
    batch[#batch + 1] = "\r\n"
  end
  batch[#batch + 1] = ("Content-Length: %.0f\r\nConnection: keep-alive\r\n\r\n"):format(length)
  local size, body_bytes = 0, 0
  local early_status_line -- an answer that came while the body was being written
  resp.phase = "sending"
  while true do
    local chunk, source_err = call:read(65536)
    if source_err then
      return fail("aborted", source_err) -- same words as the curl transport
    elseif chunk then
      batch[#batch + 1] = chunk
      size = size + #chunk
      body_bytes = body_bytes + #chunk
    elseif body_bytes ~= length then
      -- the body writer stopped short (an attachment source failed, or it
      -- could not be rewound): never let a short body pass as complete
      return fail("aborted", "request aborted",
        ("the attachment's source ended after %.0f of %.0f body bytes"):format(body_bytes, length))
    end
    if not chunk or size >= M.send_batch then
      if not arm() then return fail("timeout", "send") end
      local sent, serr = sock:send(batch)
      if not sent then
        -- A server may answer early (413, 401) and close while the body is
        -- still arriving: that answer is the result, as with libcurl.
        if serr == "timeout" then return fail("network", "send", serr) end
        read_deadline = math.min(deadline, core.now() + M.early_answer_wait)
        local line = read_line(M.max_header_bytes)
        read_deadline = deadline
        if not line or not line:match("^HTTP/%d%.%d %d%d%d") then
          return fail("network", "send", serr, true)
        end
        early_status_line = line
        break
      end
      batch, size = {}, 0
    end
    if not chunk then break end
  end
  if not early_status_line then
    resp.phase = "waiting"
    written_at = core.now()
  end

  -- status line and headers ----------------------------------------------
  local raw, header_bytes, status, version
  local interim_bytes = 0 -- 1xx answers before the final one, bounded like a header block
  repeat
    local line, rerr = early_status_line, nil
    early_status_line = nil
    if not line then line, rerr = read_line(M.max_header_bytes) end
    if not line then
      local waiting = resp.phase == "waiting"
      return fail("network", waiting and "waiting for the response" or "reading the response",
        rerr, waiting and not got_any)
    end
    resp.phase = "receiving"
    local v, code = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not v then return fail("network", "invalid HTTP status line", ("%q"):format(line:sub(1, 80))) end
    version, status = v, tonumber(code)
    raw = { line, "\r\n" }
    header_bytes = #line
    for _ = 1, 10000 do
      local h, herr = read_line(M.max_header_bytes)
      if not h then return fail("network", "reading the response headers", herr) end
      raw[#raw + 1] = h
      raw[#raw + 1] = "\r\n"
      if h == "" then break end
      header_bytes = header_bytes + #h
      if header_bytes > M.max_header_bytes then
        return fail("network", "response headers larger than " .. M.max_header_bytes .. " bytes")
      end
    end
    if status < 200 and status ~= 101 then
      interim_bytes = interim_bytes + header_bytes
      if interim_bytes > M.max_header_bytes then
        return fail("network", "more than " .. M.max_header_bytes .. " bytes of interim (1xx) answers")
      end
    end
  until status >= 200 or status == 101
  resp.status = status
  resp.headers = table.concat(raw)

  local function header(name) -- first value of a header (lower-case name)
    local pat = "\n" .. name:gsub("%-", "%%-") .. ":[ \t]*([^\r\n]*)"
    local v = ("\n" .. resp.headers:lower()):match(pat)
    return v and v:gsub("%s+$", "") or nil
  end
  local connection = header("connection") or ""
  local keep = not connection:find("close", 1, true)
  if version == "1.0" and not connection:find("keep-alive", 1, true) then keep = false end
  if status < 200 then keep = false end -- 101: we never asked to switch protocols
  if written_at == nil then keep = false end -- answered before the whole request was written

  -- body -------------------------------------------------------------------
  local parts, total = {}, 0
  local function too_large()
    resp.body = table.concat(parts)
    sock:close()
    resp.error = "too_large"
    resp.message = ("response body larger than %d bytes"):format(max_body)
    return resp
  end
  local function broken(what, rerr)
    resp.body = table.concat(parts)
    return fail("network", what, rerr)
  end
  -- Reads exactly n bytes of body; false after reporting a failure.
  local function take(n)
    for _ = 1, n + 1 do
      if n <= 0 then return true end
      local room = max_body - total
      if room <= 0 then too_large(); return false end
      local piece, rerr = read_some(math.min(n, room, 65536))
      if not piece then broken("reading the response body", rerr); return false end
      parts[#parts + 1] = piece
      total = total + #piece
      n = n - #piece
    end
    return true
  end

  local te = header("transfer-encoding")
  if status == 204 or status == 304 or status < 200 then
    -- no body
  elseif te and te:find("chunked", 1, true) then
    for _ = 1, max_body + 2 do -- every chunk holds at least one byte
      local line, rerr = read_line(4096)
      if not line then return broken("reading the response body", rerr) end
      local n = tonumber(line:match("^%s*(%x+)") or "", 16)
      if not n then return broken("reading the response body", "invalid chunk size line") end
      if n == 0 then
        for _ = 1, 1000 do -- trailers, up to the empty line
          local t, terr = read_line(M.max_header_bytes)
          if not t then return broken("reading the response trailers", terr) end
          if t == "" then break end
        end
        break
      end
      if not take(n) then return resp end
      local crlf, cerr = read_line(2)
      if crlf ~= "" then return broken("reading the response body", cerr or "malformed chunked encoding") end
    end
  else
    local cl = header("content-length")
    if cl then
      local n = tonumber(cl)
      if not n or n < 0 or n % 1 ~= 0 then return broken("reading the response body", "invalid Content-Length " .. cl) end
      if not take(n) then return resp end
    else
      keep = false -- the body ends when the server closes
      for _ = 1, max_body + 2 do
        local piece, rerr = read_some(65536)
        if not piece then
          if rerr ~= "closed" then return broken("reading the response body", rerr) end
          break
        end
        if total + #piece > max_body then
          parts[#parts + 1] = piece:sub(1, max_body - total)
          return too_large()
        end
        parts[#parts + 1] = piece
        total = total + #piece
      end
    end
  end
  if pos <= #buf then keep = false end -- bytes beyond the answer: do not reuse
  resp.body = table.concat(parts)
  resp.phase = "done"

  if keep then
    local kept = sock:setkeepalive(M.keepalive_timeout, M.pool_size)
    if not kept then sock:close() end
  else
    sock:close()
  end
  return resp
end

-- One attempt; a pooled connection that turns out to be dead (closed by
-- the server while idle) is replaced by a fresh one, once, within the same
-- deadline.  The first try's result stands when the replay cannot happen
-- (the body cannot be read again) or fails before sending anything: it
-- must not turn "may have been processed" into "not sent".
local function attempt(call, config, target)
  local deadline = core.now() + (config.timeout or 300)
  local first = attempt_once(call, config, target, false, deadline)
  if not first.stale or not call:rewind() then return first end
  local again = attempt_once(call, config, target, true, deadline)
  if again.phase == "connect" then return first end
  return again
end

---------------------------------------------------------------- the driver

--- Drives `call` to the end over cosockets; returns call:result().
-- Raises when cosockets are unavailable in the current phase.
function M.perform(call, config)
  local which, why = M.select("cosocket")
  if which ~= "cosocket" then error(why, 2) end
  local url = call:request()
  local target, uerr = parse_url(url)
  if config.ca_file and not warned_ca_file then
    warned_ca_file = true
    ngx.log(ngx.WARN, "kombo: ca_file is not used by the cosocket transport; ",
      "the CAs of lua_ssl_trusted_certificate are used instead")
  end
  local function one_attempt()
    local resp
    if target then
      resp = attempt(call, config, target)
    else
      resp = { error = "network", phase = "connect", message = uerr }
    end
    local mono, wall = core.now()
    call:complete(resp, mono, wall)
  end
  return trace.drive(call, config.debug, one_attempt, ngx.sleep, core.now, config.api_key)
end

return M
