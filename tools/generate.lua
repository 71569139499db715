#!/usr/bin/env lua5.4
-- tools/generate.lua: the operation table and everything derived from it,
-- generated from Kombo's API description and the hand-kept table beside it.
--
--   lua5.4 tools/generate.lua [--out DIR]     (make generate)
--
-- Reads spec/contract/kombo-openapi.json (verbatim, never edited) and
-- spec/contract/operations.lua (what the description does not say), and
-- writes, relative to DIR (default: the repository root):
--   csrc/gen/operations.c         the C table and every descriptor it points to
--   lua/kombo/gen/operations.lua  the same as Lua data
--   lua/kombo/gen/webhook_events.lua  the webhook event types and their data members
--   lua/kombo/gen/types.lua       LuaLS types of every operation's arguments
--   doc/operations.luadoc         the LDoc reference of the operations doc/calls.luadoc does not document
--   lua/kombo/gen/webhook_types.lua, doc/webhooks.luadoc   the webhook events' types and reference
-- A file is written only when its content changed.  Nothing of the
-- description's prose is copied: names, types, enums and structure only.
--
-- Used as a module (spec/unit/generate_spec.lua) it returns its parts:
-- compile_pattern, decode_json, generate, main.
local cjson = require "cjson"

local M = {}

local DESCRIPTION = "spec/contract/kombo-openapi.json"
local HAND = "spec/contract/operations.lua"

local function fail(fmt, ...)
  error("generate: " .. fmt:format(...), 0)
end

-- ------------------------------------------------------------ JSON, in order

-- An order-keeping JSON reader: objects are plain tables, their key order
-- is kept in ORDER[object].  Strings are decoded by lua-cjson.
local ORDER = setmetatable({}, { __mode = "k" })
M.ORDER = ORDER

