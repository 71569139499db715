-- The descriptor-driven validator and writer (csrc/core/schema.h) through
-- their C unit tests (spec/c/schema_test.c): built with cc into build/,
-- run, and once more under ASan/UBSan when clang is there.  The program's
-- own output is shown when it fails.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok, _, code = p:close()
  if type(ok) == "number" then code = ok; ok = code == 0 end -- Lua 5.1
  return ok == true and (code == nil or code == 0), out
end

local function sources()
  local list = {}
  local p = assert(io.popen("ls csrc/core/*.c csrc/gen/*.c"))
  for l in p:lines() do list[#list + 1] = l end
  p:close()
  return table.concat(list, " ")
end

local LIBS = "$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl) "
  .. "$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto) -lm"
local FLAGS = "-std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -Icsrc $(pkg-config --cflags libcrypto 2>/dev/null)"

local function build_and_run(cc, extra, out)
  local ok, log = sh("mkdir -p build && " .. cc .. " " .. FLAGS .. " " .. extra .. " -o " .. out
    .. " spec/c/schema_test.c " .. sources() .. " " .. LIBS)
  assert(ok, "building " .. out .. " failed:\n" .. log)
  local ran, output = sh(out)
  assert(ran, out .. " failed:\n" .. output)
  assert.truthy(output:find("0 failed", 1, true), output)
end

describe("schema.h's validator and writer in C #unit", function()
  it("passes spec/c/schema_test.c", function()
    build_and_run("cc", "-O1", "build/schema_test")
  end)

  -- #slow: the ASan build takes most of this file's time; make test runs it.
  it("passes it under ASan and UBSan (when clang is installed) #slow", function()
    if not sh("command -v clang >/dev/null") then
      pending("clang is not installed")
      return
    end
    build_and_run("clang", "-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer",
      "build/schema_test_asan")
  end)
end)
