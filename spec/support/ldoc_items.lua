-- An LDoc filter for spec/unit/docs_spec.lua: `ldoc --filter ldoc_items.dump .`
-- (with spec/support on LUA_PATH) prints a Lua chunk returning
-- { { module = name, type = "module" | "topic" | ..., name = item, summary = text }, ... }.
-- pl.pretty.dump cannot: a topic's sections point back at their file.
local M = {}

function M.dump(module_list)
  local out = { "return {" }
  for mod in module_list:iter() do
    for item in mod.items:iter() do
      out[#out + 1] = ("{ module = %q, type = %q, name = %q, summary = %q },"):format(
        tostring(mod.name), tostring(mod.type), tostring(item.name), tostring(item.summary or ""))
    end
  end
  out[#out + 1] = "}"
  io.write(table.concat(out, "\n"), "\n")
end

return M
