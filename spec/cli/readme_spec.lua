-- README.md's shell samples, run as written (issue 18, finding 15).
--
-- Every ```sh block of README.md runs, in order, with `sh -e`, in a
-- temporary copy of the checkout (symbolic links to its files; build/5.4,
-- build/5.1 and build/examples link to the checkout's, everything else the
-- samples write stays in the copy), without KOMBO_* or LUA_* in the
-- environment, each within a bounded time.  The samples start and stop the
-- local stand-in themselves (scripts/standin: in the copy, a private
-- instance); a block that leaves it running is stopped afterwards.
--
-- Markers, HTML comments on the lines right above a block (invisible on
-- GitHub, visible in the file):
--   <!-- readme-spec: skip (why) -->      this sh block is not run; the reason is required
--   <!-- readme-spec: expect PATTERN -->  the block's stdout must match this Lua pattern
--   <!-- readme-spec: file NAME -->       write this (non-sh) block to NAME first
--                                         (the quick start's "save it as quickstart.lua")
--
-- The samples name lua5.4 themselves, so they run once: on the Lua 5.4 run
-- of the suite (make check, and lane A of make test).  Tag: readme.
local files = require "support.files"
local sys = require "support.sys"

local q = files.sh_quote
local ROOT = assert(io.popen("pwd")):read("*l")
local SECONDS = 120

--- README.md's fenced blocks with the markers above them.
local function blocks(text)
  local out, lines = {}, {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local i = 1
  while i <= #lines do
    local lang = lines[i]:match("^```(%S*)%s*$")
    if lang then
      local b = { line = i, lang = lang, body = {}, markers = {} }
      local j = i - 1
      while j >= 1 and lines[j]:match("^<!%-%- readme%-spec:") do
        table.insert(b.markers, 1, { line = j, text = lines[j] })
        j = j - 1
      end
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do
        b.body[#b.body + 1] = lines[i]
        i = i + 1
      end
      b.body = table.concat(b.body, "\n") .. "\n"
      out[#out + 1] = b
    end
    i = i + 1
  end
  return out, lines
end

--- A marker's verb and argument, or nil and why it is malformed.
local function parse_marker(text)
  local verb, rest = text:match("^<!%-%- readme%-spec: (%a+)%s*(.-)%s*%-%->%s*$")
  if not verb then return nil, "not <!-- readme-spec: VERB ... -->" end
  if verb == "skip" then
    local why = rest:match("^%((.+)%)$")
    if not why or not why:find("%S") then return nil, "skip needs a reason in parentheses" end
    return verb, why
  elseif verb == "expect" or verb == "file" then
    if rest == "" then return nil, verb .. " needs an argument" end
    return verb, rest
  end
  return nil, "unknown verb '" .. verb .. "'"
end

local text = assert(sys.read_file(ROOT .. "/README.md"))
local all, lines = blocks(text)

describe("README.md's sh blocks #readme #slow", function()
  it("every marker is well formed and stands right above a block", function()
    local marker_lines = {}
    for _, b in ipairs(all) do
      for _, m in ipairs(b.markers) do
        marker_lines[m.line] = true
        local verb, arg = parse_marker(m.text)
        assert(verb, ("README.md:%d: %s"):format(m.line, tostring(arg)))
        if verb == "skip" or verb == "expect" then
          assert(b.lang == "sh", ("README.md:%d: '%s' is for sh blocks"):format(m.line, verb))
        else
          assert(b.lang ~= "sh", ("README.md:%d: 'file' is for the blocks the sh blocks use"):format(m.line))
        end
      end
    end
    for n, l in ipairs(lines) do
      if l:find("readme%-spec") and l:match("^<!%-%-") then
        assert(marker_lines[n], ("README.md:%d: a readme-spec marker that is not right above a block"):format(n))
      end
    end
  end)

  it("has sh blocks to run", function()
    local run, skipped = 0, 0
    for _, b in ipairs(all) do
      if b.lang == "sh" then
        local skip = false
        for _, m in ipairs(b.markers) do if parse_marker(m.text) == "skip" then skip = true end end
        if skip then skipped = skipped + 1 else run = run + 1 end
      end
    end
    assert.is_true(run >= 5, ("sh blocks run: %d (skipped: %d)"):format(run, skipped))
  end)

  local runs_here = _VERSION == "Lua 5.4" and type(jit) ~= "table"
  if not runs_here then
    it("runs the blocks on the Lua 5.4 run of the suite (they name lua5.4 themselves)", function()
      pending("not on " .. (type(jit) == "table" and "LuaJIT" or _VERSION))
    end)
    return
  end

  local dir

  local function stop_standin()
    files.run("cd " .. q(dir) .. " && STANDIN_STOP=fast scripts/standin stop >/dev/null 2>&1")
  end

  setup(function()
    dir = files.tmpdir()
    -- the checkout's top level, linked; build/ and .tmp/ of its own
    local p = assert(io.popen("ls -A " .. q(ROOT)))
    for name in p:lines() do
      if name ~= ".git" and name ~= "build" and name ~= ".tmp" then
        assert(files.run(("ln -s %s %s"):format(q(ROOT .. "/" .. name), q(dir .. "/" .. name))))
      end
    end
    p:close()
    assert(files.run(("mkdir -p %s/build %s/.tmp"):format(q(dir), q(dir))))
    for _, sub in ipairs({ "5.4", "5.1", "examples" }) do
      assert(files.run(("mkdir -p %s && ln -s %s %s"):format(q(ROOT .. "/build/" .. sub),
        q(ROOT .. "/build/" .. sub), q(dir .. "/build/" .. sub))))
    end
  end)

  teardown(function()
    if dir then
      stop_standin()
      files.rmtree(dir)
    end
  end)

  for n, b in ipairs(all) do
    local verbs = {}
    for _, m in ipairs(b.markers) do
      local verb, arg = parse_marker(m.text)
      if verb then verbs[verb] = arg end
    end
    if verbs.file then
      it(("writes README.md:%d's %s block to %s"):format(b.line, b.lang, verbs.file), function()
        sys.write_file(dir .. "/" .. verbs.file, b.body)
      end)
    elseif b.lang == "sh" and verbs.skip then
      it(("README.md:%d"):format(b.line), function()
        pending("skipped by its marker: " .. verbs.skip)
      end)
    elseif b.lang == "sh" then
      it(("README.md:%d runs as written"):format(b.line), function()
        local script = ("%s/.readme-block-%d.sh"):format(dir, n)
        sys.write_file(script, b.body)
        local out, err = script .. ".out", script .. ".err"
        local cmd = ("cd %s && env -u KOMBO_API_KEY -u KOMBO_SERVER_URL -u KOMBO_INTEGRATION_ID"
          .. " -u LUA_PATH -u LUA_CPATH -u LUA_INIT -u LUA_PATH_5_4 -u LUA_CPATH_5_4"
          .. " timeout -k 5 %d sh -e %s >%s 2>%s </dev/null; echo $?"):format(q(dir), SECONDS, q(script), q(out), q(err))
        local p = assert(io.popen(cmd))
        local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
        p:close()
        stop_standin() -- a block that failed half-way may have left it running
        local o, e = sys.read_file(out) or "", sys.read_file(err) or ""
        local shown = ("README.md:%d, exit %s%s\n--- block\n%s--- stdout\n%s\n--- stderr\n%s"):format(
          b.line, tostring(rc), rc == 124 and (" (timed out after %d s)"):format(SECONDS) or "", b.body,
          o:sub(-3000), e:sub(-3000))
        assert(rc == 0, shown)
        if verbs.expect then
          assert(o:find(verbs.expect), ("stdout does not match %q\n%s"):format(verbs.expect, shown))
        end
      end)
    end
  end
end)
