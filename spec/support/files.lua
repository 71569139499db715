-- Helpers for the streaming specs (attachment.file / bytes / source):
-- temporary directories and files of random bytes, a pure-Lua base64
-- decoder (to check what arrived without trusting the core's encoder),
-- sources that yield uneven chunks, SHA-1 through sha1sum(1), the exact
-- JSON body kombo is expected to send, and cheap access to the stand-in's
-- newest records (GET /_requests?since=<seq>).
--
-- Works on Lua 5.1 (LuaJIT) to 5.4: no \x escapes, no integer division,
-- no goto, os.execute's result is read both ways.
local files = {}

---------------------------------------------------------------- shell

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
files.sh_quote = sh_quote

--- Runs a shell command; true when it exited 0 (5.1 returns a number,
--- 5.2+ true/nil plus "exit", code).
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end
files.run = run

---------------------------------------------------------------- temp files

--- A fresh directory next to os.tmpname()'s files (or under .tmp/ when that
--- fails).  Returns its path.
function files.tmpdir()
  local name = os.tmpname()
  os.remove(name) -- os.tmpname creates the file on POSIX
  if not run("mkdir -p " .. sh_quote(name) .. " 2>/dev/null") then
    name = ".tmp/streaming-" .. tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
    assert(run("mkdir -p " .. sh_quote(name)), "cannot create a temp dir")
  end
  return name
end

--- Removes a directory made by files.tmpdir (and everything in it).
function files.rmtree(dir)
  if dir and dir ~= "" and dir ~= "/" then
    run("chmod -R u+rwx " .. sh_quote(dir) .. " 2>/dev/null; rm -rf " .. sh_quote(dir))
  end
end

--- n random bytes from /dev/urandom.
function files.random_bytes(n)
  if n == 0 then return "" end
  local f = assert(io.open("/dev/urandom", "rb"))
  local parts, left = {}, n
  while left > 0 do
    local chunk = assert(f:read(left < 1048576 and left or 1048576))
    parts[#parts + 1] = chunk
    left = left - #chunk
  end
  f:close()
  return table.concat(parts)
end

function files.write(path, content)
  local f = assert(io.open(path, "wb"))
  assert(f:write(content))
  assert(f:close())
  return path
end

function files.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

---------------------------------------------------------------- base64

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local DEC = {}
for i = 1, 64 do DEC[B64:byte(i)] = i - 1 end

--- Strict standard base64 (padded, length a multiple of 4) -> bytes.
-- Raises on anything else, so a malformed `data` fails loudly.
function files.base64_decode(s)
  assert(type(s) == "string", "base64: not a string")
  assert(#s % 4 == 0, "base64: length " .. #s .. " is not a multiple of 4")
  local out, n = {}, 0
  local char = string.char
  local byte = string.byte
  local groups = #s / 4
  local buf = {}
  local bn = 0
  for g = 0, groups - 1 do
    local i = g * 4 + 1
    local a, b, c, d = byte(s, i, i + 3)
    local va, vb = DEC[a], DEC[b]
    assert(va and vb, "base64: bad character near " .. i)
    local last = g == groups - 1
    if last and d == 61 then -- '='
      if c == 61 then
        bn = bn + 1
        buf[bn] = char(va * 4 + math.floor(vb / 16))
        assert(vb % 16 == 0, "base64: non-zero padding bits")
      else
        local vc = DEC[c]
        assert(vc, "base64: bad character near " .. i + 2)
        assert(vc % 4 == 0, "base64: non-zero padding bits")
        bn = bn + 1
        buf[bn] = char(va * 4 + math.floor(vb / 16), (vb % 16) * 16 + math.floor(vc / 4))
      end
    else
      local vc, vd = DEC[c], DEC[d]
      assert(vc and vd, "base64: bad character near " .. i)
      bn = bn + 1
      buf[bn] = char(va * 4 + math.floor(vb / 16), (vb % 16) * 16 + math.floor(vc / 4), (vc % 4) * 64 + vd)
    end
    if bn >= 4096 then
      n = n + 1
      out[n] = table.concat(buf, "", 1, bn)
      bn = 0
    end
  end
  n = n + 1
  out[n] = table.concat(buf, "", 1, bn)
  return table.concat(out)
end

--- Length of the base64 text for n raw bytes.
function files.base64_len(n)
  return math.ceil(n / 3) * 4
end

---------------------------------------------------------------- sources

files.UNEVEN = { 1, 7, 4096, 65537 }

--- A source function handing out `content` in chunks of the sizes in
--- `sizes` (cycled), then nil.  Returns the function and a table whose
--- `calls` counts the calls.
function files.chunked_source(content, sizes)
  sizes = sizes or files.UNEVEN
  local pos, k = 1, 0
  local stats = { calls = 0 }
  return function()
    stats.calls = stats.calls + 1
    if pos > #content then return nil end
    k = k % #sizes + 1
    local chunk = content:sub(pos, pos + sizes[k] - 1)
    pos = pos + #chunk
    return chunk
  end, stats
end

---------------------------------------------------------------- hashing

--- Hex SHA-1 of a file (sha1sum).
function files.sha1_file(path)
  local p = assert(io.popen("sha1sum " .. sh_quote(path)))
  local out = p:read("*a")
  p:close()
  local hex = out:match("^(%x+)")
  assert(hex and #hex == 40, "sha1sum failed: " .. tostring(out))
  return hex
end

--- Hex SHA-1 of a string (written to `dir`, hashed, removed).
function files.sha1(s, dir)
  local path = (dir or files.tmpdir()) .. "/sha1-input.bin"
  files.write(path, s)
  local hex = files.sha1_file(path)
  os.remove(path)
  return hex
end

---------------------------------------------------------------- the body

-- A JSON string for the plain ASCII names and types the specs use (the
-- helper refuses anything that would need escaping, so a mismatch can
-- only come from kombo).
local function json_plain(s)
  assert(not s:find('[%z\1-\31"\\\127-\255]'), "json_plain: needs escaping: " .. s)
  return '"' .. s .. '"'
end

--- The exact body kombo sends for an attachment streamed from file / bytes
--- / source: {"attachment":{"name":..,"content_type":..,"type":..,"data":"<b64>"}}
function files.expected_body(name, content_type, type_, b64)
  return '{"attachment":{"name":' .. json_plain(name) .. ',"content_type":' .. json_plain(content_type)
    .. ',"type":' .. json_plain(type_) .. ',"data":"' .. b64 .. '"}}'
end

---------------------------------------------------------------- stand-in records

--- The stand-in's records for an integration id, fetching only what is
--- newer than the last fetch (records of 1 MiB bodies are big; the suite's
--- older records are not needed).  Falls back to a full fetch when the
--- stand-in was reset meanwhile.
function files.recorder(servers)
  local last = 0
  local cjson = servers.cjson
  local function fetch(since)
    local status, _, body = servers.http("GET", servers.standin_url() .. "/_requests?since=" .. since)
    assert(status == 200, "GET /_requests failed: " .. tostring(status))
    return cjson.decode(body)
  end
  return function(integration_id)
    -- Ask from `last - 1`: record `last` must come back unless the
    -- stand-in was reset (or evicted it), in which case fetch everything.
    local recs = fetch(last > 0 and last - 1 or 0)
    if last > 0 and not (recs[1] and recs[1].seq == last) then recs = fetch(0) end
    local mine = {}
    for _, rec in ipairs(recs) do
      if rec.seq > last then last = rec.seq end
      if servers.header_value(rec, "x-integration-id") == integration_id then mine[#mine + 1] = rec end
    end
    return mine
  end
end

return files
