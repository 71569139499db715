-- The descriptor-driven validator and writer (csrc/core/schema.h) through
-- their C unit tests (spec/c/schema_test.c): built with cc into build/,
-- run, and once more under ASan/UBSan when clang is there.  The program's
-- own output is shown when it fails.
local c_test = require "support.c_test"

local function sources()
  local list = {}
  local p = assert(io.popen("ls spec/c/schema_test.c csrc/core/*.c csrc/gen/*.c"))
  for l in p:lines() do list[#list + 1] = l end
  p:close()
  return table.concat(list, " ")
end

local LIBS = "$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl) "
  .. "$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto) -lm"

describe("schema.h's validator and writer in C #unit", function()
  it("passes spec/c/schema_test.c", function()
    c_test.build_and_run("cc", "-O1", sources(), LIBS, "build/schema_test")
  end)

  -- #slow: the ASan build takes most of this file's time; make test runs it.
  it("passes it under ASan and UBSan (when clang is installed) #slow", function()
    if not c_test.has_clang() then
      pending("clang is not installed")
      return
    end
    c_test.build_and_run("clang", c_test.ASAN, sources(), LIBS, "build/schema_test_asan")
  end)
end)
