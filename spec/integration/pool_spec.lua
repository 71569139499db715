-- Connections belong to a process-wide pool, not to client objects: clients
-- made, used once and dropped without close() hold no socket, so 3,000 of
-- them under `ulimit -n 256` all succeed; running out of descriptors is
-- reported as such, not_sent, and not retried.
local servers = require "support.servers"
local sys = require "support.sys"

-- The interpreter running this spec, and the build of kombo.core for it.
local function this_lua()
  if type(jit) == "table" then return "luajit", "build/5.1" end
  local v = _VERSION:match("%d%.%d")
  return "lua" .. v, "build/" .. v
end

local SCRIPT = [[
local kombo = require "kombo"
local url, n = arg[1], tonumber(arg[2])
local ok, failed, first = 0, 0, nil
for i = 1, n do
  local client = kombo.new { api_key = "test-key", server_url = url, integration_id = "pool-spec",
                             retries = false, timeout = 10 }
  local res, err = client:attach_to_candidate { candidate_id = "pool-" .. i,
    body = { attachment = { name = "cv.txt", type = "CV", content_type = "text/plain", data = "aGk=" } } }
  if res then ok = ok + 1 else failed = failed + 1; first = first or tostring(err) end
  client = nil -- dropped, never closed
end
print(ok, failed, first or "")
]]

local function run(limit, n)
  local lua, build = this_lua()
  local path = os.tmpname()
  sys.write_file(path, SCRIPT)
  local cmd = ("ulimit -n %d && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;' %s %s %s %d 2>&1")
    :format(limit, build, lua, path, servers.standin_url(), n)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local ok, failed, first = out:match("^(%d+)\t(%d+)\t([^\n]*)")
  assert(ok, "the child printed: " .. out)
  return tonumber(ok), tonumber(failed), first
end

describe("the process-wide connection pool #integration", function()
  it("3,000 clients dropped without close() under ulimit -n 256: every call succeeds", function()
    local ok, failed, first = run(256, 3000)
    assert.equals(0, failed, first)
    assert.equals(3000, ok)
  end)

  it("out of descriptors: network, not_sent, 'too many open files', one attempt", function()
    local lua, build = this_lua()
    local path = os.tmpname()
    sys.write_file(path, [[
local kombo = require "kombo"
local held = {}
for i = 1, 64 do held[i] = io.open("/dev/null") end -- use up the few descriptors left
local client = kombo.new { api_key = "test-key", server_url = arg[1], integration_id = "pool-spec",
                           retries = { max_attempts = 5, initial_interval = 0.01 } }
local res, err = client:attach_to_candidate { candidate_id = "pool-emfile",
  body = { attachment = { name = "cv.txt", type = "CV", content_type = "text/plain", data = "aGk=" } } }
print(res and "ok" or (err.kind .. "|" .. err.outcome .. "|" .. err.attempts .. "|" .. err.message))
]])
    local cmd = ("ulimit -n 20 && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;' %s %s %s 2>&1")
      :format(build, lua, path, servers.standin_url())
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    os.remove(path)
    local kind, outcome, attempts, message = out:match("^(%w+)|([%w_]+)|(%d+)|([^\n]*)")
    assert(kind, "the child printed: " .. out)
    assert.equals("network", kind)
    assert.equals("not_sent", outcome)
    assert.equals("1", attempts)
    assert.truthy(message:find("too many open files", 1, true), message)
  end)
end)

describe("the pool after fork() #integration", function()
  local has_ffi, ffi = pcall(require, "ffi")
  if not has_ffi then
    pending("needs LuaJIT's FFI to fork")
    return
  end
  ffi.cdef [[ int fork(void); int waitpid(int pid, int *status, int options); void _exit(int status); ]]

  it("a forked child does not use the kept-alive connections it inherited; parent and child both succeed", function()
    local kombo = require "kombo"
    local function upload(c, id)
      return c:attach_to_candidate { candidate_id = id,
        body = { attachment = { name = "cv.txt", type = "CV", content_type = "text/plain", data = "aGk=" } } }
    end
    local client, integ = servers.client { retries = false }
    assert(upload(client, "fork-parent-1")) -- leaves a kept-alive connection in the pool
    local pid = ffi.C.fork()
    if pid == 0 then
      local ok = pcall(function()
        local c = kombo.new { api_key = servers.API_KEY, server_url = servers.standin_url(),
                              integration_id = integ, retries = false, timeout = 5 }
        assert(upload(c, "fork-child"))
      end)
      ffi.C._exit(ok and 0 or 1)
    end
    local status = ffi.new("int[1]")
    assert.equals(pid, ffi.C.waitpid(pid, status, 0))
    assert.equals(0, status[0], "the child's upload failed")
    local res, err = upload(client, "fork-parent-2")
    assert.is_nil(err, err and tostring(err))
    assert.equals("success", res.status)
    -- the child opened a connection of its own: it was the first request on it
    local child
    for _, rec in ipairs(servers.requests(integ)) do
      if rec.path_id == "fork-child" then child = rec end
    end
    assert.is_table(child)
    assert.equals(1, child.connection_requests)
  end)
end)
