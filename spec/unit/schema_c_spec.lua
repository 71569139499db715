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
  c_test.specs(it, pending, "spec/c/schema_test.c", sources, LIBS)
end)
