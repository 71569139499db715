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

--- Builds `out` from `sources` (a space-separated list) with `cc` and the
-- `extra` flags, links `libs`, runs it, and asserts that it ended with
-- ", 0 failed".
function c_test.build_and_run(cc, extra, sources, libs, out)
  local ok, log = sh("mkdir -p build && " .. cc .. " " .. c_test.FLAGS .. " " .. extra .. " -o " .. out
    .. " " .. sources .. " " .. libs)
  assert(ok, "building " .. out .. " failed:\n" .. log)
  local ran, output = sh(out)
  assert(ran, out .. " failed:\n" .. output)
  assert(output:find(", 0 failed", 1, true), output)
end

--- The two specs of a C unit test, inside a describe block (busted's `it`
-- and `pending` are the spec file's): built with cc and run, and the same
-- under ASan/UBSan when clang is installed (#slow: the ASan build takes most
-- of the time; make test runs it).  #once: the Lua running busted changes
-- nothing in a C program, so make test runs them on its Lua 5.4 run only
-- (they cost about 20 s per run, mostly compiling).
function c_test.specs(it, pending, program, sources, libs)
  it("passes " .. program .. " #once", function()
    c_test.build_and_run("cc", "-O1", sources(), libs, "build/" .. program:match("([%w_]+)%.c$"))
  end)
  it("passes it under ASan and UBSan (when clang is installed) #slow #once", function()
    if not sh("command -v clang >/dev/null") then
      pending("clang is not installed")
      return
    end
    c_test.build_and_run("clang", c_test.ASAN, sources(), libs, "build/" .. program:match("([%w_]+)%.c$") .. "_asan")
  end)
end

return c_test
