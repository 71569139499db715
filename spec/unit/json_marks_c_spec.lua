-- The strict JSON scan's record of container ends (csrc/core/json.h, jmarks)
-- through its C unit test (spec/c/json_marks_test.c): built with cc into
-- build/, run, and once more under ASan/UBSan when clang is there.  The
-- program's own output is shown when it fails.
local c_test = require "support.c_test"

-- json.c and what it links to: codec.c (UTF-8, and its SHA-256 needs
-- libcrypto) and buf.c.
local SOURCES = "spec/c/json_marks_test.c csrc/core/json.c csrc/core/codec.c csrc/core/buf.c"
local LIBS = "$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)"

describe("json.h's record of container ends in C #unit", function()
  it("passes spec/c/json_marks_test.c", function()
    c_test.build_and_run("cc", "-O1", SOURCES, LIBS, "build/json_marks_test")
  end)

  -- #slow, as schema_c_spec's: make test runs it.
  it("passes it under ASan and UBSan (when clang is installed) #slow", function()
    if not c_test.has_clang() then
      pending("clang is not installed")
      return
    end
    c_test.build_and_run("clang", c_test.ASAN, SOURCES, LIBS, "build/json_marks_test_asan")
  end)
end)
