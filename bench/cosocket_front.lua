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
function M.kombo()
  local bytes = small_body()
  local res, err = client:attach_to_candidate{ candidate_id = "cand-1",
    body = { attachment = { name = "cv.pdf", type = "CV", content_type = "application/pdf", bytes = bytes } } }
  if not res then return fail(tostring(err)) end
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

function M.floor()
  local bytes = small_body()
  floor_request = floor_request or build_floor(bytes)
  local sock = ngx.socket.tcp()
  sock:settimeouts(5000, 30000, 30000)
  local ok, err = sock:connect("127.0.0.1", target_port, { pool = "floor" })
  if not ok then return fail(err) end
  ok, err = sock:send(floor_request)
  if not ok then return fail(err) end
  local line = sock:receive("*l")
  if not line or line:sub(10, 12) ~= "200" then return fail("bad status: " .. tostring(line)) end
  local length
  for _ = 1, 100 do
    local h = sock:receive("*l")
    if not h then return fail("headers") end
    if h == "" then break end
    local v = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if v then length = tonumber(v) end
  end
  local body = sock:receive(length)
  if not body then return fail("body") end
  sock:setkeepalive(60000, 32)
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

function M.bigresult()
  ngx.print(dict:get("big") or "none")
end

return M
