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
  c_test.specs(it, pending, "spec/c/json_marks_test.c", function() return SOURCES end, LIBS)
end)
