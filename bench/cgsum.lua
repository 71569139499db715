-- Instructions per call from two callgrind profiles of the same program run
-- with N1 and N2 calls: (profile2 - profile1) / (N2 - N1), so process start,
-- module loading and connection set-up cancel out.
--
--   lua5.4 bench/cgsum.lua OUT1 N1 OUT2 N2 [TOP [FUNCTION...]]
--
-- Prints machine-readable lines (tab-separated after the first word):
--   total <Ir per call>
--   group <name> <Ir per call>        self cost by object file, grouped
--   fn <Ir per call> <object> <function>   the TOP costliest functions (self)
--   inc <function> <Ir per call>      inclusive cost of each FUNCTION named
--                                     (self + everything it calls)

local function parse(path)
  local by_obj, by_fn, calls_fn = {}, {}, {}
  local names = { ob = {}, fn = {} }
  local ob, fn = "?", "?"
  local skip_next = false
  for line in io.lines(path) do
    local c = line:byte(1)
    if c and (c >= 48 and c <= 57 or c == 43 or c == 45 or c == 42) then
      if skip_next then
        skip_next = false
        local ir = tonumber(line:match("^%S+%s+(%d+)") or 0)
        local key = ob .. "\0" .. fn
        calls_fn[key] = (calls_fn[key] or 0) + ir
      else
        local ir = line:match("^%S+%s+(%d+)")
        if ir then
          ir = tonumber(ir)
          by_obj[ob] = (by_obj[ob] or 0) + ir
          local key = ob .. "\0" .. fn
          by_fn[key] = (by_fn[key] or 0) + ir
        end
      end
    else
      local kind, rest = line:match("^(%a+)=(.*)$")
      if kind == "ob" or kind == "fn" then
        local id, name = rest:match("^%((%d+)%)%s*(.*)$")
        if id then
          if name ~= "" then names[kind][id] = name else name = names[kind][id] end
        else
          name = rest
        end
        if kind == "ob" then ob = name else fn = name end
      elseif kind == "cob" or kind == "cfn" then
        local id, name = rest:match("^%((%d+)%)%s*(.*)$")
        local k = kind:sub(2)
        if id and name ~= "" then names[k][id] = name end
      elseif kind == "calls" then
        skip_next = true
      end
    end
  end
  return by_obj, by_fn, calls_fn
end

local GROUPS = {
  { "kombo core (core.so)", "kombo/core%.so$" },
  { "libcurl", "libcurl" },
  { "Lua VM (lua5.4)", "/lua5%.4$" },
  { "lua-cjson", "cjson" },
  { "libc", "libc%.so" },
  { "raw loop (raw_curl)", "raw_curl$" },
  { "ld.so", "ld%-linux" },
}

local function group_of(obj)
  for _, g in ipairs(GROUPS) do
    if obj:find(g[2]) then return g[1] end
  end
  return "other (OpenSSL, zlib, kernel vdso, ...)"
end

local out1, n1, out2, n2, top = arg[1], tonumber(arg[2]), arg[3], tonumber(arg[4]), tonumber(arg[5] or 12)
assert(out1 and n1 and out2 and n2 and n2 > n1, "usage: cgsum.lua OUT1 N1 OUT2 N2 [TOP]")
local o1, f1, c1 = parse(out1)
local o2, f2, c2 = parse(out2)
local dn = n2 - n1

local total, groups = 0, {}
local seen = {}
for obj in pairs(o1) do seen[obj] = true end
for obj in pairs(o2) do seen[obj] = true end
for obj in pairs(seen) do
  local d = ((o2[obj] or 0) - (o1[obj] or 0)) / dn
  total = total + d
  local g = group_of(obj)
  groups[g] = (groups[g] or 0) + d
end
print(("total %.0f"):format(total))
local order = {}
for _, g in ipairs(GROUPS) do order[#order + 1] = g[1] end
order[#order + 1] = "other (OpenSSL, zlib, kernel vdso, ...)"
for _, g in ipairs(order) do
  if groups[g] and math.abs(groups[g]) >= 0.5 then print(("group %s\t%.0f"):format(g, groups[g])) end
end

local fns = {}
local keys = {}
for k in pairs(f1) do keys[k] = true end
for k in pairs(f2) do keys[k] = true end
for k in pairs(keys) do
  local d = ((f2[k] or 0) - (f1[k] or 0)) / dn
  local obj, fn = k:match("^(.-)%z(.*)$")
  fns[#fns + 1] = { d = d, obj = obj:match("[^/]*$"), fn = fn }
end
table.sort(fns, function(a, b) return a.d > b.d end)
for i = 1, math.min(top, #fns) do
  print(("fn %.0f\t%s\t%s"):format(fns[i].d, fns[i].obj, fns[i].fn))
end

-- inclusive cost of named functions (non-recursive ones: our entry points)
for i = 6, #arg do
  local name, sum = arg[i], 0
  for k in pairs(keys) do
    local fn = k:match("%z(.*)$")
    if fn == name then
      sum = sum + ((f2[k] or 0) + (c2[k] or 0) - (f1[k] or 0) - (c1[k] or 0)) / dn
    end
  end
  print(("inc %s\t%.0f"):format(name, sum))
end