function M.decode_json(text)
  local pos = 1
  local value
  local function ws()
    pos = text:find("[^ \t\r\n]", pos) or #text + 1
  end
  local function str()
    local i = pos + 1
    while true do
      local j = text:find('["\\]', i)
      if not j then fail("unterminated string at %d", pos) end
      if text:sub(j, j) == '"' then
        local s = text:sub(pos, j)
        pos = j + 1
        if not s:find("\\", 1, true) then return s:sub(2, -2) end
        return cjson.decode(s)
      end
      i = j + 2
    end
  end
  function value()
    ws()
    local c = text:sub(pos, pos)
    if c == "{" then
      local obj, keys = {}, {}
      pos = pos + 1
      ws()
      if text:sub(pos, pos) == "}" then
        pos = pos + 1
        ORDER[obj] = keys
        return obj
      end
      while true do
        ws()
        if text:sub(pos, pos) ~= '"' then fail("key expected at %d", pos) end
        local k = str()
        ws()
        if text:sub(pos, pos) ~= ":" then fail("':' expected at %d", pos) end
        pos = pos + 1
        local v = value()
        if obj[k] == nil then keys[#keys + 1] = k end
        obj[k] = v
        ws()
        c = text:sub(pos, pos)
        pos = pos + 1
        if c == "}" then break end
        if c ~= "," then fail("',' or '}' expected at %d", pos - 1) end
      end
      ORDER[obj] = keys
      return obj
    elseif c == "[" then
      local arr = {}
      pos = pos + 1
      ws()
      if text:sub(pos, pos) == "]" then
        pos = pos + 1
        return arr
      end
      while true do
        arr[#arr + 1] = value()
        ws()
        c = text:sub(pos, pos)
        pos = pos + 1
        if c == "]" then break end
        if c ~= "," then fail("',' or ']' expected at %d", pos - 1) end
      end
      return arr
    elseif c == '"' then
      return str()
    elseif text:find("^true", pos) then
      pos = pos + 4
      return true
    elseif text:find("^false", pos) then
      pos = pos + 5
      return false
    elseif text:find("^null", pos) then
      pos = pos + 4
      return cjson.null
    else
      local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then fail("unexpected %q at %d", c, pos) end
      pos = pos + #num
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
  end
  local v = value()
  ws()
  if pos <= #text then fail("trailing bytes at %d", pos) end
  return v
end

local function keys_of(obj)
  local keys = ORDER[obj]
  if keys then return keys end
  keys = {}
  for k in pairs(obj) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- ------------------------------------------------------------ patterns

-- Compiles an ECMAScript pattern (the subset schema.h's matcher runs) to
--   { source, anchored_begin, anchored_end, nodes = { node... } }
-- node: { kind = "class", set = { 32 bytes }, min, max }
--     | { kind = "group", sub = { node... }, min, max }
--     | { kind = "begin" | "end", min = 1, max = 1 }
-- max = MANY (0xFFFF) is unbounded.  Anything else fails, naming the pattern
-- and the position (1-based).
local MANY = 0xFFFF
M.MANY = MANY

local function new_set() local s = {} for i = 1, 32 do s[i] = 0 end return s end
local function set_add(s, c) s[(c >> 3) + 1] = s[(c >> 3) + 1] | (1 << (c & 7)) end
local function set_range(s, a, b) for c = a, b do set_add(s, c) end end
local function set_union(s, t) for i = 1, 32 do s[i] = s[i] | t[i] end end
local function set_negate(s) for i = 1, 32 do s[i] = (~s[i]) & 0xFF end end

local function shorthand(ch)
  local s = new_set()
  local lower = ch:lower()
  if lower == "d" then
    set_range(s, 48, 57)
  elseif lower == "w" then
    set_range(s, 48, 57); set_range(s, 65, 90); set_range(s, 97, 122); set_add(s, 95)
  elseif lower == "s" then
    for _, c in ipairs { 9, 10, 11, 12, 13, 32 } do set_add(s, c) end
  else
    return nil
  end
  if ch ~= lower then set_negate(s) end
  return s
end

function M.compile_pattern(src)
  local pos = 1
  local n = #src
  local function refuse(what, at)
    fail("pattern %q: %s at position %d", src, what, at or pos)
  end
  for i = 1, n do
    if src:byte(i) > 126 or src:byte(i) < 32 then refuse("a non-ASCII or control byte", i) end
  end

  -- An escape after the backslash at pos: a set.
  local ESCAPES = { n = 10, r = 13, t = 9, f = 12, v = 11 }
  local function escape(in_class)
    local ch = src:sub(pos + 1, pos + 1)
    if ch == "" then refuse("a trailing backslash") end
    local s = shorthand(ch)
    if s then
      pos = pos + 2
      return s, true
    end
    if ch:match("%d") then refuse(in_class and "an octal escape" or "a backreference") end
    if ch == "b" or ch == "B" then refuse("a word boundary") end
    if ch:match("%a") and not ESCAPES[ch] then refuse("an unsupported escape \\" .. ch) end
    s = new_set()
    set_add(s, ESCAPES[ch] or ch:byte())
    pos = pos + 2
    return s, false, ESCAPES[ch] or ch:byte()
  end

  local function class()
    local start = pos
    pos = pos + 1 -- [
    local s = new_set()
    local negate = false
    if src:sub(pos, pos) == "^" then negate = true; pos = pos + 1 end
    local first = true
    while true do
      if pos > n then refuse("an unterminated class", start) end
      local ch = src:sub(pos, pos)
      if ch == "]" and not first then pos = pos + 1 break end
      first = false
      local lo, lo_set, is_short
      if ch == "\\" then
        lo_set, is_short, lo = escape(true)
      elseif ch == "[" and src:sub(pos + 1, pos + 1) == ":" then
        refuse("a POSIX class")
      else
        lo = ch:byte()
        pos = pos + 1
      end
      if not is_short and src:sub(pos, pos) == "-" and src:sub(pos + 1, pos + 1) ~= "]" and pos + 1 <= n then
        pos = pos + 1
        local hi
        if src:sub(pos, pos) == "\\" then
          local _, short, b = escape(true)
          if short then refuse("a range ending in a class escape") end
          hi = b
        else
          hi = src:byte(pos)
          pos = pos + 1
        end
        if hi < lo then refuse("a range out of order") end
        set_range(s, lo, hi)
      elseif lo_set then
        set_union(s, lo_set)
      else
        set_add(s, lo)
      end
    end
    if negate then set_negate(s) end
    return s
  end

  local function quantifier(node)
    local ch = src:sub(pos, pos)
    local min, max
    if ch == "?" then min, max = 0, 1; pos = pos + 1
    elseif ch == "*" then min, max = 0, MANY; pos = pos + 1
    elseif ch == "+" then min, max = 1, MANY; pos = pos + 1
    elseif ch == "{" then
      local a, comma, b, close = src:match("^{(%d+)(,?)(%d*)()}", pos)
      if not a then refuse("a '{' that is no quantifier") end
      min = tonumber(a)
      if comma == "" then max = min elseif b == "" then max = MANY else max = tonumber(b) end
      if max < min or min >= MANY or (max ~= MANY and max >= MANY) then refuse("a bad repetition count") end
      pos = close + 1
    else
      return node
    end
    if node.kind == "begin" or node.kind == "end" then refuse("a quantified anchor", pos - 1) end
    if node.min ~= 1 or node.max ~= 1 then refuse("a quantifier after a quantifier", pos - 1) end
    local nx = src:sub(pos, pos)
    if nx == "?" then refuse("a lazy quantifier") end
    if nx == "+" then refuse("a possessive quantifier") end
    node.min, node.max = min, max
    return node
  end

  local sequence
  local function atom(depth)
    local ch = src:sub(pos, pos)
    if ch == "|" then refuse("alternation '|'") end
    if ch == "(" then
      local start = pos
      if src:sub(pos + 1, pos + 1) == "?" then
        if src:sub(pos + 2, pos + 2) == ":" then
          pos = pos + 3
        else
          refuse("a lookaround or named group '(?'")
        end
      else
        pos = pos + 1
      end
      local sub = sequence(depth + 1)
      if src:sub(pos, pos) ~= ")" then refuse("an unterminated group", start) end
      pos = pos + 1
      return { kind = "group", sub = sub, min = 1, max = 1 }
    elseif ch == ")" then
      refuse("an unmatched ')'")
    elseif ch == "[" then
      return { kind = "class", set = class(), min = 1, max = 1 }
    elseif ch == "\\" then
      return { kind = "class", set = (escape(false)), min = 1, max = 1 }
    elseif ch == "." then
      pos = pos + 1
      local s = new_set()
      set_negate(s)
      s[2] = s[2] & ~((1 << 2) | (1 << 5)) -- \n (10) and \r (13): byte 1, bits 2 and 5
      return { kind = "class", set = s, min = 1, max = 1 }
    elseif ch == "^" then
      pos = pos + 1
      return { kind = "begin", min = 1, max = 1 }
    elseif ch == "$" then
      pos = pos + 1
      return { kind = "end", min = 1, max = 1 }
    elseif ch == "*" or ch == "+" or ch == "?" then
      refuse("a quantifier with nothing to repeat")
    elseif ch == "{" and src:match("^{%d+,?%d*}", pos) then
      refuse("a quantifier with nothing to repeat")
    else
      pos = pos + 1
      local s = new_set()
      set_add(s, ch:byte())
      return { kind = "class", set = s, min = 1, max = 1 }
    end
  end

  function sequence(depth)
    local nodes = {}
    while pos <= n do
      local ch = src:sub(pos, pos)
      if ch == ")" then
        if depth == 0 then refuse("an unmatched ')'") end
        break
      end
      nodes[#nodes + 1] = quantifier(atom(depth))
    end
    return nodes
  end

  local nodes = sequence(0)
  local re = { source = src, anchored_begin = false, anchored_end = false, nodes = nodes }
  if nodes[1] and nodes[1].kind == "begin" then
    re.anchored_begin = true
    table.remove(nodes, 1)
  end
  if nodes[#nodes] and nodes[#nodes].kind == "end" then
    re.anchored_end = true
    nodes[#nodes] = nil
  end
  -- One forward pass decides it (kombo_regex.one_pass): anchored at the
  -- start, classes only, and each run of varying length followed by a class
  -- that needs a byte it cannot take, so that a shorter run would leave the
  -- next class a byte it refuses and only the longest run can match.
  re.one_pass = re.anchored_begin
  for i, nd in ipairs(nodes) do
    local nx = nodes[i + 1]
    if nd.kind ~= "class" then
      re.one_pass = false
    elseif nd.min ~= nd.max and nx then
      if nx.kind ~= "class" or nx.min < 1 then re.one_pass = false end
      for b = 1, 32 do
        if nx.kind == "class" and nd.set[b] & nx.set[b] ~= 0 then re.one_pass = false end
      end
    end
  end
  return re
end

-- A set's members as a short string for tests and comments: ranges "a-z".
function M.set_string(s)
  local out, c = {}, 0
  local function has(x) return s[(x >> 3) + 1] & (1 << (x & 7)) ~= 0 end
  while c < 256 do
    if has(c) then
      local d = c
      while d + 1 < 256 and has(d + 1) do d = d + 1 end
      local function show(x)
        if x >= 33 and x <= 126 and x ~= 45 and x ~= 92 then return string.char(x) end
        return ("\\x%02x"):format(x)
      end
      out[#out + 1] = d > c and show(c) .. "-" .. show(d) or show(c)
      c = d + 1
    else
      c = c + 1
    end
  end
  return table.concat(out)
end

-- ------------------------------------------------------------ the model

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then fail("%s", err) end
  local s = f:read("a")
  f:close()
  return s
end

local function path_params(path)
  local params = {}
  for p in path:gmatch("{([^}]+)}") do params[#params + 1] = p end
  return params
end

local function doc_url(method, path)
  local section, rest = "general", path
  if path:find("^/ats/") then section, rest = "ats", path:sub(5) end
  local parts = {}
  for seg in rest:gmatch("[^/]+") do parts[#parts + 1] = (seg:gsub("[{}]", ""):gsub("_", "-"):lower()) end
  return ("https://docs.kombo.dev/%s/v1/%s-%s"):format(section, method:lower(), table.concat(parts, "-"))
end
M.doc_url = doc_url

-- Builds the model: { operations = { op... }, webhooks = { ... } } with
-- descriptors interned in `nodes` (post-order: children first).
function M.model(api, hand)
  local function deref(node, seen)
    local n = 0
    while type(node) == "table" and node["$ref"] do
      local ref = node["$ref"]
      if not ref:find("^#/") then fail("non-local $ref %s", ref) end
      local target = api
      for part in ref:sub(3):gmatch("[^/]+") do
        part = part:gsub("~1", "/"):gsub("~0", "~")
        target = type(target) == "table" and target[part] or nil
      end
      if target == nil then fail("unresolved $ref %s", ref) end
      if seen then seen[#seen + 1] = ref end
      node = target
      n = n + 1
      if n > 50 then fail("$ref loop at %s", ref) end
    end
    return node
  end

  local open = {}
  for _, name in ipairs(hand.open or {}) do open[name] = true end

  -- interned descriptors
  local nodes, by_key = {}, {}
  local function intern(d)
    local parts = {
      d.types, d.flags, d.format, d.enum and table.concat(d.enum, "\0") or "-", d.const or "-",
      d.pattern and d.pattern.source or "-", d.minimum or "-", d.maximum or "-", d.min_length,
      d.additional and d.additional.id or (d.additional == false and "F" or "-"),
      d.items and d.items.id or "-", d.combine, d.discriminator or "-",
      d.discriminator_values and table.concat(d.discriminator_values, "\0") or "-",
    }
    for _, p in ipairs(d.properties or {}) do
      parts[#parts + 1] = ("P%s=%d:%d"):format(p.name, p.schema.id, p.required and 1 or 0)
    end
    for _, b in ipairs(d.branches or {}) do parts[#parts + 1] = "B" .. b.id end
    local key = table.concat(parts, "\1", 1, #parts)
    local found = by_key[key]
    if found then return found end
    d.id = #nodes + 1
    d.key = key
    nodes[#nodes + 1] = d
    by_key[key] = d
    return d
  end

  local TYPE_BITS = { null = 1, boolean = 2, integer = 4, number = 8, string = 16, array = 32, object = 64 }
  local FORMATS = { ["date-time"] = "KOMBO_FMT_DATE_TIME", email = "KOMBO_FMT_EMAIL", uri = "KOMBO_FMT_URI" }
  local FLAG = { file = 1, open = 2, list = 4, bool = 8, deprecated = 16 }

  local in_progress = {}
  local file_nodes = {}
  local descriptor

  -- The descriptor of a schema node (at `where`, for messages), with
  -- `extra` flags or'ed in (the open list, query flags).
  function descriptor(schema, where, extra)
    local refs = {}
    schema = deref(schema, refs)
    for _, r in ipairs(refs) do
      if in_progress[r] then fail("a cycle through %s at %s: not supported", r, where) end
    end
    for _, r in ipairs(refs) do in_progress[r] = true end
    if type(schema) ~= "table" then fail("no schema at %s", where) end

    local d = { types = 0, flags = extra or 0, format = "KOMBO_FMT_NONE", min_length = 0,
      combine = "KOMBO_COMBINE_NONE" }
    -- An opened member (remote_fields) opens everything below it: Kombo
    -- passes those through to the ATS, so members it does not list are
    -- allowed at any depth; the ones it lists are still checked.
    local inherit = (extra or 0) & FLAG.open
    local t = schema.type
    if type(t) == "string" then t = { t } end
    for _, name in ipairs(t or {}) do
      d.types = d.types | (TYPE_BITS[name] or fail("unknown type %s at %s", name, where))
    end
    if schema.nullable == true then d.types = d.types | TYPE_BITS.null end
    if schema.deprecated == true then d.flags = d.flags | FLAG.deprecated end
    if schema.format and FORMATS[schema.format] then d.format = FORMATS[schema.format] end
    if schema.enum then
      local values = {}
      for i, v in ipairs(schema.enum) do
        if v == cjson.null then
          d.types = d.types | TYPE_BITS.null -- null among the values: the type allows it
        elseif type(v) ~= "string" then
          fail("enum at %s: non-string value %s (item %d)", where, tostring(v), i)
        else
          values[#values + 1] = v
        end
      end
      d.enum = values
    end
    if schema.const ~= nil then
      if type(schema.const) ~= "string" then fail("const at %s: not a string", where) end
      d.const = schema.const
    end
    if schema.pattern then d.pattern = M.compile_pattern(schema.pattern) end
    if type(schema.minimum) == "number" then d.minimum = schema.minimum end
    if type(schema.maximum) == "number" then d.maximum = schema.maximum end
    if type(schema.minLength) == "number" and schema.minLength > 0 then d.min_length = schema.minLength end

    if schema.properties then
      local required = {}
      for _, r in ipairs(schema.required or {}) do required[r] = true end
      d.properties = {}
      for _, name in ipairs(keys_of(schema.properties)) do
        local sub = schema.properties[name]
        d.properties[#d.properties + 1] = {
          name = name,
          schema = descriptor(sub, where .. "." .. name, inherit | (open[name] and FLAG.open or 0)),
          required = required[name] == true,
        }
      end
      local names = {}
      for _, p in ipairs(d.properties) do names[p.name] = true end
      if names.name and names.content_type and names.data and names.data_url then
        d.flags = d.flags | FLAG.file
        file_nodes[#file_nodes + 1] = where
      end
    end
    local ap = schema.additionalProperties
    if ap == true or (type(ap) == "table" and next(ap) == nil) then
      d.flags = d.flags | FLAG.open
    elseif type(ap) == "table" then
      d.flags = d.flags | FLAG.open
      d.additional = descriptor(ap, where .. ".*", inherit)
    elseif ap == nil and not schema.properties and not schema.allOf and not schema.anyOf and not schema.oneOf
      and (d.types & TYPE_BITS.object) ~= 0 then
      -- an object that lists no member at all is a free-form object
      d.flags = d.flags | FLAG.open
    end
    if schema.items then d.items = descriptor(schema.items, where .. "[]", inherit) end

    for _, kw in ipairs { "allOf", "anyOf", "oneOf" } do
      if schema[kw] then
        if d.branches then fail("%s beside another combination at %s", kw, where) end
        d.combine = ({ allOf = "KOMBO_COMBINE_ALL_OF", anyOf = "KOMBO_COMBINE_ANY_OF",
          oneOf = "KOMBO_COMBINE_ONE_OF" })[kw]
        d.branches = {}
        for i, b in ipairs(schema[kw]) do
          -- an opened member opens its branches too (their listed members still checked)
          d.branches[i] = descriptor(b, ("%s<%s %d>"):format(where, kw, i), inherit)
        end
      end
    end
    if schema.discriminator then
      if not d.branches then fail("discriminator without branches at %s", where) end
      local prop = schema.discriminator.propertyName
      d.discriminator = prop
      d.discriminator_values = {}
      local function value_in(branch, depth)
        branch = deref(branch)
        if depth > 10 then return nil end
        local p = branch.properties and deref(branch.properties[prop])
        if p then
          if type(p.const) == "string" then return p.const end
          if p.enum and #p.enum == 1 and type(p.enum[1]) == "string" then return p.enum[1] end
        end
        for _, sub in ipairs(branch.allOf or {}) do
          local v = value_in(sub, depth + 1)
          if v then return v end
        end
        return nil
      end
      for i, b in ipairs(schema.oneOf or schema.anyOf or schema.allOf) do
        d.discriminator_values[i] = value_in(b, 0)
          or fail("discriminator %s: branch %d at %s has no single value", prop, i, where)
      end
    end
    for _, r in ipairs(refs) do in_progress[r] = nil end
    return intern(d)
  end

  -- which operations
  local excluded = {}
  for _, e in ipairs(hand.exclude or {}) do excluded[e] = true end
  local also = {}
  for _, p in ipairs(hand.also or {}) do also[p] = true end
  local METHODS = { "get", "put", "post", "delete", "patch" }
  local ops = {}
  local paths = keys_of(api.paths)
  local seen_names = {}
  for _, path in ipairs(paths) do
    if path:find("^/ats/") or also[path] then
      local item = api.paths[path]
      for _, m in ipairs(METHODS) do
        local o = item[m]
        local key = m:upper() .. " " .. path
        if o and not excluded[key] then
          local h = hand.operations[key] or fail("%s is included but has no line in %s", key, HAND)
          if seen_names[h.name] then fail("two operations named %s", h.name) end
          seen_names[h.name] = true
          ops[#ops + 1] = { key = key, method = m:upper(), path = path, described = o, hand = h }
        end
      end
    end
  end
  for key in pairs(hand.operations) do
    local m, p = key:match("^(%u+) (.*)$")
    if not (api.paths[p] and api.paths[p][m:lower()]) then fail("%s in %s is not in the description", key, HAND) end
    if excluded[key] then fail("%s is both excluded and named", key) end
  end
  table.sort(ops, function(a, b) return a.hand.name < b.hand.name end)

  -- A list's record as columns (kombo get --format csv): its members in the
  -- description's order, an object's members flattened with dots
  -- ("location.city"); an array, or a value of several shapes, is one
  -- column (written as JSON).  allOf branches are merged; anyOf/oneOf are
  -- one column.
  local function record_fields(schema, where)
    local fields = {}
    local function walk(s, prefix, depth)
      s = deref(s)
      if depth > 4 then fields[#fields + 1] = prefix return end
      local props, order = {}, {}
      local function gather(x)
        x = deref(x)
        for _, b in ipairs(x.allOf or {}) do gather(b) end
        for _, k in ipairs(keys_of(x.properties or {})) do
          if props[k] == nil then order[#order + 1] = k end
          props[k] = x.properties[k]
        end
      end
      gather(s)
      local is_object = (s.type == "object" or s.properties or s.allOf) and not s.anyOf and not s.oneOf
      if prefix ~= "" and (not is_object or #order == 0) then
        fields[#fields + 1] = prefix
        return
      end
      for _, k in ipairs(order) do walk(props[k], prefix == "" and k or prefix .. "." .. k, depth + 1) end
    end
    if type(schema) ~= "table" then fail("%s: data.results has no items", where) end
    walk(schema, "", 0)
    return fields
  end

  for _, op in ipairs(ops) do
    local o = op.described
    op.name = op.hand.name
    op.params = path_params(op.path)
    if #op.params > 2 then fail("%s: more than KOMBO_MAX_PARAMS path parameters", op.key) end
    op.integration_scoped = false
    local query_props = {}
    for _, p in ipairs(o.parameters or {}) do
      p = deref(p)
      if p["in"] == "header" and p.name == "X-Integration-Id" and p.required == true then
        op.integration_scoped = true
      elseif p["in"] == "query" then
        local s = deref(p.schema)
        local flags = 0
        local desc = type(p.description) == "string" and p.description:lower() or ""
        local is_string = s.type == "string" or (type(s.type) == "table" and s.type[1] == "string")
        if is_string and (desc:find("comma-separated", 1, true) or desc:find("comma separated", 1, true)) then
          flags = flags | FLAG.list
        end
        if is_string and s.enum and #s.enum == 2 then
          local e = {}
          for _, v in ipairs(s.enum) do e[v] = true end
          if e["true"] and e["false"] then flags = flags | FLAG.bool end
        end
        local d = descriptor(p.schema, op.name .. "?" .. p.name, flags)
        query_props[#query_props + 1] = { name = p.name, schema = d, required = p.required == true, raw = s }
      end
    end
    for _, pp in ipairs(op.params) do
      local found = false
      for _, p in ipairs(o.parameters or {}) do
        p = deref(p)
        if p["in"] == "path" and p.name == pp then found = true end
      end
      if not found then fail("%s: path parameter %s not described", op.key, pp) end
    end
    if #query_props > 0 then
      op.query = intern { types = TYPE_BITS.object, flags = 0, format = "KOMBO_FMT_NONE", min_length = 0,
        combine = "KOMBO_COMBINE_NONE", properties = query_props }
    end
    if o.requestBody then
      local rb = deref(o.requestBody)
      local content = rb.content and rb.content["application/json"] or fail("%s: no JSON request body", op.key)
      op.body_schema = descriptor(content.schema, op.name .. ":body")
      -- Required when the description says so, or when the body has a
      -- required member (no body could satisfy it): Kombo's description
      -- never sets requestBody.required.
      op.body_required = rb.required == true
      op.body_raw = deref(content.schema)
      if not op.body_required and op.body_raw.required and #op.body_raw.required > 0 then
        op.body_required = true
      end
    end
    local ok = o.responses and (o.responses["200"] or o.responses["201"])
    ok = ok and deref(ok)
    local schema = ok and ok.content and ok.content["application/json"] and deref(ok.content["application/json"].schema)
    if not schema then fail("%s: no JSON positive response", op.key) end
    op.warnings = false
    for _, r in ipairs(schema.required or {}) do if r == "warnings" then op.warnings = true end end
    op.data_member = op.hand.data_member
    if op.data_member then
      local data = deref(schema.properties and schema.properties.data)
      if not (data and data.properties and data.properties[op.data_member]) then
        fail("%s: data_member %s is not in its positive response", op.key, op.data_member)
      end
    end
    -- A list: its data holds `results` (an array) and `next` (the cursor of
    -- the next page, or null), and it takes `cursor`; pages() and each()
    -- follow it.  page_size_max is the description's maximum for page_size,
    -- what they ask for when the caller gives none.
    local data = deref(schema.properties and schema.properties.data)
    local members = type(data) == "table" and data.properties or {}
    local results, nxt = deref(members.results), deref(members.next)
    if results and nxt then
      local q = {}
      for _, p in ipairs(query_props) do q[p.name] = p.raw end
      local next_types = {}
      for _, t in ipairs(type(nxt.type) == "table" and nxt.type or { nxt.type }) do next_types[t] = true end
      if results.type ~= "array" or not (next_types.string and next_types.null) then
        fail("%s: data.results is not an array or data.next not a string or null", op.key)
      end
      if not q.cursor then fail("%s: data.next but no cursor parameter to send it back in", op.key) end
      op.list = true
      op.fields = record_fields(deref(results.items), op.key)
      if q.page_size then
        op.page_size_max = math.tointeger(q.page_size.maximum)
          or fail("%s: page_size has no whole maximum", op.key)
      end
    end
    op.idempotent = op.method == "GET" or op.hand.resend == true
    op.doc_url = op.hand.doc_url or doc_url(op.method, op.path)
  end

  -- webhooks: event type names, and per type the members of its data
  -- (with their descriptors, for the editor types and the reference) and
  -- whether the description deprecates it.  Those descriptors are not the
  -- C table's: nothing validates an event, so they are dropped from it.
  local c_nodes = #nodes
  local webhooks = {}
  for _, key in ipairs(keys_of(api.webhooks or {})) do
    local w = api.webhooks[key]
    local post = w.post or fail("webhook %s has no post", key)
    local ref = post.requestBody.content["application/json"].schema["$ref"]
    local s = deref(post.requestBody.content["application/json"].schema)
    local t = s.properties and deref(s.properties.type)
    local name = t and (t.const or (t.enum and #t.enum == 1 and t.enum[1])) or key
    local data = s.properties and s.properties.data and deref(s.properties.data)
    local fields = {}
    if data and data.properties then
      for _, f in ipairs(keys_of(data.properties)) do fields[#fields + 1] = f end
    end
    webhooks[#webhooks + 1] = { type = name, data = fields, deprecated = post.deprecated == true,
      schema_name = ref and ref:match("([^/]+)$"),
      data_schema = data and descriptor(data, "webhook " .. name .. ".data") }
  end
  table.sort(webhooks, function(a, b) return a.type < b.type end)
  for i = #nodes, c_nodes + 1, -1 do nodes[i] = nil end

  return { operations = ops, nodes = nodes, webhooks = webhooks, file_nodes = file_nodes, deref = deref }
end

-- ------------------------------------------------------------ C output

local function c_string(s)
  return '"' .. s:gsub('[%c"\\?]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" elseif c == "?" then return "\\?" end
    return ("\\%03o"):format(c:byte())
  end) .. '"'
end

M.c_string = c_string -- (spec/unit/generate_spec.lua finds the patterns by it)

local function c_number(x)
  if math.type(x) == "integer" then return ("%d.0"):format(x) end
  return ("%.17g"):format(x)
end

local FLAG_NAMES = { [1] = "KOMBO_S_FILE", [2] = "KOMBO_S_OPEN", [4] = "KOMBO_S_QUERY_LIST",
  [8] = "KOMBO_S_QUERY_BOOL", [16] = "KOMBO_S_DEPRECATED" }
local TYPE_NAMES = { [1] = "KOMBO_T_NULL", [2] = "KOMBO_T_BOOLEAN", [4] = "KOMBO_T_INTEGER", [8] = "KOMBO_T_NUMBER",
  [16] = "KOMBO_T_STRING", [32] = "KOMBO_T_ARRAY", [64] = "KOMBO_T_OBJECT" }

local function bits(v, names)
  local out = {}
  for b = 0, 7 do
    if v & (1 << b) ~= 0 then out[#out + 1] = names[1 << b] end
  end
  if #out == 0 then return "0" end
  return table.concat(out, " | ")
end

local function emit_c(model)
  local out = {}
  local function w(s) out[#out + 1] = s end
  w([[/*
 * operations.c - GENERATED by tools/generate.lua from
 * spec/contract/kombo-openapi.json and spec/contract/operations.lua.
 * Do not edit: change the hand table (or the generator) and run
 * `make generate`.
 *
 * The operation table and every schema descriptor (csrc/core/schema.h) it
 * points to; structurally identical descriptors are one object.
 */
#include "core/schema.h"
#include "gen/operations.h"
]])
  -- shared pieces, deduplicated by content
  local strings_lists, sets, regexes = {}, {}, {}
  local counter = { l = 0, c = 0, r = 0, n = 0 }
  local function string_list(list)
    local key = table.concat(list, "\0")
    if strings_lists[key] then return strings_lists[key] end
    counter.l = counter.l + 1
    local name = "l" .. counter.l
    local items = {}
    for _, s in ipairs(list) do items[#items + 1] = c_string(s) end
    items[#items + 1] = "NULL"
    w(("static const char *const %s[] = {%s};"):format(name, table.concat(items, ", ")))
    strings_lists[key] = name
    return name
  end
  local function set(s)
    local hex = {}
    for i = 1, 32 do hex[i] = ("0x%02x"):format(s[i]) end
    local key = table.concat(hex, ",")
    if sets[key] then return sets[key] end
    counter.c = counter.c + 1
    local name = "c" .. counter.c
    w(("static const unsigned char %s[32] = {%s}; /* [%s] */"):format(name, key, M.set_string(s):gsub("%*/", "*\\/")))
    sets[key] = name
    return name
  end
  local function node_list(list)
    -- children first
    local subs = {}
    for i, nd in ipairs(list) do
      if nd.kind == "group" then subs[i] = node_list(nd.sub) end
    end
    counter.n = counter.n + 1
    local name = "n" .. counter.n
    local items = {}
    for i, nd in ipairs(list) do
      local kind = ({ class = "KOMBO_RE_CLASS", group = "KOMBO_RE_GROUP", begin = "KOMBO_RE_BEGIN",
        ["end"] = "KOMBO_RE_END" })[nd.kind]
      local max = nd.max == MANY and "KOMBO_RE_MANY" or tostring(nd.max)
      local s = nd.kind == "class" and set(nd.set) or "NULL"
      local sub = subs[i] and subs[i].name or "NULL"
      local nsub = subs[i] and subs[i].n or 0
      items[#items + 1] = ("    {%s, %d, %s, %s, %s, %d},"):format(kind, nd.min, max, s, sub, nsub)
    end
    if #items == 0 then return { name = "NULL", n = 0 } end
    w(("static const kombo_re_node %s[] = {\n%s\n};"):format(name, table.concat(items, "\n")))
    return { name = name, n = #list }
  end
  local function regex(re)
    if regexes[re.source] then return regexes[re.source] end
    local nl = node_list(re.nodes)
    counter.r = counter.r + 1
    local name = "r" .. counter.r
    w(("static const kombo_regex %s = {%s, %s, %d, %d, %d, %d};"):format(name, c_string(re.source), nl.name, nl.n,
      re.anchored_begin and 1 or 0, re.anchored_end and 1 or 0, re.one_pass and 1 or 0))
    regexes[re.source] = "&" .. name
    return "&" .. name
  end

  for _, d in ipairs(model.nodes) do
    local fields = {}
    local function f(k, v) fields[#fields + 1] = ("    .%s = %s,"):format(k, v) end
    local name = "s" .. d.id
    if d.types ~= 0 then f("types", bits(d.types, TYPE_NAMES)) end
    if d.flags ~= 0 then f("flags", bits(d.flags, FLAG_NAMES)) end
    if d.format ~= "KOMBO_FMT_NONE" then f("format", d.format) end
    if d.enum then f("enum_values", string_list(d.enum)) end
    if d.const then f("const_value", c_string(d.const)) end
    if d.pattern then f("pattern", regex(d.pattern)) end
    if d.minimum then f("has_minimum", "1"); f("minimum", c_number(d.minimum)) end
    if d.maximum then f("has_maximum", "1"); f("maximum", c_number(d.maximum)) end
    if d.min_length > 0 then f("min_length", tostring(d.min_length)) end
    if d.properties and #d.properties > 0 then
      local items = {}
      for _, p in ipairs(d.properties) do
        items[#items + 1] = ("    {%s, &s%d, %d},"):format(c_string(p.name), p.schema.id, p.required and 1 or 0)
      end
      w(("static const kombo_property p%d[] = {\n%s\n};"):format(d.id, table.concat(items, "\n")))
      f("properties", "p" .. d.id)
      f("nproperties", tostring(#d.properties))
    end
    if d.additional then f("additional", "&s" .. d.additional.id) end
    if d.items then f("items", "&s" .. d.items.id) end
    if d.branches then
      local items = {}
      for _, b in ipairs(d.branches) do items[#items + 1] = "&s" .. b.id end
      w(("static const kombo_schema *const b%d[] = {%s};"):format(d.id, table.concat(items, ", ")))
      f("combine", d.combine)
      f("branches", "b" .. d.id)
      f("nbranches", tostring(#d.branches))
    end
    if d.discriminator then
      f("discriminator", c_string(d.discriminator))
      local items = {}
      for _, v in ipairs(d.discriminator_values) do items[#items + 1] = c_string(v) end
      items[#items + 1] = "NULL" -- NULL-terminated, as schema.h says
      w(("static const char *const v%d[] = {%s};"):format(d.id, table.concat(items, ", ")))
      f("discriminator_values", "v" .. d.id)
    end
    if #fields == 0 then
      w(("static const kombo_schema %s = {0};"):format(name))
    else
      w(("static const kombo_schema %s = {\n%s\n};"):format(name, table.concat(fields, "\n")))
    end
  end

  w([[

/* The response shape is {warnings required, member data must have, a
 * list (data.results an array, data.next a string or null)};
 * idempotent: only GETs, unless spec/contract/operations.lua says
 * otherwise. */
const kombo_operation kombo_operations[] = {]])
  for _, op in ipairs(model.operations) do
    local params = {}
    for _, p in ipairs(op.params) do params[#params + 1] = c_string(p) end
    params[#params + 1] = "NULL"
    w(("    {\n        .name = %s,\n        .method = %s,\n        .path = %s,\n        .params = {%s},\n"
      .. "        .response = {%d, %s, %d},\n        .idempotent = %d,\n"
      .. "        .integration_scoped = %d,\n        .body_schema = %s,\n        .body_required = %d,\n"
      .. "        .query = %s,\n        .doc_url = %s,\n%s    },"):format(
      c_string(op.name), c_string(op.method), c_string(op.path), table.concat(params, ", "),
      op.warnings and 1 or 0, op.data_member and c_string(op.data_member) or "NULL", op.list and 1 or 0,
      op.idempotent and 1 or 0, op.integration_scoped and 1 or 0,
      op.body_schema and "&s" .. op.body_schema.id or "NULL", op.body_required and 1 or 0,
      op.query and "&s" .. op.query.id or "NULL", c_string(op.doc_url),
      op.page_size_max and ("        .page_size_max = %d,\n"):format(op.page_size_max) or ""))
  end
  w("};\n")
  w("const size_t kombo_operation_count = sizeof kombo_operations / sizeof kombo_operations[0];\n")
  return table.concat(out, "\n")
end

-- ------------------------------------------------------------ Lua data

local function lua_string(s) return ("%q"):format(s) end

local function type_names(d)
  local out = {}
  for _, n in ipairs { "null", "boolean", "integer", "number", "string", "array", "object" } do
    local bit = ({ null = 1, boolean = 2, integer = 4, number = 8, string = 16, array = 32, object = 64 })[n]
    if d.types & bit ~= 0 then out[#out + 1] = n end
  end
  return out
end

local function lua_list(list)
  local items = {}
  for _, s in ipairs(list) do items[#items + 1] = lua_string(s) end
  return "{ " .. table.concat(items, ", ") .. (#items > 0 and " }" or "}")
end

local function emit_lua_data(model)
  local out = {
    "-- lua/kombo/gen/operations.lua - GENERATED by tools/generate.lua from",
    "-- spec/contract/kombo-openapi.json and spec/contract/operations.lua: do not",
    "-- edit; run `make generate`.  Per operation name: method, path, path",
    "-- parameters, query parameters (name, types, enum, required, list/bool),",
    "-- whether it is a list (data.results paged by data.next), its largest page_size",
    "-- and its record's fields (nested objects flattened with dots: CSV columns),",
    "-- the request body's top-level members, Kombo's page.",
    "return {",
    "  operations = {",
  }
  local function w(s) out[#out + 1] = s end
  for _, op in ipairs(model.operations) do
    w(("    %s = {"):format(op.name))
    w(("      method = %s, path = %s,"):format(lua_string(op.method), lua_string(op.path)))
    w(("      params = %s,"):format(lua_list(op.params)))
    w(("      integration_scoped = %s, idempotent = %s,"):format(tostring(op.integration_scoped),
      tostring(op.idempotent)))
    if op.list then
      w(("      list = true,%s"):format(op.page_size_max and (" page_size_max = %d,"):format(op.page_size_max) or ""))
      w(("      fields = %s,"):format(lua_list(op.fields)))
    end
    if op.query then
      w("      query = {")
      for _, p in ipairs(op.query.properties) do
        local extras = {}
        if p.schema.enum then extras[#extras + 1] = "enum = " .. lua_list(p.schema.enum) end
        if p.schema.flags & 4 ~= 0 then extras[#extras + 1] = "list = true" end
        if p.schema.flags & 8 ~= 0 then extras[#extras + 1] = "bool = true" end
        local more = #extras > 0 and ", " .. table.concat(extras, ", ") or ""
        w(("        { name = %s, types = %s, required = %s%s },"):format(lua_string(p.name),
          lua_list(type_names(p.schema)), tostring(p.required), more))
      end
      w("      },")
    else
      w("      query = {},")
    end
    if op.body_schema then
      local names = {}
      for _, p in ipairs(op.body_schema.properties or {}) do names[#names + 1] = p.name end
      w(("      body = %s, body_required = %s,"):format(lua_list(names), tostring(op.body_required)))
    end
    w(("      doc_url = %s,"):format(lua_string(op.doc_url)))
    w("    },")
  end
  w("  },")
  w("}")
  return table.concat(out, "\n") .. "\n"
end

-- The webhook event types, a file of their own: `require "kombo"` reads
-- them (kombo.WEBHOOK_EVENTS) without parsing the operations' data.
local function emit_webhook_events(model)
  local out = {
    "-- lua/kombo/gen/webhook_events.lua - GENERATED by tools/generate.lua from",
    "-- spec/contract/kombo-openapi.json: do not edit; run `make generate`.",
    "-- Each webhook event type and the members of its `data`.",
    "return {",
  }
  for _, e in ipairs(model.webhooks) do
    out[#out + 1] = ("  { type = %s, data = %s%s },"):format(lua_string(e.type), lua_list(e.data),
      e.deprecated and ", deprecated = true" or "")
  end
  out[#out + 1] = "}"
  return table.concat(out, "\n") .. "\n"
end

-- ------------------------------------------------------------ docs and types

local function camel(name)
  return (name:gsub("^%l", string.upper):gsub("_(%l)", string.upper))
end

-- A LuaLS type for a descriptor (depth-limited: deeper objects are tables).
local function lua_type(d, depth)
  depth = depth or 0
  if d.enum and #d.enum > 0 then
    local items = {}
    for _, v in ipairs(d.enum) do items[#items + 1] = lua_string(v):gsub("^\"", "'"):gsub("\"$", "'") end
    local t = table.concat(items, "|")
    if d.flags & 8 ~= 0 then t = t .. "|boolean" end
    if d.types & 1 ~= 0 then t = t .. "|kombo.Null" end
    return t
  end
  if d.const then return "'" .. d.const .. "'" end
  local out = {}
  if d.types & 16 ~= 0 then out[#out + 1] = "string" end
  if d.types & 4 ~= 0 and d.types & 8 == 0 then out[#out + 1] = "integer" end
  if d.types & 8 ~= 0 then out[#out + 1] = "number" end
  if d.types & 2 ~= 0 then out[#out + 1] = "boolean" end
  if d.types & 32 ~= 0 then
    out[#out + 1] = d.items and depth < 3 and (lua_type(d.items, depth + 1):find("|", 1, true)
      and "(" .. lua_type(d.items, depth + 1) .. ")[]" or lua_type(d.items, depth + 1) .. "[]") or "any[]"
  end
  if d.types & 64 ~= 0 then out[#out + 1] = "table" end
  if d.flags & 4 ~= 0 then out[#out + 1] = "string[]" end
  if d.flags & 8 ~= 0 then out[#out + 1] = "boolean" end
  if #out == 0 then
    if d.branches or d.properties then return "table" end
    return "any"
  end
  if d.types & 1 ~= 0 then out[#out + 1] = "kombo.Null" end
  return table.concat(out, "|")
end

-- The type LDoc shows: as lua_type, but an enum or const as its JSON type
-- (the values are listed beside it), JSON null as `null`.
local function doc_type(d)
  local plain = {}
  for k, v in pairs(d) do plain[k] = v end
  plain.enum, plain.const = nil, nil
  return (lua_type(plain):gsub("kombo%.Null", "null"))
end

-- The flat list of an operation's argument fields: { name, type, required, note }.
local function arg_fields(op)
  local fields = {}
  for _, p in ipairs(op.params) do
    fields[#fields + 1] = { name = p, type = "string", required = true, note = "path parameter" }
  end
  if op.integration_scoped then
    fields[#fields + 1] = { name = "integration_id", type = "string", required = false,
      note = "sent as `X-Integration-Id`; default: the client's" }
  end
  for _, p in ipairs(op.query and op.query.properties or {}) do
    fields[#fields + 1] = { name = p.name, type = lua_type(p.schema), required = p.required,
      note = "query parameter", query = p }
  end
  if op.body_schema then
    -- What the binding takes beside a body (csrc/lua/lua_request.c, call_keys).
    fields[#fields + 1] = { name = "on_progress", type = "fun(sent: integer, total: integer)", ldoc = "func",
      required = false, note = "`function(sent, total)`: bytes of the request body sent" }
    fields[#fields + 1] = { name = "preflight", type = "boolean", required = false,
      note = "check the body's documents against the integration's restrictions first, where Kombo "
        .. "publishes them (README: preflight); overrides the client's `preflight`" }
    fields[#fields + 1] = { name = "body", type = "kombo.gen." .. camel(op.name) .. "Body",
      required = op.body_required, note = "request body", body = true }
  end
  return fields
end

local function emit_types(model, root)
  local out = {
    "---@meta kombo.gen.types",
    "-- lua/kombo/gen/types.lua - GENERATED by tools/generate.lua (make generate): do not edit.",
    "-- LuaLS types of every operation's argument table, query and body (top-level",
    "-- members; deeper objects are plain tables), and the client methods and",
    "-- module functions lua/kombo/types.lua does not declare by hand (the upload,",
    "-- attachment and restriction operations and check_api_key are there).",
    "-- Arguments: path parameters, integration_id and the query parameters at",
    "-- the top, the request body under `body`.",
    "",
    "---@class kombo.Client",
    "local Client = {}",
    "",
    "---@class kombo",
    "local kombo = {}",
    "",
  }
  local function w(s) out[#out + 1] = s end
  local hand = {} -- the methods lua/kombo/types.lua declares by hand
  local fh = io.open(root .. "/lua/kombo/types.lua", "rb")
  if fh then
    for name in fh:read("a"):gmatch("\nfunction Client:([%w_]+)%(") do hand[name] = true end
    fh:close()
  end
  -- The names pages() and each() take.
  local lists = {}
  for _, op in ipairs(model.operations) do
    if op.list then lists[#lists + 1] = "'" .. op.name .. "'" end
  end
  w("---The operations that are lists (`data.results`, paged by `data.next`): what")
  w("---`client:pages` and `client:each` take.")
  w("---@alias kombo.ListName " .. table.concat(lists, "|"))
  w("")
  for _, op in ipairs(model.operations) do
    local cls = "kombo.gen." .. camel(op.name)
    w(("---The arguments of `%s` (%s %s)."):format(op.name, op.method, op.path))
    w(("---@class %sArgs"):format(cls))
    for _, f in ipairs(arg_fields(op)) do
      w(("---@field %s%s %s"):format(f.name, f.required and "" or "?", f.type))
    end
    w("")
    if op.body_schema then
      w(("---@class %sBody"):format(cls))
      for _, p in ipairs(op.body_schema.properties or {}) do
        w(("---@field %s%s %s"):format(p.name, p.required and "" or "?", lua_type(p.schema)))
      end
      if op.body_schema.flags & 2 ~= 0 or not op.body_schema.properties then w("---@field [string] any") end
      w("")
    end
    if not hand[op.name] then
      local optional = true
      for _, f in ipairs(arg_fields(op)) do if f.required then optional = false end end
      w(("---%s %s: %s"):format(op.method, op.path, op.doc_url))
      w(("---@param args%s %sArgs"):format(optional and "?" or "", cls))
      w("---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...")
      w("---@return kombo.Result? res")
      w("---@return kombo.Error? err")
      w(("function Client:%s(args, opts) end"):format(op.name))
      w("")
      w(("---`client:%s` on the default client."):format(op.name))
      w(("---@param args%s %sArgs"):format(optional and "?" or "", cls))
      w("---@param opts? kombo.CallOptions this call's own options")
      w("---@return kombo.Result? res")
      w("---@return kombo.Error? err")
      w(("function kombo.%s(args, opts) end"):format(op.name))
      w("")
    end
  end
  return table.concat(out, "\n")
end

local function emit_luadoc(model)
  local out = {
    "--- The API's operations (GENERATED by tools/generate.lua from Kombo's API",
    "-- description and spec/contract/operations.lua; do not edit, run `make generate`).",
    "-- One client method and one module function per operation, made from the",
    "-- C core's table.  What the description cannot say (an upload's argument",
    "-- table, how an unknown outcome is settled, an example) comes from the",
    "-- hand table's `doc`.  Merged into the kombo module's page (config.ld).",
    "-- @module kombo",
    "",
  }
  local function w(s) out[#out + 1] = s end
  local function lines(text)
    for l in (text .. "\n"):gmatch("(.-)\n") do w("-- " .. l) end
  end
  for _, op in ipairs(model.operations) do
    local doc = op.hand.doc or {}
    w(("--- %s`%s %s`."):format(doc.summary and doc.summary .. ": " or "", op.method, op.path))
    w(("-- Kombo's reference: [%s](%s)."):format(op.doc_url, op.doc_url))
    if doc.note then
      lines(doc.note)
    else
      w(op.idempotent and "-- Retried like every read (idempotent)."
        or "-- Not retried once it may have been processed (not idempotent).")
    end
    if op.list then
      w(("-- One page of a list: @{Client:pages} and @{Client:each} follow `data.next`%s."):format(
        op.page_size_max and (" (`page_size` up to %d, their default)"):format(op.page_size_max) or ""))
    end
    w(("-- @function Client:%s"):format(op.name))
    w("-- @within Client")
    local fields = arg_fields(op)
    local any_required = false
    for _, f in ipairs(fields) do if f.required then any_required = true end end
    if doc.args then
      w(("-- @tparam %s args the call's arguments"):format(doc.args))
    elseif #fields == 0 then
      w("-- @tparam[opt] table args nothing, or an empty table")
    else
      w(("-- @tparam%s table args the call's arguments:"):format(any_required and "" or "[opt]"))
      for _, f in ipairs(fields) do
        if f.query then
          local p = f.query
          local t = doc_type(p.schema)
          local enum = p.schema.enum and (", one of `" .. table.concat(p.schema.enum, "`, `") .. "`") or ""
          local how = p.schema.flags & 4 ~= 0 and ", a list (joined with commas)" or ""
          w(("-- @tparam%s %s args.%s query parameter%s%s"):format(p.required and "" or "[opt]",
            t, p.name, enum, how))
        else
          local t = f.body and "table" or f.ldoc or f.type
          w(("-- @tparam%s %s args.%s %s"):format(f.required and "" or "[opt]", t, f.name, f.note))
        end
      end
      if op.body_schema then
        for _, p in ipairs(op.body_schema.properties or {}) do
          local t = doc_type(p.schema)
          local enum = p.schema.enum and (", one of `" .. table.concat(p.schema.enum, "`, `") .. "`")
            or p.schema.const and (", `" .. p.schema.const .. "`") or ""
          w(("-- @tparam%s %s args.body.%s body member%s"):format(p.required and "" or "[opt]",
            t, p.name, enum))
        end
      end
    end
    w("-- @tparam[opt] CallOptions opts this call's own options (timeout, retries, headers, hooks, ...)")
    w(doc.data and ("-- @treturn[1] Result `res`; `res.data` is the @{%s}"):format(doc.data)
      or "-- @treturn[1] Result `res`")
    w("-- @return[2] nil")
    w("-- @treturn[2] Error `err`")
    w("-- @raise misuse: `args` not a table, a bad option in `opts`, or a closed client")
    if doc.usage then
      w("-- @usage")
      lines(doc.usage)
    end
    w("")
  end
  for _, op in ipairs(model.operations) do
    local doc = op.hand.doc or {}
    w(("--- Calls @{Client:%s} on the @{default_client}."):format(op.name))
    w(("-- @function %s"):format(op.name))
    w(doc.args and ("-- @tparam %s args the call's arguments"):format(doc.args)
      or "-- @tparam[opt] table args the call's arguments, as for the method")
    w("-- @tparam[opt] CallOptions opts this call's own options, as for the method")
    w(doc.data and ("-- @treturn[1] Result `res`; `res.data` is the @{%s}"):format(doc.data)
      or "-- @treturn[1] Result `res`")
    w("-- @return[2] nil")
    w("-- @treturn[2] Error `err`")
    w(("-- @usage local res, err = kombo.%s(%s)"):format(op.name, op.body_schema and "{...}" or "{...}"))
    w("")
  end
  return table.concat(out, "\n")
end

-- ------------------------------------------------------------ webhook events

-- "assessment:order-received" -> "AssessmentOrderReceived"
local function event_class(type_name)
  return (type_name:gsub("[^%w]+", " "):gsub("(%w)(%w*)", function(a, b) return a:upper() .. b end):gsub(" ", ""))
end
M.event_class = event_class

-- A member's LuaLS type, objects spelt out ({name: T, ...}) two levels
-- deep: an event's data is read, not written, so its shape is what an
-- editor should complete.
local function shape_type(d, depth)
  depth = depth or 0
  if d.properties and #d.properties > 0 and depth < 2 then
    local fields = {}
    for _, p in ipairs(d.properties) do
      fields[#fields + 1] = ("%s%s: %s"):format(p.name, p.required and "" or "?", shape_type(p.schema, depth + 1))
    end
    return "{" .. table.concat(fields, ", ") .. "}" .. (d.types & 1 ~= 0 and "|kombo.Null" or "")
  end
  if d.types & 32 ~= 0 and d.items and d.items.properties and depth < 2 then
    return shape_type(d.items, depth) .. "[]"
  end
  return lua_type(d)
end

-- LuaLS types of the webhook events Kombo describes: one class per type's
-- `data`, the union of them, and the type names (kombo.WebhookEvent, by
-- hand in lua/kombo/types.lua, points at these).
local function emit_webhook_types(model)
  local out = {
    "---@meta kombo.gen.webhook_types",
    "-- lua/kombo/gen/webhook_types.lua - GENERATED by tools/generate.lua (make generate): do not edit.",
    "-- LuaLS types of the webhook events Kombo's description lists: the event",
    "-- types, and the members of each type's `data`.",
    "",
  }
  local function w(s) out[#out + 1] = s end
  local names, classes = {}, {}
  for _, e in ipairs(model.webhooks) do
    names[#names + 1] = "'" .. e.type .. "'"
    classes[#classes + 1] = "kombo.gen." .. event_class(e.type) .. "Data"
  end
  w("---The event types Kombo describes (an event of another type has `known = false`).")
  w("---@alias kombo.gen.WebhookEventType " .. table.concat(names, "|"))
  w("")
  w("---The `data` of an event: one class per type, a plain table for a type Kombo adds later.")
  w("---@alias kombo.gen.WebhookData " .. table.concat(classes, "|") .. "|table<string, any>")
  w("")
  for i, e in ipairs(model.webhooks) do
    w(("---The `data` of an event of type `%s`%s."):format(e.type, e.deprecated and " (deprecated)" or ""))
    w(("---@class %s"):format(classes[i]))
    for _, p in ipairs(e.data_schema and e.data_schema.properties or {}) do
      w(("---@field %s%s %s"):format(p.name, p.required and "" or "?", shape_type(p.schema)))
    end
    w("")
  end
  return table.concat(out, "\n")
end

-- What a member of an event's data holds, for the reference: its values
-- when it has a set of them; the members of the objects it holds.
local function member_note(d)
  if d.enum then return "one of `" .. table.concat(d.enum, "`, `") .. "`" end
  local obj = d.types & 32 ~= 0 and d.items or d
  if not (obj.properties and #obj.properties > 0) then return "" end
  local parts = {}
  for _, p in ipairs(obj.properties) do
    local note = member_note(p.schema)
    parts[#parts + 1] = "`" .. p.name .. "`" .. (p.required and "" or " (optional)")
      .. (note ~= "" and " (" .. note .. ")" or "")
  end
  return (obj == d and "with " or "each with ") .. table.concat(parts, ", ")
end

-- The reference's table of each event type's `data` (LDoc, merged into the
-- kombo module's page after kombo.verify_webhook).
local function emit_webhook_luadoc(model)
  local out = {
    "--- The webhook events (GENERATED by tools/generate.lua from Kombo's API",
    "-- description; do not edit, run `make generate`): the `data` of each event",
    "-- type Kombo describes.  kombo.verify_webhook returns an event of another",
    "-- type too, with `known = false`.  Merged into the kombo module's page (config.ld).",
    "-- @module kombo",
    "",
  }
  local function w(s) out[#out + 1] = s end
  for _, e in ipairs(model.webhooks) do
    w(("--- The `data` of an event of type `%s` (Kombo's `%s`)%s."):format(e.type, e.schema_name or e.type,
      e.deprecated and "; the description deprecates this type" or ""))
    w(("-- @table %sData"):format(event_class(e.type)))
    w("-- @within Webhook events")
    for _, p in ipairs(e.data_schema and e.data_schema.properties or {}) do
      local note = member_note(p.schema)
      w(("-- @tfield%s %s %s%s"):format(p.required and "" or "[opt]", doc_type(p.schema), p.name,
        note ~= "" and " " .. note or ""))
    end
    w("")
  end
  return table.concat(out, "\n")
end

-- ------------------------------------------------------------ driver

-- Returns { [relative path] = content }.
function M.generate(root)
  root = root or "."
  local api = M.decode_json(read(root .. "/" .. DESCRIPTION))
  local hand = assert(load(read(root .. "/" .. HAND), "@" .. HAND, "t", {}))()
  local model = M.model(api, hand)
  return {
    ["csrc/gen/operations.c"] = emit_c(model),
    ["lua/kombo/gen/operations.lua"] = emit_lua_data(model),
    ["lua/kombo/gen/webhook_events.lua"] = emit_webhook_events(model),
    ["lua/kombo/gen/types.lua"] = emit_types(model, root),
    ["doc/operations.luadoc"] = emit_luadoc(model),
    ["lua/kombo/gen/webhook_types.lua"] = emit_webhook_types(model),
    ["doc/webhooks.luadoc"] = emit_webhook_luadoc(model),
  }, model
end

local function write_if_changed(path, content)
  local f = io.open(path, "rb")
  if f then
    local old = f:read("a")
    f:close()
    if old == content then return false end
  end
  os.execute("mkdir -p '" .. path:match("^(.*)/[^/]*$") .. "'")
  f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return true
end

function M.main(argv)
  local out = "."
  local i = 1
  while i <= #argv do
    if argv[i] == "--out" then
      out = argv[i + 1] or fail("--out needs a directory")
      i = i + 2
    else
      io.stderr:write("usage: lua5.4 tools/generate.lua [--out DIR]\n")
      return 2
    end
  end
  local files, model = M.generate(".")
  local names = {}
  for k in pairs(files) do names[#names + 1] = k end
  table.sort(names)
  for _, name in ipairs(names) do
    if write_if_changed(out .. "/" .. name, files[name]) then print("wrote " .. out .. "/" .. name) end
  end
  if os.getenv("GENERATE_VERBOSE") then
    print(("%d operations, %d descriptors"):format(#model.operations, #model.nodes))
    for _, where in ipairs(model.file_nodes) do print("file object: " .. where) end
  end
  return 0
end

local modname = ...
if not (type(modname) == "string" and modname:find("generate$")) then
  local ok, err = pcall(M.main, arg)
  if not ok then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  end
  os.exit(err)
end

return M
