-- Helpers for the kombo-attach specs: run bin/kombo-attach as a subprocess
-- (the interpreter running the spec, its build of kombo.core), in the
-- foreground or in the background (to signal it), with a controlled
-- environment: KOMBO_* come only from the spec.
local servers = require "support.servers"
local files = require "support.files"
local sys = require "support.sys"
local socket = require "socket"

local cli = {}

local q = files.sh_quote
cli.q = q
cli.ROOT = assert(io.popen("pwd")):read("*l")

local function this_lua()
  if type(jit) == "table" then return "luajit", "build/5.1" end
  local v = _VERSION:match("%d%.%d")
  return "lua" .. v, "build/" .. v
end

--- A temp dir with files: `{ ["a.txt"] = "bytes", ["sub/b.pdf"] = "..." }`.
function cli.dir(contents)
  local dir = files.tmpdir()
  for name, text in pairs(contents or {}) do
    local sub = name:match("^(.*)/[^/]*$")
    if sub then assert(files.run("mkdir -p " .. q(dir .. "/" .. sub))) end
    sys.write_file(dir .. "/" .. name, text)
  end
  return dir
end
cli.rmtree = files.rmtree
cli.write = sys.write_file
cli.read = sys.read_file

--- Environment for a run: the stand-in, key test-key, a fresh integration.
function cli.env(over)
  local e = {
    KOMBO_API_KEY = servers.API_KEY, KOMBO_SERVER_URL = servers.standin_url(),
    KOMBO_INTEGRATION_ID = servers.unique("cli"),
  }
  for k, v in pairs(over or {}) do
    if v == servers.NONE then e[k] = nil else e[k] = v end
  end
  return e
end

local function command(args, env, cwd, seconds, program)
  local lua, build = this_lua()
  local parts = { "cd", q(cwd or cli.ROOT), "&&" }
  if seconds then -- timeout(1): SIGTERM (counted by kombo-attach), then SIGKILL 3 s later
    parts[#parts + 1] = ("timeout -k 3 %d"):format(servers.bound(seconds))
  end
  parts[#parts + 1] = "env"
  parts[#parts + 1] = "-u KOMBO_API_KEY -u KOMBO_INTEGRATION_ID -u KOMBO_SERVER_URL"
  local keys = {}
  for k in pairs(env) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. q(env[k]) end
  parts[#parts + 1] = "LUA_PATH=" .. q(cli.ROOT .. "/lua/?.lua;" .. cli.ROOT .. "/lua/?/init.lua;;")
  parts[#parts + 1] = "LUA_CPATH=" .. q(cli.ROOT .. "/" .. build .. "/?.so;;")
  parts[#parts + 1] = lua
  parts[#parts + 1] = q(cli.ROOT .. "/bin/" .. (program or "kombo-attach"))
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

--- Runs `kombo ARGS...` (bin/kombo) to the end, like cli.run.
function cli.kombo(args, env, cwd, seconds, stdin)
  return cli.run(args, env, cwd, seconds, stdin, "kombo")
end

--- Runs kombo-attach to the end: exit status, stdout, stderr.  With
--- `seconds`, a run still going after that long is stopped (exit 124 or 137):
--- for what would hang the suite if it regressed.
function cli.run(args, env, cwd, seconds, stdin, program)
  local out, err = os.tmpname(), os.tmpname()
  local p = assert(io.popen(command(args, env, cwd, seconds, program) .. " >" .. q(out) .. " 2>" .. q(err) .. " <"
    .. q(stdin or "/dev/null") .. "; echo $?"))
  local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local o, e = sys.read_file(out), sys.read_file(err)
  os.remove(out)
  os.remove(err)
  return rc, o, e
end

--- Starts kombo-attach (or `program`: "kombo") in the background: a handle
--- for cli.signal / cli.wait.
function cli.spawn(args, env, cwd, program)
  local h = { dir = files.tmpdir() }
  -- pid and rc are written under a temporary name and renamed: never read half-written
  local d = h.dir
  local inner = ("%s >%s 2>%s </dev/null & echo $! >%s && mv %s %s; wait $!; echo $? >%s && mv %s %s"):format(
    command(args, env, cwd, nil, program), q(d .. "/out"), q(d .. "/err"), q(d .. "/pid.tmp"), q(d .. "/pid.tmp"), q(d .. "/pid"),
    q(d .. "/rc.tmp"), q(d .. "/rc.tmp"), q(d .. "/rc"))
  assert(files.run("sh -c " .. q(inner) .. " >/dev/null 2>&1 &"))
  assert(cli.wait_for(function() return sys.read_file(h.dir .. "/pid") end, 10), "kombo-attach did not start")
  h.pid = tonumber(sys.read_file(h.dir .. "/pid"))
  return h
end

function cli.signal(h, sig)
  assert(files.run(("kill -%s %d"):format(sig, h.pid)))
end

--- Waits (bounded) for a spawned run to end: exit status, stdout, stderr.
function cli.wait(h, seconds)
  local rc = cli.wait_for(function()
    local s = sys.read_file(h.dir .. "/rc")
    return s and tonumber(s:match("%d+"))
  end, seconds or 30)
  local o, e = sys.read_file(h.dir .. "/out"), sys.read_file(h.dir .. "/err")
  if rc then files.rmtree(h.dir) end
  return rc, o, e
end

--- Polls fn every 20 ms until it returns a true value or `seconds` pass.
function cli.wait_for(fn, seconds)
  local deadline = socket.gettime() + servers.bound(seconds)
  repeat
    local v = fn()
    if v then return v end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return nil
end

--- Lines of a file that match a pattern.
function cli.count_lines(path, pattern)
  local n = 0
  for l in (sys.read_file(path) or ""):gmatch("[^\n]+") do
    if l:find(pattern) then n = n + 1 end
  end
  return n
end

--- The stand-in's upload records (POSTs) for an integration, and how many
--- accepted (200) uploads each attachment name got.
function cli.uploads(integration)
  local posts, accepted = {}, {}
  for _, rec in ipairs(servers.requests(integration)) do
    if rec.method == "POST" then
      posts[#posts + 1] = rec
      local name = rec.attachment and rec.attachment.name
      if name and type(rec.response) == "table" and rec.response.status == 200 then
        accepted[name] = (accepted[name] or 0) + 1
      end
    end
  end
  return posts, accepted
end

function cli.gets(integration)
  local n = 0
  for _, rec in ipairs(servers.requests(integration)) do
    if rec.method == "GET" then n = n + 1 end
  end
  return n
end

return cli
