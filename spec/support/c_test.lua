--- The C unit tests of spec/c/ for their *_c_spec.lua files: a program built
-- with cc into build/, run, and built once more under ASan/UBSan when clang
-- is installed.  The program's own output is shown when it fails.
local c_test = {}

-- A command's success and its output (stdout and stderr together).
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok, _, code = p:close()
  if type(ok) == "number" then code = ok; ok = code == 0 end -- Lua 5.1
  return ok == true and (code == nil or code == 0), out
end

c_test.FLAGS = "-std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -Icsrc $(pkg-config --cflags libcrypto 2>/dev/null)"
c_test.ASAN = "-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

-- The project's own C files among `sources` are taken as the object files
-- the Makefile builds (build/obj, or build/asan/obj for ASan: the same flags
-- as the test program's), made first by `make` if they are stale; the
-- test's own file is compiled here.  Compiling the whole core twice per
-- spec was most of these specs' time.
local function with_objects(sources, objdir)
  local objects = {}
  local list = sources:gsub("csrc/(%S+)%.c", function(name)
    local o = objdir .. "/" .. name .. ".o"
    objects[#objects + 1] = o
    return o
  end)
  if #objects > 0 then
    local ok, log = sh("make -s -j2 " .. table.concat(objects, " "))
    assert(ok, "make " .. objdir .. " objects failed:\n" .. log)
  end
  return list
end

--- Builds `out` from `sources` (a space-separated list) with `cc` and the
-- `extra` flags, links `libs`, runs it, and asserts that it ended with
-- ", 0 failed".  `objdir`: where the Makefile puts the objects of csrc/.
-- The program gets a name of its own per run (removed after it): make test
-- runs these specs in two lanes at once (Lua 5.4's and the ASan suite's),
-- and one lane writing the program while the other runs it fails with
-- "Text file busy".
function c_test.build_and_run(cc, extra, sources, libs, out, objdir)
  sources = with_objects(sources, objdir)
  local unique = os.tmpname() -- (a file Lua made: only its name is wanted)
  os.remove(unique)
  out = out .. "." .. unique:match("([^/]+)$")
  local ok, log = sh("mkdir -p build && " .. cc .. " " .. c_test.FLAGS .. " " .. extra .. " -o " .. out
    .. " " .. sources .. " " .. libs)
  assert(ok, "building " .. out .. " failed:\n" .. log)
  local ran, output = sh(out)
  os.remove(out)
  assert(ran, out .. " failed:\n" .. output)
  assert(output:find(", 0 failed", 1, true), output)
end

--- The two specs of a C unit test, inside a describe block (busted's `it`
-- and `pending` are the spec file's): built with cc and run, and the same
-- under ASan/UBSan when clang is installed (#slow: the ASan build takes most
-- of the time; make test runs it).  #once: the Lua running busted changes
-- nothing in a C program, so make test runs them on its Lua 5.4 run only
-- (they cost about 20 s per run, mostly compiling, before they linked the
-- Makefile's objects).
function c_test.specs(it, pending, program, sources, libs)
  it("passes " .. program .. " #once", function()
    c_test.build_and_run("cc", "-O1", sources(), libs, "build/" .. program:match("([%w_]+)%.c$"), "build/obj")
  end)
  it("passes it under ASan and UBSan (when clang is installed) #slow #once", function()
    if not sh("command -v clang >/dev/null") then
      pending("clang is not installed")
      return
    end
    -- (the compiler the Makefile builds build/asan/obj with: ASAN_CC, clang by default)
    c_test.build_and_run(os.getenv("ASAN_CC") or "clang", c_test.ASAN, sources(), libs, "build/" .. program:match("([%w_]+)%.c$") .. "_asan",
      "build/asan/obj")
  end)
end

return c_test
