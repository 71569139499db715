-- A small misbehaving HTTP/1.1 server for the fault-injection specs.
--
-- Two halves in one file:
--
--  * run as a script (`lua5.4 spec/support/badserver.lua PORTFILE LOGFILE
--    [LIFETIME]`), it listens on 127.0.0.1 on a free port, writes the port to
--    PORTFILE, logs every request to LOGFILE and exits by itself after
--    LIFETIME seconds (default 120) at the latest;
--  * required as a module (`require "support.badserver"`), it starts that
--    script in the background (start()), reads its log (requests()) and kills
--    it by pid (stop()).
--
-- The mode is the first segment of the request path, so a client with
-- server_url = "http://127.0.0.1:PORT/<mode>" gets that behaviour on every
-- call (the API path follows: /<mode>/ats/candidates/<id>/attachments):
--
--   ok                   200 with Kombo's success JSON, connection kept alive
--   reset-before-status  reads the whole request, then resets the connection
--                        (SO_LINGER 0 close: RST) before any byte of an answer
--   reset-during-body    reads the headers and 64 KiB of the body, then resets
--                        while the client is still sending
--   reset-in-headers     sends the status line and one header, then resets
--   garbage-status       answers "SPDY/9 what\r\n\r\n" and closes
--   keepalive-close      answers 200 (keep-alive), then closes the connection
--                        (FIN) right away: the client's pooled connection is dead
--   keepalive-stale      answers the first request of a connection (keep-alive);
--                        the second request on that connection is read and the
--                        connection reset without an answer (the idle-close race)
--   echo-auth            502 text/plain whose body and X-Echo header repeat the
--                        request's Authorization value (a server leaking the key)
--   echo-auth-json       401 with Kombo's error JSON whose message (and X-Echo
--                        header) repeat the Authorization value
--   echo-variants        502 whose reason phrase, text/plain body and headers
--                        repeat the key altered: lower and upper case, its last
--                        12 bytes, bytes 9-16, percent-encoded, split in two
--                        X-Part headers (X-Near: bytes 1-7, which stay)
--   echo-variants-ok     200 with Kombo's success JSON whose strings (keys and
--                        values) and headers repeat the key in those forms
--   echo-auth-escaped    401 with Kombo's error JSON quoting the key JSON-escaped
--                        (lua-cjson's way), \u-escaped (upper-case hex), and
--                        a message that quotes the request headers as JSON
--                        (so the decoded message holds the key JSON-escaped);
--                        X-Echo repeats the key JSON-escaped, log_url
--                        percent-encoded in lower case
--   keepalive-dies-late  answers the first request of a connection (keep-alive);
--                        the second is read whole, then after 1.5 s the
--                        connection is reset without an answer (a server that
--                        may have acted on the upload and died)
--   capture              200 with a success JSON (data has an id and an empty
--                        page); the request's bytes as they came, head and
--                        body, go to capture.<n> in the server's directory
--                        (M.captured)
--   interim-flood        eleven "100 Continue" interim answers, then 0.2 s later
--                        the 200 (keep-alive)
--   error-413            reads the whole request, answers 413 with Kombo's error
--                        JSON, keeps the connection
--   early-413            reads the headers and 64 KiB of the body, answers 413
--                        with Kombo's error JSON and Connection: close, waits
--                        0.3 s, then resets while the client is still sending
--
--   raw-<case>           reads the request, writes the bytes of RAW[<case>]
--                        (below: odd framing, header counts and sizes, 1xx
--                        storms, chunk extensions, limit headers, broken
--                        pages of a list) and closes:
--                        the specs compare what each transport makes of the
--                        same bytes
--
-- Each request becomes one log line:
--   req conn=<n> nth=<i> mode=<m> auth=<yes|no> length=<Content-Length> got=<body bytes read>
--       method=<request method> target=<request target>
-- Everything is bounded: socket timeouts, the request size, the lifetime.
local socket = require "socket"

local SUCCESS = '{"status":"success","data":{"id":"att_bad","remote_id":null,"candidate_id":"c",'
  .. '"name":"cv.pdf","content_type":"application/pdf","type":"CV","size_bytes":9},"warnings":[]}'

-- Odd answers, byte for byte (the differential spec runs them through both
-- transports).  Every one carries SUCCESS as its body unless it says else.
local function head(lines) return "HTTP/1.1 200 OK\r\n" .. table.concat(lines, "\r\n") .. "\r\n\r\n" end
local function many(n, size) -- n headers, each line `size` bytes with its CRLF
  local t = {}
  for i = 1, n do
    local name = ("X-H-%d: "):format(i)
    t[i] = name .. ("v"):rep(math.max(1, size - #name - 2))
  end
  return t
end
local function with(lines, ...)
  local t = { "Content-Type: application/json" }
  for _, l in ipairs(lines) do t[#t + 1] = l end
  for _, l in ipairs { ... } do t[#t + 1] = l end
  return t
end
local CL = "Content-Length: " .. #SUCCESS
local RAW = {
  -- (Connection: close: the raw cases drop the connection after answering,
  -- and a client that reused it would meet the idle-close race)
  ["plain"] = head(with({}, CL, "Connection: close")) .. SUCCESS,
  ["cl-hex"] = head(with({}, ("Content-Length: 0x%x"):format(#SUCCESS))) .. SUCCESS,
  ["cl-plus"] = head(with({}, "Content-Length: +" .. #SUCCESS)) .. SUCCESS,
  ["cl-negative"] = head(with({}, "Content-Length: -1")) .. SUCCESS,
  ["cl-spaces"] = head(with({}, "Content-Length:   " .. #SUCCESS .. "  ")) .. SUCCESS,
  ["cl-dup-same"] = head(with({}, CL, CL)) .. SUCCESS,
  ["cl-dup-diff"] = head(with({}, CL, "Content-Length: 3")) .. SUCCESS,
  -- the names in other cases: the same fields (easy.c's on_header matches them in any case)
  ["cl-dup-diff-lower"] = head(with({}, CL, "content-length: 3")) .. SUCCESS,
  ["te-upper-cl-plus"] = head(with({}, "TRANSFER-ENCODING: CHUNKED", "cONTENT-lENGTH: +5"))
    .. ("%x\r\n"):format(#SUCCESS) .. SUCCESS .. "\r\n0\r\n\r\n",
  ["cl-list"] = head(with({}, "Content-Length: " .. #SUCCESS .. ", " .. #SUCCESS)) .. SUCCESS,
  ["cl-short"] = head(with({}, "Content-Length: " .. (#SUCCESS + 10))) .. SUCCESS,
  ["obs-fold"] = head(with({ "X-Folded: first", " second" }, CL)) .. SUCCESS,
  ["bare-lf"] = (head(with({}, CL)) .. SUCCESS):gsub("\r\n", "\n"),
  ["interim-50"] = ("HTTP/1.1 100 Continue\r\n\r\n"):rep(50) .. head(with({}, CL)) .. SUCCESS,
  ["chunk-ext"] = head(with({}, "Transfer-Encoding: chunked")) .. ("%x;ext=1\r\n"):format(#SUCCESS)
    .. SUCCESS .. "\r\n0;done\r\n\r\n",
  ["te-and-cl"] = head(with({}, "Transfer-Encoding: chunked", "Content-Length: 5")) .. ("%x\r\n"):format(#SUCCESS)
    .. SUCCESS .. "\r\n0\r\n\r\n",
  -- header blocks around the limit (KOMBO_MAX_HEADER_BYTES, 64 KiB, both transports)
  ["headers-3000"] = head(with(many(3000, 20), CL)) .. SUCCESS,          -- 60 KB: under
  ["headers-9998"] = head(with(many(9998, 20), CL)) .. SUCCESS,          -- 200 KB: over
  ["headers-64k-under"] = head(with(many(1, 65536 - 200), CL)) .. SUCCESS,
  ["headers-64k-over"] = head(with(many(1, 65536 + 10), CL)) .. SUCCESS,
  ["header-line-1mb"] = head(with(many(1, 1024 * 1024), CL)) .. SUCCESS,
  -- Kombo's limit headers, odd but meaning 5 (kombo_parse_limits' rule);
  -- Connection: close, so that no client reuses the connection closed after
  ["limits-zeros"] = head(with({ "Concurrency-Limit: " .. ("0"):rep(34) .. "5" }, CL, "Connection: close"))
    .. SUCCESS,
  ["limits-twice"] = head(with({ "Concurrency-Limit: 5", "Concurrency-Limit: 5" }, CL, "Connection: close"))
    .. SUCCESS,
}

-- Pages of a list gone wrong (spec/integration/lists_spec.lua): data.next
-- the same cursor every time (a list that would never end), no data.next,
-- results not an array, a number for next.
local function page(data)
  local body = '{"status":"success","data":' .. data .. ',"warnings":[]}'
  return head(with({}, "Content-Length: " .. #body)) .. body
end
RAW["page-cycle"] = page('{"results":[{"id":"r1"}],"next":"c1"}')
RAW["page-no-next"] = page('{"results":[{"id":"r1"}]}')
RAW["page-results-object"] = page('{"results":{"id":"r1"},"next":null}')
RAW["page-next-number"] = page('{"results":[],"next":2}')

local TOO_LARGE = '{"status":"error","error":{"code":"PLATFORM.INPUT_INVALID","title":"Payload too large",'
  .. '"message":"The attachment is too large.","log_url":"https://app.kombo.dev/logs?interactionId=bad"}}'

---------------------------------------------------------------- the server

local function serve(portfile, logfile, lifetime)
  local deadline = socket.gettime() + lifetime
  local server = assert(socket.bind("127.0.0.1", 0))
  server:setoption("recv-buffer-size", 65536) -- a client sending a big body stalls early
  server:settimeout(0)
  local _, port = server:getsockname()
  local log = assert(io.open(logfile, "a"))
  log:setvbuf("line")
  local f = assert(io.open(portfile .. ".part", "w"))
  f:write(port, "\n")
  f:close()
  assert(os.rename(portfile .. ".part", portfile))

  local capture_dir, capture_seq = logfile:match("^(.*)/[^/]*$") or ".", 0 -- (mode capture)
  local conns = {}   -- list of client sockets
  local state = {}   -- socket -> { id =, nth = }
  local serial = 0

  local function drop(c, reset)
    if reset then c:setoption("linger", { on = true, timeout = 0 }) end
    c:close()
    state[c] = nil
    for i, x in ipairs(conns) do
      if x == c then table.remove(conns, i) break end
    end
  end

  local function answer(c, status, body, extra)
    c:send(("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s")
      :format(status, #body, extra or "", body))
  end

  -- Reads one request's head; returns method, path, headers (lower-case
  -- names) and the head's bytes as they came (to the blank line, included),
  -- or nil.  Read a byte at a time (LuaSocket's "*l" drops every CR), as
  -- "*l" reads it: a line ends at LF, a CR before it is not part of it.
  local function read_head(c)
    local bytes, lines, line, ended = {}, {}, {}, false
    for _ = 1, 65536 do
      local ch = c:receive(1)
      if not ch then return nil end
      bytes[#bytes + 1] = ch
      if ch == "\n" then
        local text = table.concat(line):gsub("\r$", "")
        if text == "" then
          if #lines > 0 then ended = true; break end
          return nil
        end
        lines[#lines + 1] = text
        line = {}
      else
        line[#line + 1] = ch
      end
    end
    if not ended then return nil end -- (no blank line in 64 KiB: not a head)
    local method, path = (lines[1] or ""):match("^(%u+) (%S+) HTTP/1%.%d$")
    if not method then return nil end
    local headers = {}
    for i = 2, math.min(#lines, 101) do
      local k, v = lines[i]:match("^([^:]+):%s*(.-)%s*$")
      if k then headers[k:lower()] = v end
    end
    return method, path, headers, table.concat(bytes)
  end

  -- Reads up to `limit` body bytes (all of them when limit is nil).
  local function read_body(c, length, limit)
    local want = limit and math.min(limit, length) or length
    local got = 0
    while got < want do
      local n = math.min(65536, want - got)
      local data, _, partial = c:receive(n)
      data = data or partial
      if not data or #data == 0 then break end
      got = got + #data
      if #data < n then break end
    end
    return got
  end

  local function handle(c)
    local st = state[c]
    local method, path, headers, raw_head = read_head(c)
    if not method then return drop(c) end
    st.nth = st.nth + 1
    -- "/<mode>[.<tag>]/...": the keep-alive modes count requests per mode and
    -- tag on a connection, so a pooled connection that served another spec
    -- first starts afresh.
    local segment = path:match("^/([^/?]+)") or "ok"
    local mode = segment:gsub("%..*$", "")
    st.by_mode = st.by_mode or {}
    st.by_mode[segment] = (st.by_mode[segment] or 0) + 1
    local nth_here = st.by_mode[segment]
    local length = tonumber(headers["content-length"] or "0") or 0
    if mode == "capture" then
      -- The request as it came, head and body, one file each
      -- (capture.<n>, in the order they came); a page's success answers it.
      local body = length > 0 and c:receive(length) or ""
      capture_seq = capture_seq + 1
      local out = assert(io.open(("%s/capture.%d"):format(capture_dir, capture_seq), "wb"))
      out:write(raw_head, body or "")
      out:close()
      log:write(("req conn=%d nth=%d mode=%s auth=%s length=%d got=%d method=%s target=%s\n")
        :format(st.id, st.nth, mode, headers.authorization and "yes" or "no", length, #(body or ""), method, path))
      return answer(c, "200 OK", '{"status":"success","data":{"id":"captured","next":null,"results":[]},'
        .. '"warnings":[]}')
    end
    local limit = (mode == "reset-during-body" or mode == "early-413") and 65536 or nil
    local got = read_body(c, length, limit)
    log:write(("req conn=%d nth=%d mode=%s auth=%s length=%d got=%d method=%s target=%s\n")
      :format(st.id, st.nth, mode, headers.authorization and "yes" or "no", length, got, method, path))

    local raw = mode:match("^raw%-(.+)$")
    if raw then
      c:send(RAW[raw] or "HTTP/1.1 500 No Such Raw Case\r\nContent-Length: 0\r\n\r\n")
      return drop(c)
    elseif mode == "reset-before-status" or mode == "reset-during-body" then
      return drop(c, true)
    elseif mode == "reset-in-headers" then
      c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
      socket.sleep(0.05)
      return drop(c, true)
    elseif mode == "garbage-status" then
      c:send("SPDY/9 what\r\n\r\n")
      return drop(c)
    elseif mode == "keepalive-close" then
      answer(c, "200 OK", SUCCESS)
      socket.sleep(0.05) -- the answer is on its way; then FIN
      return drop(c)
    elseif mode == "keepalive-stale" and nth_here >= 2 then
      return drop(c, true)
    elseif mode == "keepalive-dies-late" and nth_here >= 2 then
      socket.sleep(1.5)
      return drop(c, true)
    elseif mode:match("^keepalive%-reset%-%d+$") and nth_here >= 2 then
      -- the whole upload was read; then a reset after <ms>, no answer
      socket.sleep(tonumber(mode:match("%d+$")) / 1000)
      return drop(c, true)
    elseif mode == "interim-flood" then
      c:send(("HTTP/1.1 100 Continue\r\n\r\n"):rep(11))
      socket.sleep(0.2) -- the final answer comes late: a client that stops early leaves it unread
    elseif mode == "error-413" or mode == "early-413" then
      answer(c, "413 Payload Too Large", TOO_LARGE, mode == "early-413" and "Connection: close\r\n" or nil)
      if mode == "early-413" then
        socket.sleep(0.3)
        return drop(c, true)
      end
      return
    elseif mode == "echo-auth" or mode == "echo-auth-json" then
      local auth = (headers.authorization or ""):gsub("[\r\n\"\\]", "")
      local extra = "X-Echo: " .. auth .. "\r\nConnection: close\r\n"
      if mode == "echo-auth" then
        c:send(("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s")
          :format(#("you sent " .. auth), extra, "you sent " .. auth))
      else
        answer(c, "401 Unauthorized", ('{"status":"error","error":{"code":"PLATFORM.AUTHENTICATION_INVALID",'
          .. '"title":"Authentication invalid","message":"The key %s is invalid.",'
          .. '"log_url":"https://app.kombo.dev/logs?interactionId=%s"}}'):format(auth, auth:gsub("%s", "+")), extra)
      end
      return drop(c)
    elseif mode == "echo-auth-escaped" then
      local key = (headers.authorization or ""):match("^Bearer (.*)$") or ""
      local function esc(v) -- lua-cjson's escapes: \" \\ \/ \n ..., \u00xx for other control bytes
        return (v:gsub('[%c"\\/]', function(ch)
          local short = { ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\n"] = "\\n", ["\t"] = "\\t" }
          return short[ch] or ("\\u%04x"):format(ch:byte())
        end))
      end
      local u = key:gsub("[^%w]", function(ch) return ("\\u%04X"):format(ch:byte()) end) -- ASCII keys
      local enc = key:gsub("[^%w%-%._~]", function(ch) return ("%%%02x"):format(ch:byte()) end)
      local msg = esc("The key " .. key .. " is invalid") .. " (" .. u .. ")"
        .. esc('; you sent {"authorization":"Bearer ' .. esc(key) .. '"}')
      answer(c, "401 Unauthorized", ('{"status":"error","error":{"code":"PLATFORM.AUTHENTICATION_INVALID",'
        .. '"title":"Authentication invalid","message":"%s","log_url":"https://app.kombo.dev/logs?key=%s"}}')
        :format(msg, enc), "X-Echo: " .. esc(key) .. "\r\nConnection: close\r\n")
      return drop(c)
    elseif mode == "echo-variants" or mode == "echo-variants-ok" then
      local key = (headers.authorization or ""):match("^Bearer (.*)$") or ""
      key = key:gsub("[\r\n\"\\]", "")
      local enc = key:gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end)
      local forms = { lower = key:lower(), upper = key:upper(), suffix = key:sub(-12), middle = key:sub(9, 16),
                      enc = enc, enc_lower = enc:lower() }
      local extra = { "Connection: close" }
      for _, k in ipairs { "lower", "upper", "suffix", "middle", "enc", "enc_lower" } do
        extra[#extra + 1] = ("X-%s: token=%s;"):format((k:gsub("_", "-")), forms[k])
      end
      local half = math.floor(#key / 2)
      extra[#extra + 1] = "X-Part: " .. key:sub(1, half)
      extra[#extra + 1] = "X-Part: " .. key:sub(half + 1)
      extra[#extra + 1] = "X-Near: " .. key:sub(1, 7)
      extra = table.concat(extra, "\r\n") .. "\r\n"
      if mode == "echo-variants" then
        local body = ("lower %s upper %s suffix #%s# middle #%s# encoded %s %s"):format(forms.lower, forms.upper,
          forms.suffix, forms.middle, forms.enc, forms.enc_lower)
        c:send(("HTTP/1.1 502 token=%s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s")
          :format(forms.lower, #body, extra, body))
      else
        local body = ('{"status":"success","data":{"id":"att_%s","remote_id":"%s","candidate_id":"#%s#",'
          .. '"name":"%s.pdf","content_type":"application/pdf","type":"CV","size_bytes":9,'
          .. '"%s":"as a key","escaped":"\\u0041 %s"},"warnings":[{"message":"seen %s"}]}')
          :format(forms.lower, forms.upper, forms.middle, forms.suffix, key, forms.enc_lower, forms.enc)
        answer(c, "200 OK", body, extra)
      end
      return drop(c)
    end
    answer(c, "200 OK", SUCCESS) -- ok, and keepalive-stale's first request
  end

  while socket.gettime() < deadline do
    local readable = socket.select({ server, table.unpack(conns) }, nil, 0.25)
    for _, s in ipairs(readable or {}) do
      if s == server then
        local c = server:accept()
        if c then
          serial = serial + 1
          c:settimeout(5)
          conns[#conns + 1] = c
          state[c] = { id = serial, nth = 0 }
          log:write(("conn %d\n"):format(serial))
        end
      elseif state[s] then
        local ok, err = pcall(handle, s)
        if not ok then
          log:write("error " .. tostring(err):gsub("\n", " ") .. "\n")
          if state[s] then drop(s) end
        end
      end
    end
  end
  for _, c in ipairs(conns) do c:close() end
  server:close()
  log:write("exit\n")
  log:close()
end

if arg and arg[0] and arg[0]:find("badserver%.lua$") and arg[1] then
  table.unpack = table.unpack or unpack
  serve(arg[1], arg[2] or "/dev/null", tonumber(arg[3]) or 120)
  os.exit(0)
end

---------------------------------------------------------------- the harness side

local M = {}
M.RAW_CASES = {} -- the names of RAW's cases, sorted
for name in pairs(RAW) do M.RAW_CASES[#M.RAW_CASES + 1] = name end
table.sort(M.RAW_CASES)

local sys = require "support.sys" -- the harness side only: the server above needs just LuaSocket
local sh, read_file = sys.sh, sys.read_file

-- A Lua that has LuaSocket (the server needs nothing else).
local function interpreter()
  for _, lua in ipairs { "lua5.4", "lua5.3", "lua5.1", "luajit", "lua" } do
    if sh(("command -v %s >/dev/null 2>&1 && %s -e 'require \"socket\"' >/dev/null 2>&1"):format(lua, lua)) then
      return lua
    end
  end
  error("badserver: no Lua interpreter with LuaSocket found")
end

--- Starts a server; returns { url =, port =, pid =, dir = }.
function M.start(lifetime)
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh(("mkdir -p '%s'"):format(dir)))
  local script = debug.getinfo(1, "S").source:match("^@(.*)$")
  local cmd = ("%s '%s' '%s/port' '%s/log' %d >'%s/out' 2>&1 & echo $!")
    :format(interpreter(), script, dir, dir, lifetime or 120, dir)
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("*l"))
  p:close()
  local port
  for _ = 1, 100 do -- up to 5 s
    local s = read_file(dir .. "/port")
    port = s and tonumber(s:match("%d+"))
    if port then break end
    socket.sleep(0.05)
  end
  if not port then
    if pid then sh(("kill %d 2>/dev/null"):format(pid)) end
    error("badserver did not start: " .. tostring(read_file(dir .. "/out")))
  end
  return { url = "http://127.0.0.1:" .. port, port = port, pid = pid, dir = dir }
end

--- Base URL for a mode.
function M.url(srv, mode) return srv.url .. "/" .. mode end

--- The logged requests: list of { conn =, nth =, mode =, auth =, length =, got =, method =, target = }.
function M.requests(srv, mode)
  local list = {}
  for line in (read_file(srv.dir .. "/log") or ""):gmatch("[^\n]+") do
    local conn, nth, m, auth, length, got, method, target =
      line:match("^req conn=(%d+) nth=(%d+) mode=(%S+) auth=(%S+) length=(%d+) got=(%d+) method=(%S+) target=(%S+)$")
    if conn and (mode == nil or m == mode) then
      list[#list + 1] = { conn = tonumber(conn), nth = tonumber(nth), mode = m, auth = auth == "yes",
                          length = tonumber(length), got = tonumber(got), method = method, target = target }
    end
  end
  return list
end

--- The requests mode "capture" kept, oldest first: their bytes as they came.
function M.captured(srv)
  local list = {}
  for n = 1, 10000 do
    local text = read_file(("%s/capture.%d"):format(srv.dir, n))
    if not text then break end
    list[n] = text
  end
  return list
end

--- Number of distinct connections among `reqs`.
function M.connections(reqs)
  local seen, n = {}, 0
  for _, r in ipairs(reqs) do
    if not seen[r.conn] then seen[r.conn] = true; n = n + 1 end
  end
  return n
end

--- The server's log, for failure messages.
function M.log(srv) return read_file(srv.dir .. "/log") or "" end

--- Whether the server process is still alive (a zombie is not: it has
--- exited, and its parent, pid 1 once the starting shell is gone, may take
--- a while to reap it).
function M.alive(srv)
  if srv.pid == nil then return false end
  local stat = read_file(("/proc/%d/stat"):format(srv.pid))
  if stat and stat:match("^%d+ %b() (%a)") == "Z" then return false end
  return sh(("kill -0 %d 2>/dev/null"):format(srv.pid))
end

--- Kills the server (by pid) and removes its directory.
function M.stop(srv)
  if not srv then return end
  if srv.pid then
    sh(("kill %d 2>/dev/null"):format(srv.pid))
    for _ = 1, 40 do
      if not M.alive(srv) then break end
      socket.sleep(0.05)
    end
    if M.alive(srv) then sh(("kill -9 %d 2>/dev/null"):format(srv.pid)) end
    srv.pid = nil
  end
  if srv.dir and srv.dir:find("^/tmp/") then sh(("rm -rf '%s'"):format(srv.dir)) end
end

return M
