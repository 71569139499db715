-- The handlers of bench/cosocket.conf.in (one nginx worker forwarding small
-- uploads to the target), one per row of bench/cosocket's table.  Every
-- handler reads the client's small body and forwards a CV built from it.
local cjson = require "cjson.safe"
local kombo = require "kombo"
local cosocket = require "kombo.cosocket"

local M = {}
local client, target_url, target_port
local dict = ngx.shared.bench
local SUCCESS = '{"status":"success","data":{"id":"att_1"},"warnings":[]}'
local floor_request -- the exact request kombo-lua sends, built once

function M.init(url, port)
  target_url, target_port = url, port
  client = kombo.new{ api_key = "bench-key", server_url = url, integration_id = "bench",
                      retries = false, timeout = 30, transport = "cosocket" }
end

local function small_body()
  ngx.req.read_body()
  return ngx.req.get_body_data() or ""
end

local function fail(msg)
  ngx.status = 502
  ngx.say(msg)
  return ngx.exit(502)
end

function M.noop()
  small_body()
  ngx.print(SUCCESS)
end

-- kombo-lua: attach_to_candidate over the cosocket transport.
local function kombo_forward(bytes)
  local res, err = client:attach_to_candidate{ candidate_id = "cand-1",
    body = { attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf", bytes = bytes } } }
  if not res then return nil, tostring(err) end
  return true
end

function M.kombo()
  local ok, err = kombo_forward(small_body())
  if not ok then return fail(err) end
  ngx.print(SUCCESS)
end

-- The floor: a pooled cosocket sending a pre-built request (the body and
-- headers kombo-lua sends, built once from the first request's body),
-- reading the status line, the headers and the body by Content-Length.
local function build_floor(bytes)
  local body = '{"attachment":{"name":"cv.pdf","content_type":"application/pdf","type":"CV","data":"'
    .. kombo.base64(bytes) .. '"}}'
  local path = target_url:match("^https?://[^/]+(.*)$") .. "/ats/candidates/cand-1/attachments"
  return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer bench-key\r\n"
    .. "X-Integration-Id: bench\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
    .. "User-Agent: floor\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s")
    :format(path, target_port, #body, body)
end

local function floor_forward(bytes)
  floor_request = floor_request or build_floor(bytes)
  local sock = ngx.socket.tcp()
  sock:settimeouts(5000, 30000, 30000)
  local ok, err = sock:connect("127.0.0.1", target_port, { pool = "floor" })
  if not ok then return nil, err end
  ok, err = sock:send(floor_request)
  if not ok then return nil, err end
  local line = sock:receive("*l")
  if not line or line:sub(10, 12) ~= "200" then return nil, "bad status: " .. tostring(line) end
  local length
  for _ = 1, 100 do
    local h = sock:receive("*l")
    if not h then return nil, "headers" end
    if h == "" then break end
    local v = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if v then length = tonumber(v) end
  end
  local body = sock:receive(length)
  if not body then return nil, "body" end
  sock:setkeepalive(60000, 32)
  return true
end

function M.floor()
  local ok, err = floor_forward(small_body())
  if not ok then return fail(err) end
  ngx.print(SUCCESS)
end

-- What an OpenResty user writes by hand in the style of lua-resty-http's
-- request_uri (NOT the library: see bench/README.md): cjson-encoded body,
-- the URI parsed with ngx.re.match, a header table rendered per request,
-- status and header lines read with receive("*l") and ngx.re.match, the
-- body by Content-Length, the connection pooled.
local HTTP_HEADERS = { ["Content-Type"] = "application/json", ["Accept"] = "application/json",
                       ["Authorization"] = "Bearer bench-key", ["X-Integration-Id"] = "bench",
                       ["User-Agent"] = "lua-resty-http-like" }
function M.resty_like()
  local bytes = small_body()
  local body = cjson.encode{ attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf",
                                            data = ngx.encode_base64(bytes) } }
  local m = ngx.re.match(target_url .. "/ats/candidates/cand-1/attachments",
    [[^(?:(http[s]?):)?//([^:/\?]+)(?::(\d+))?([^\?]*)\??(.*)]], "jo")
  local headers = {}
  for k, v in pairs(HTTP_HEADERS) do headers[k] = v end
  headers["Content-Length"] = #body
  headers["Host"] = m[2] .. ":" .. m[3]
  local req = { "POST ", m[4], " HTTP/1.1\r\n" }
  for k, v in pairs(headers) do req[#req + 1] = k .. ": " .. tostring(v) .. "\r\n" end
  req[#req + 1] = "\r\n"
  local sock = ngx.socket.tcp()
  sock:settimeouts(5000, 30000, 30000)
  local ok, err = sock:connect(m[2], tonumber(m[3]), { pool = "resty_like" })
  if not ok then return fail(err) end
  ok, err = sock:send(table.concat(req))
  if ok then ok, err = sock:send(body) end
  if not ok then return fail(err) end
  local line = sock:receive("*l")
  local status = line and tonumber(line:sub(10, 12))
  if status ~= 200 then return fail("bad status: " .. tostring(line)) end
  local res_headers = {}
  for _ = 1, 100 do
    local h = sock:receive("*l")
    if not h then return fail("headers") end
    local hm = ngx.re.match(h, [[([^:\s]+):\s*(.*)]], "jo")
    if not hm then break end
    res_headers[hm[1]:lower()] = hm[2]
  end
  local res_body = sock:receive(tonumber(res_headers["content-length"]))
  if not res_body then return fail("body") end
  sock:setkeepalive(60000, 32)
  local decoded = cjson.decode(res_body)
  if not decoded or decoded.status ~= "success" then return fail("answer") end
  ngx.print(SUCCESS)
end

-- A large upload relayed as it arrives.
function M.relay()
  local source, size = kombo.request_body_source()
  if not source then return fail(size) end
  local res, err = client:attach_to_candidate{ candidate_id = "relay",
    body = { attachment = { name = "big.bin", type = "CV", content_type = "application/octet-stream",
                            source = source, size = size } } }
  if not res then return fail(tostring(err)) end
  ngx.print(SUCCESS)
end

-- POST /bigfile?path=&yield=0|1: a `file` upload to the target's /sink/ in
-- a timer; GET /bigresult says when it is done.
function M.bigfile()
  local path, yield = ngx.var.arg_path, ngx.var.arg_yield ~= "0"
  dict:set("big", "running")
  local sink = kombo.new{ api_key = "bench-key", server_url = target_url .. "/sink", integration_id = "bench",
                          retries = false, timeout = 120, transport = "cosocket" }
  assert(ngx.timer.at(0, function()
    local saved = cosocket.yield_after
    if not yield then cosocket.yield_after = false end
    local t0 = require("kombo.core").now()
    local res, err = sink:attach_to_candidate{ candidate_id = "big",
      body = { attachment = { file = path, type = "CV" } } }
    cosocket.yield_after = saved
    dict:set("big", res and ("ok %.3f"):format(require("kombo.core").now() - t0) or ("error " .. tostring(err)))
  end))
  ngx.print("started")
end

-- Profiling the cosocket path (bench/cosocket with COSOCKET_PARTS=profile):
-- POST /prof?what=p&mode=Fl&file=... starts LuaJIT's sampling profiler
-- (jit.p) in this worker, what=v its trace log (jit.v), what=stop stops
-- both; what=count makes ONE /kombo call under a call hook and writes how
-- many functions of each kind it called (C functions: classic Lua C API
-- calls, which LuaJIT's traces cannot compile through).
local profiling
function M.prof()
  local what, file = ngx.var.arg_what, ngx.var.arg_file
  if what == "p" then
    profiling = require "jit.p"
    profiling.start(ngx.var.arg_mode or "F", file)
  elseif what == "v" then
    profiling = require "jit.v"
    profiling.start(file)
  elseif what == "stop" then
    if profiling then (profiling.stop or profiling.off)() end
    profiling = nil
  elseif what == "alloc" then
    -- Lua heap bytes one real forward allocates (to the target, through
    -- the pool), /kombo's and /floor's, the collector stopped over n calls
    local bytes = small_body()
    local n = math.min(tonumber(ngx.var.arg_n) or 100, 1000)
    local out = {}
    for _, row in ipairs{ { "floor", floor_forward }, { "kombo", kombo_forward } } do
      for _ = 1, 20 do assert(row[2](bytes)) end -- warm: pools, caches, traces
      collectgarbage("collect")
      collectgarbage("stop")
      local k0 = collectgarbage("count")
      for _ = 1, n do assert(row[2](bytes)) end
      local per_call = (collectgarbage("count") - k0) * 1024 / n
      out[#out + 1] = ("%s: %.0f bytes of Lua heap per forward"):format(row[1], per_call)
      collectgarbage("restart")
    end
    ngx.print(table.concat(out, "\n"), "\n")
    return
  elseif what == "count" then
    local bytes = small_body()
    local counts, order = {}, {}
    local getinfo = debug.getinfo
    jit.off(); jit.flush() -- compiled code calls no hook
    debug.sethook(function()
      local info = getinfo(2, "Sn")
      local key = info.what == "C" and ("C " .. tostring(info.name))
        or (info.what .. " " .. info.short_src .. ":" .. info.linedefined .. " " .. tostring(info.name))
      if not counts[key] then counts[key] = 0; order[#order + 1] = key end
      counts[key] = counts[key] + 1
    end, "c")
    local res, err = client:attach_to_candidate{ candidate_id = "cand-1",
      body = { attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf", bytes = bytes } } }
    debug.sethook()
    jit.on()
    if not res then return fail(tostring(err)) end
    local out, c_total, all = {}, 0, 0
    for _, k in ipairs(order) do
      out[#out + 1] = ("%5d %s"):format(counts[k], k)
      all = all + counts[k]
      if k:sub(1, 2) == "C " then c_total = c_total + counts[k] end
    end
    table.sort(out)
    ngx.print(table.concat(out, "\n"), ("\ncalls: %d, of C functions: %d\n"):format(all, c_total))
    return
  end
  ngx.print("ok")
end

-- GET /phases?n=N: the steps of /kombo that need no network, each run N
-- times in a loop in this worker (JIT-compiled as in /kombo), in
-- microseconds of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per
-- step; the transport is what /kombo costs beyond their sum.
local phase_body
function M.phases()
  local ffi = require "ffi"
  pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } kombo_bench_ts;"
    .. "int clock_gettime(int clk, kombo_bench_ts *ts);")
  local ts = ffi.new("kombo_bench_ts")
  local function cpu_us()
    ffi.C.clock_gettime(3, ts) -- CLOCK_THREAD_CPUTIME_ID
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
  end
  local n = math.min(tonumber(ngx.var.arg_n) or 20000, 200000)
  local reps = math.min(tonumber(ngx.var.arg_reps) or 5, 20)
  local core = require "kombo.core"
  local errors = require "kombo.errors"
  local call_mod = require "kombo.call"
  local p = require("kombo.client").state(client, "attach_to_candidate")
  local op = call_mod.OPERATIONS.attach_to_candidate
  phase_body = phase_body or string.rep("x", 1024)
  local function args()
    return { candidate_id = "cand-1", body = { attachment = { name = "cv.pdf", type = "CV",
      content_type = "application/pdf", bytes = phase_body } } }
  end
  local headers = "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 05 Dec 2026 04:00:00 GMT\r\n"
    .. "Content-Type: application/json\r\nContent-Length: " .. #SUCCESS .. "\r\nConnection: keep-alive\r\n\r\n"
  local resp = { status = 200, headers = headers, body = SUCCESS, phase = "done" }
  local steps = {
    { "argument table (the caller's)", function() return args() end },
    { "prepare (read the arguments, validate, body writer) + close", function()
      local c = call_mod.prepare(client, p, op, args(), "attach_to_candidate", 2)
      c:close()
    end },
    { "call:request_head() (the head, target key, length, cap, timeouts)", function(c) c:request_head() end, true },
    { "body: call:read() to the end", function(c)
      c:rewind()
      for _ = 1, 100 do if not c:read(2048, true) then break end end
    end, true },
    { "framing headers: core.framing", function() core.framing(headers) end },
    { "call:next + call:complete (classification) + call:result", function(c)
      c:next(core.now()); c:complete(resp, core.now(), 0); c:result()
    end, true },
    -- (from_result turns the raw table into `res`: a new one per run)
    { "call:result + errors.from_result (success)", function(c) errors.from_result(c:result(), "bench-key") end,
      true },
    { "core.now() x 6 (a Lua C API call each)", function() for _ = 1, 6 do core.now() end end },
    { "the clock x 6 through LuaJIT's FFI (5 monotonic, 1 both: what a call reads)", function()
      for _ = 1, 5 do ffi.C.clock_gettime(1, ts) end
      ffi.C.clock_gettime(1, ts); ffi.C.clock_gettime(0, ts)
    end },
  }
  -- The transport's Lua with a socket that answers at once (no syscalls,
  -- no nginx): kombo.cosocket and kombo.call loaded again with
  -- ngx.socket.tcp replaced, so that the real modules stay untouched.
  local answer = headers .. SUCCESS
  local Fake = {}
  Fake.__index = Fake
  function Fake.settimeouts() return true end
  function Fake.connect() return 1 end
  function Fake.getreusedtimes() return 1 end
  function Fake.send(_, data) return type(data) == "string" and #data or 1 end
  function Fake.receiveany(self) if self.done then return nil, "closed" end self.done = true return answer end
  function Fake.setkeepalive() return 1 end
  function Fake.close() return 1 end
  local real_tcp, saved_cos, saved_call = ngx.socket.tcp, package.loaded["kombo.cosocket"], package.loaded["kombo.call"]
  ngx.socket.tcp = function() return setmetatable({}, Fake) end -- luacheck: ignore 122
  package.loaded["kombo.cosocket"], package.loaded["kombo.call"] = nil, nil
  local ok, fake_cos = pcall(require, "kombo.cosocket")
  local fake_call = ok and require("kombo.call")
  ngx.socket.tcp = real_tcp -- luacheck: ignore 122
  package.loaded["kombo.cosocket"], package.loaded["kombo.call"] = saved_cos, saved_call
  if ok then
    steps[#steps + 1] = { "cosocket.perform, socket answering at once (prepare and close not counted: above)",
      function() end, false, function(c) fake_cos.perform(c, p.config) end }
    steps[#steps + 1] = { "the whole client:attach_to_candidate, socket answering at once", function()
      local res = fake_call.call_operation(client, op, args(), "attach_to_candidate")
      assert(res and res.data)
    end }
  end
  local prof_mode = ngx.var.arg_prof
  if prof_mode and ok then -- jit.p over the whole call with the socket answering at once
    local jp = require "jit.p"
    local fn = steps[#steps][2]
    for _ = 1, 200 do fn() end
    local file = ngx.var.arg_file
    jp.start(prof_mode, file)
    for _ = 1, n do fn() end
    jp.stop()
    ngx.print("profiled into ", file, "\n")
    return
  end
  local out = {}
  for _, step in ipairs(steps) do
    local c, raw
    if step[3] then
      c = call_mod.prepare(client, p, op, args(), "attach_to_candidate", 2)
      c:next(core.now()); c:complete(resp, core.now(), 0); raw = c:result()
    end
    local fn, best = step[2], math.huge
    for _ = 1, reps do -- the least of `reps` timings: what other processes added is not the step's
      local us
      if step[4] then -- timed without a fresh call's prepare and close
        local calls = {}
        for round = 1, 2 do -- the first a warm-up
          local m = round == 1 and 200 or math.min(n, 2000)
          for i = 1, m do calls[i] = call_mod.prepare(client, p, op, args(), "attach_to_candidate", 2) end
          local t0 = cpu_us()
          for i = 1, m do step[4](calls[i]) end
          us = (cpu_us() - t0) / m
          for i = 1, m do calls[i]:close(); calls[i] = nil end
        end
      else
        for _ = 1, 200 do fn(c, raw) end -- warm-up: compiled as in /kombo
        local t0 = cpu_us()
        for _ = 1, n do fn(c, raw) end
        us = (cpu_us() - t0) / n
      end
      if us < best then best = us end
    end
    local us = best
    -- bytes of Lua heap the step allocates per run (the collector stopped
    -- over 1,000 runs; what C allocates with malloc is not counted)
    local bytes = "-"
    if not step[4] then
      collectgarbage("collect")
      collectgarbage("stop")
      local k0 = collectgarbage("count")
      for _ = 1, 1000 do fn(c, raw) end
      bytes = ("%.0f"):format((collectgarbage("count") - k0) * 1024 / 1000)
      collectgarbage("restart")
    end
    if c then c:close() end
    out[#out + 1] = ("| %s | %.2f | %s |"):format(step[1], us, bytes)
  end
  if ok then
    -- The whole call again, with the data caches filled with other bytes
    -- before each call (a 2 MiB write, the size of this machine's L2 and
    -- more than its L1: what the kernel's sockets, nginx and the other
    -- connections do between two calls of /kombo), the call alone timed:
    -- the same work as above, at the speed it gets inside nginx.
    -- (each call timed alone: the clock's own cost, timed the same way
    -- around nothing, is subtracted)
    local size = 2 * 1024 * 1024
    local junk = ffi.new("char[?]", size)
    local function cold(fn)
      local best = math.huge
      for rep = 1, reps do
        local m, total = math.min(n, 2000), 0
        for i = 1, m do
          ffi.fill(junk, size, (rep + i) % 256)
          local t0 = cpu_us()
          fn()
          total = total + (cpu_us() - t0)
        end
        if total / m < best then best = total / m end
      end
      return best
    end
    local us = cold(steps[#steps][2]) - cold(function() end)
    out[#out + 1] = ("| the whole call as above, 2 MiB of other data written before each call | %.2f | - |"):format(us)
  end
  ngx.print("| step (least of ", reps, " loops of ", n, ") | us | Lua heap bytes allocated |\n| --- | ---: | ---: |\n",
    table.concat(out, "\n"), "\n")
end

function M.bigresult()
  ngx.print(dict:get("big") or "none")
end

return M
