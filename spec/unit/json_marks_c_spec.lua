-- The strict JSON scan's record of container ends (csrc/core/json.h, jmarks)
-- through its C unit test (spec/c/json_marks_test.c): built with cc into
-- build/, run, and once more under ASan/UBSan when clang is there.  The
-- program's own output is shown when it fails.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok, _, code = p:close()
  if type(ok) == "number" then code = ok; ok = code == 0 end -- Lua 5.1
  return ok == true and (code == nil or code == 0), out
end

-- json.c and what it links to: codec.c (UTF-8, and its SHA-256 needs
-- libcrypto) and buf.c.
local SOURCES = "spec/c/json_marks_test.c csrc/core/json.c csrc/core/codec.c csrc/core/buf.c"
local LIBS = "$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)"
local FLAGS = "-std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -Icsrc $(pkg-config --cflags libcrypto 2>/dev/null)"

local function build_and_run(cc, extra, out)
  local ok, log = sh("mkdir -p build && " .. cc .. " " .. FLAGS .. " " .. extra .. " -o " .. out
    .. " " .. SOURCES .. " " .. LIBS)
  assert(ok, "building " .. out .. " failed:\n" .. log)
  local ran, output = sh(out)
  assert(ran, out .. " failed:\n" .. output)
  assert.truthy(output:find(" 0 failed", 1, true), output)
end

describe("json.h's record of container ends in C #unit", function()
  it("passes spec/c/json_marks_test.c", function()
    build_and_run("cc", "-O1", "build/json_marks_test")
  end)

  -- #slow, as schema_c_spec's: make test runs it.
  it("passes it under ASan and UBSan (when clang is installed) #slow", function()
    if not sh("command -v clang >/dev/null") then
      pending("clang is not installed")
      return
    end
    build_and_run("clang", "-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer",
      "build/json_marks_test_asan")
  end)
end)
