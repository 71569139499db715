-- Writes the rockspec's list of kombo.core's C sources from the folders
-- (csrc/core, csrc/gen, csrc/curl, csrc/lua: every .c file), the one list
-- the Makefile also derives with wildcards.  Run by `make generate`;
-- spec/unit/rockspec_spec.lua fails when the two disagree.
--   lua5.4 tools/rockspec_sources.lua [ROCKSPEC]
local path = arg[1] or "kombo-0.1.0-1.rockspec"

local files = {}
for _, dir in ipairs({ "core", "gen", "curl", "lua" }) do
  local p = assert(io.popen("ls csrc/" .. dir .. "/*.c 2>/dev/null | LC_ALL=C sort"))
  for f in p:lines() do files[#files + 1] = f end
  p:close()
end

local lines = { "         sources = {" }
for i = 1, #files, 4 do
  local row = {}
  for j = i, math.min(i + 3, #files) do row[#row + 1] = ('"%s"'):format(files[j]) end
  lines[#lines + 1] = "            " .. table.concat(row, ", ") .. ","
end
lines[#lines + 1] = "         },"

local f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
local a, b = text:find("         sources = {\n.-\n         },", 1)
assert(a, path .. ": no `sources = {` block")
local new = text:sub(1, a - 1) .. table.concat(lines, "\n") .. text:sub(b + 1)
if new ~= text then
  f = assert(io.open(path, "wb"))
  f:write(new)
  f:close()
  print("wrote " .. path)
end
