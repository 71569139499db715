--- The manifests of kombo-attach and kombo apply: CSV with a header row
-- (RFC 4180 quoting) or JSON Lines, one request per row.  Reading gives rows
-- with their line numbers (and their text, for the failed-rows file); what
-- the columns may be is a schema's (kombo-attach's is the default, below;
-- kombo apply's is in apply.lua).  Checking a kombo-attach row gives the
-- reasons it is bad, or the job table `attach_many` takes.  Works on Lua
-- 5.1 (LuaJIT) to 5.4.
local cjson = require "cjson"
local core = require "kombo.core"

local manifest = {}

local byte, find, sub, format, concat = string.byte, string.find, string.sub, string.format, table.concat

-- The columns / keys, and whether a row must have one of each group.
local FIELDS = {
  candidate_id = true, application_id = true, file = true, data_url = true,
  type = true, name = true, content_type = true, integration_id = true,
}
local FIELD_LIST = "candidate_id, application_id, file, data_url, type, name, content_type, integration_id"
manifest.FIELDS = FIELDS

local function count_newlines(s)
  local n, i = 0, 0
  while true do
    i = find(s, "\n", i + 1, true)
    if not i then return n end
    n = n + 1
  end
end

---------------------------------------------------------------- CSV

-- RFC 4180: fields separated by commas, records by CRLF or LF; a quoted
-- field may hold commas, line breaks and "" for a quote.  Returns a list of
-- { line = first physical line, fields = {...} }, or nil, message.
-- `first_line` is the number of the text's first line (default 1).
local function parse_csv(s, first_line)
  local records, pos, line, n = {}, 1, first_line or 1, #s
  while pos <= n do
    local rec_line, fields = line, {}
    while true do
      local field
      if byte(s, pos) == 34 then -- '"'
        local buf, p = {}, pos + 1
        while true do
          local q = find(s, '"', p, true)
          if not q then return nil, format("line %d: a quoted field is never closed", rec_line) end
          local chunk = sub(s, p, q - 1)
          line = line + count_newlines(chunk)
          buf[#buf + 1] = chunk
          if byte(s, q + 1) == 34 then
            buf[#buf + 1] = '"'
            p = q + 2
          else
            p = q + 1
            break
          end
        end
        field, pos = concat(buf), p
        local c = byte(s, pos)
        if c ~= nil and c ~= 44 and c ~= 10 and c ~= 13 then
          return nil, format("line %d: text after the closing quote of a field", line)
        end
      else
        local e = find(s, "[,\r\n]", pos) or n + 1
        field = sub(s, pos, e - 1)
        if find(field, '"', 1, true) then
          return nil, format("line %d: a quote inside an unquoted field (quote the whole field, doubling the quote)",
            line)
        end
        pos = e
      end
      fields[#fields + 1] = field
      local c = byte(s, pos)
      if c == 44 then
        pos = pos + 1
      else
        if c == 13 then
          pos = pos + (byte(s, pos + 1) == 10 and 2 or 1)
          line = line + 1
        elseif c == 10 then
          pos = pos + 1
          line = line + 1
        end
        break
      end
    end
    if not (#fields == 1 and fields[1] == "") then -- blank lines are skipped
      records[#records + 1] = { line = rec_line, fields = fields }
    end
  end
  return records
end
manifest.parse_csv = parse_csv

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- The header row: the column names in order, or nil, message.
local function csv_header(header, schema)
  local names, seen = {}, {}
  for i, raw in ipairs(header.fields) do
    local name = trim(raw)
    if schema.fields and not schema.fields[name] then
      return nil, format("line %d: unknown column %q (known: %s)", header.line, name, schema.field_list)
    end
    if name == "" then return nil, format("line %d: column %d has no name", header.line, i) end
    if seen[name] then return nil, format("line %d: column %q appears twice", header.line, name) end
    seen[name], names[i] = true, name
  end
  local missing = schema.header and schema.header(seen)
  if missing then return nil, format("line %d: %s", header.line, missing) end
  return names
end

local function csv_row(rec, names)
  local row = { line = rec.line, fields = {}, cells = rec.fields, raw = rec.raw }
  if #rec.fields ~= #names then
    row.shape = format("has %d fields, the header has %d", #rec.fields, #names)
  else
    for i, v in ipairs(rec.fields) do
      if v ~= "" then row.fields[names[i]] = v end -- an empty cell is an absent value
    end
  end
  return row
end

---------------------------------------------------------------- JSON Lines

-- lua-cjson's tokens, in words.
local TOKENS = {
  T_OBJ_BEGIN = "{", T_OBJ_END = "}", T_ARR_BEGIN = "[", T_ARR_END = "]", T_STRING = "a string",
  T_INTEGER = "a number", T_NUMBER = "a number", T_BOOLEAN = "true or false", T_NULL = "null",
  T_COLON = "':'", T_COMMA = "','", T_END = "the end of the line", T_WHITESPACE = "a space",
  T_ERROR = "something that is not JSON", T_UNKNOWN = "something that is not JSON",
}

--- lua-cjson's message ("Expected object key string but found T_OBJ_END at
-- character 64") in plain words, with the column.
function manifest.json_problem(msg)
  msg = tostring(msg):gsub("^.-: ", "")
  local what, col = msg:match("^(.-) at character (%d+)$")
  what = (what or msg):gsub("T_[%u_]+", function(t) return TOKENS[t] or t end)
    :gsub("^Expected (.-) but found (.*)$", "expected %1, found %2")
    :gsub("object key string", "a key in double quotes"):gsub("colon", "':'")
    :gsub("comma or object end", "',' or '}'"):gsub("comma or array end", "',' or ']'")
    :gsub("invalid token", "something that is not JSON"):gsub("^expected value", "expected a value")
    :gsub("^(%u)", string.lower)
  return col and format("%s (column %s)", what, col) or what
end

-- A JSON string token's text (escapes undone), for keys: "\u0066ile" is "file".
local function key_text(raw)
  if not find(raw, "\\", 1, true) then return raw end
  local ok, v = pcall(cjson.decode, '"' .. raw .. '"')
  return ok and v or raw
end

--- Walks the text of a JSON value that lua-cjson accepted.  Returns the
-- first key given twice in one object (lua-cjson keeps the last one
-- silently), or nil; and the members named in `wanted` whose value is a
-- string: `{ i =, j =, path = }`, the string's first and last byte (its
-- quotes), for rewriting it in place.  A member's path is its keys joined
-- by dots, an array's element "[]": `file`, `attachments.[].file`.
function manifest.scan_json(s, wanted)
  local spans, stack, top = {}, {}, nil
  local function join(prefix, key) return prefix == "" and key or (prefix .. "." .. key) end
  local function value_path()
    if not top then return "" end
    return join(top.prefix, top.object and (top.key or "?") or "[]")
  end
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    if c == 34 then -- a string: to its closing quote, past escapes
      local j = i + 1
      while true do
        local q = find(s, '["\\]', j)
        if not q then return nil, spans end -- (lua-cjson accepted the text: not reached)
        if byte(s, q) == 92 then j = q + 2 else j = q break end
      end
      if top and top.object and top.want_key then
        local key = key_text(sub(s, i + 1, j - 1))
        if top.keys[key] then return key, spans end
        top.keys[key], top.key, top.want_key = true, key, false
      elseif wanted then
        local path = value_path()
        if wanted[path] then spans[#spans + 1] = { i = i, j = j, path = path } end
      end
      i = j
    elseif c == 123 or c == 91 then -- { [
      local entry = { object = c == 123, keys = {}, want_key = c == 123, prefix = value_path() }
      stack[#stack + 1] = entry
      top = entry
    elseif c == 125 or c == 93 then -- } ]
      stack[#stack] = nil
      top = stack[#stack]
    elseif c == 44 and top and top.object then -- ,
      top.want_key = true
    end
    i = i + 1
  end
  return nil, spans
end

local function jsonl_row(l, line, schema)
  local row = { line = line, fields = {}, raw = l }
  local ok, v = pcall(cjson.decode, l)
  local twice = ok and type(v) == "table" and manifest.scan_json(l)
  if not ok then
    row.shape = "is not JSON: " .. manifest.json_problem(v)
  elseif twice then
    row.shape = format("has the key %q twice", twice)
  elseif type(v) ~= "table" or v[1] ~= nil or (next(v) == nil and l:match("^%s*%[")) then
    row.shape = "is not a JSON object"
  else
    for k, x in pairs(v) do
      if schema.fields and not schema.fields[k] then
        row.shape = format("has an unknown key %q (known: %s)", tostring(k), schema.field_list)
        break
      elseif x ~= cjson.null then
        if schema.strings and type(x) ~= "string" then
          row.shape = format("%s must be a string, got %s", k, type(x))
          break
        end
        row.fields[k] = x
      end
    end
  end
  return row
end

---------------------------------------------------------------- reading

--- The directory part of a path ("." when there is none).
function manifest.dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- A manifest is read a row at a time (a CSV record may span lines), so
-- that memory does not grow with its length.
local Reader = {}
Reader.__index = Reader

-- The next physical line without its newline (and without a CR before
-- it), or nil at the end.
function Reader:line()
  local l = self.pending
  if l then
    self.pending = nil
  else
    l = self.f:read("*l")
    if not l then return nil end
  end
  self.lineno = self.lineno + 1
  if self.lineno == 1 then l = l:gsub("^\239\187\191", "") end -- a UTF-8 byte order mark
  return l
end

-- The next CSV record (lines are joined while a quote is open), or nil at
-- the end, or nil, message.
function Reader:record()
  while true do
    local first, parts, quotes = self.lineno + 1, {}, 0
    repeat
      local l = self:line()
      if not l then
        if #parts == 0 then return nil end
        return nil, format("line %d: a quoted field is never closed", first)
      end
      parts[#parts + 1] = l
      local _, q = l:gsub('"', "")
      quotes = quotes + q
      if #parts == 1 and quotes % 2 == 1 then
        -- An odd quote opens a field that goes on to the next line, unless
        -- the line itself is malformed: say so now, not at the end of the file.
        local _, err = parse_csv(l, first)
        if err and not err:find("never closed", 1, true) then return nil, err end
      end
    until quotes % 2 == 0
    local raw = concat(parts, "\n")
    local recs, err = parse_csv(raw, first)
    if not recs then return nil, err end
    if recs[1] then
      recs[1].raw = raw
      return recs[1]
    end -- (else a blank line)
  end
end

--- The next row `{ line =, fields = {...}, shape = reason or nil }`, or
-- nil at the end, or nil, message (the manifest cannot be read on).
function Reader:next()
  if self.format == "csv" then
    local rec, err = self:record()
    if not rec then return nil, err end
    return csv_row(rec, self.names)
  end
  while true do
    local l = self:line()
    if not l then return nil end
    l = l:gsub("\r$", "")
    if l:find("%S") then return jsonl_row(l, self.lineno, self.schema) end
  end
end

function Reader:close()
  if self.f then self.f:close() end
  self.f = nil
end

-- kombo-attach's columns: each a string, the groups a row needs one of.
manifest.ATTACH = {
  fields = FIELDS, field_list = FIELD_LIST, strings = true,
  header = function(seen)
    if not (seen.candidate_id or seen.application_id) or not (seen.file or seen.data_url) or not seen.type then
      return "the header needs the columns candidate_id or application_id, file or data_url, and type"
    end
  end,
}

--- Opens a manifest: JSON Lines when the name ends in .jsonl / .ndjson or
-- the first non-blank character is `{`, CSV otherwise (its header row is
-- read here).  `schema` says what the columns may be: `fields` (a set, or
-- nil for any), `field_list` (for messages), `strings` (JSON Lines values
-- must be strings), `header(seen)` (what a CSV header misses, or nil);
-- default manifest.ATTACH.
-- @return a reader (`:next()`, `:close()`, `.format`, `.names` and
-- `.header_raw` for CSV), or nil, message
function manifest.open(path, schema)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open the manifest: " .. tostring(err) end
  local self = setmetatable({ f = f, lineno = 0, schema = schema or manifest.ATTACH }, Reader)
  -- The first non-blank line tells the format; it is read again as a row.
  local skipped, first = 0
  repeat
    first = f:read("*l")
    if first and first:find("%S") then break end
    if first then skipped = skipped + 1 end
  until not first
  if first and skipped == 0 then first = first:gsub("^\239\187\191", "") end
  self.pending, self.lineno = first, skipped
  if path:find("%.jsonl$") or path:find("%.ndjson$")
    or (not path:find("%.csv$") and first and first:find("^%s*{")) then
    self.format = "jsonl"
    return self
  end
  self.format = "csv"
  local header, herr = self:record()
  if not header then
    f:close()
    return nil, herr or "the manifest is empty (a CSV manifest starts with a header row)"
  end
  local names, nerr = csv_header(header, self.schema)
  if not names then f:close() return nil, nerr end
  self.names, self.header_raw = names, header.raw
  return self
end

--- Reads a whole manifest (for small ones and specs; the commands stream).
-- @return rows `{ { line =, fields = {...}, shape = reason or nil }, ... }`, format; or nil, message
function manifest.read(path, schema)
  local r, err = manifest.open(path, schema)
  if not r then return nil, err end
  local rows = {}
  while true do
    local row, rerr = r:next()
    if not row then
      r:close()
      if rerr then return nil, rerr end
      return rows, r.format
    end
    rows[#rows + 1] = row
  end
end

---------------------------------------------------------------- checking

local function base_name(path) return path:match("([^/]+)$") or path end

-- The file's SHA-256 and size, or nil, reason.  core.sha256_file refuses
-- what is not a regular file (a FIFO, a device) without blocking on it.
local function file_digest(path)
  local digest, size = core.sha256_file(path)
  if not digest then
    local why = tostring(size)
    if why:sub(1, #path + 1) == path .. " " then why = why:sub(#path + 2) end -- the row names the file
    return nil, why
  end
  if size == 0 then return nil, "is empty" end
  return digest, size
end

--- Checks one row and builds its job.  `ctx = { dir =, integration_id =,
-- validate = }` (the manifest's directory, the default integration, and the
-- library's validation: `client:validate_upload`, bound).  Sets row.job,
-- row.size (bytes of the file, 0 for a URL), row.target ("candidate" or
-- "application"), row.digest (the file's SHA-256) and row.id (its identity,
-- manifest.identity); returns the list of reasons the row is bad (empty when it is good).
-- With `known_digest` (the file's SHA-256 from an earlier check) the file is
-- not read again: the upload's own digest (call:digest) is compared with it.
function manifest.check(row, ctx, known_digest)
  local bad = {}
  if row.shape then return { row.shape } end
  local f = row.fields
  local target, id_key
  if f.candidate_id and f.application_id then
    bad[#bad + 1] = "has both candidate_id and application_id"
  elseif not (f.candidate_id or f.application_id) then
    bad[#bad + 1] = "has neither candidate_id nor application_id"
  else
    id_key = f.candidate_id and "candidate_id" or "application_id"
    target = f.candidate_id and "candidate" or "application"
  end
  local integration = f.integration_id or ctx.integration_id
  if not integration or integration == "" then
    bad[#bad + 1] = "has no integration_id (give the column, --integration-id or KOMBO_INTEGRATION_ID)"
  end
  if not f.type then bad[#bad + 1] = "has no type (CV, COVER_LETTER or OTHER)" end
  local attachment = { name = f.name, type = f.type, content_type = f.content_type }
  local size, digest = 0, nil
  if f.file and f.data_url then
    bad[#bad + 1] = "has both file and data_url"
  elseif f.file then
    local path = f.file:sub(1, 1) == "/" and f.file or (ctx.dir .. "/" .. f.file)
    local d, n
    if known_digest then -- checked before (the first pass): the file is still one, of its size
      n, d = core.file_info(path)
      if n == 0 then d, n = nil, "is empty" elseif n then d = known_digest else n = d; d = nil end
    else
      d, n = file_digest(path)
    end
    if not d then bad[#bad + 1] = format("file %s %s", f.file, n) end
    digest, size = d, d and n or 0
    attachment.file = path
    if not attachment.name then attachment.name = base_name(f.file) end
  elseif f.data_url then
    if not f.name then bad[#bad + 1] = "needs a name with data_url" end
    attachment.data_url = f.data_url
  else
    bad[#bad + 1] = "has neither file nor data_url"
  end
  row.target, row.size, row.digest = target, size, digest
  if #bad > 0 then return bad end
  row.job = { [id_key] = f[id_key], integration_id = integration, body = { attachment = attachment } }
  -- Everything else is the library's own validation (ids, name, type,
  -- content type, the file): the dry run and the upload run the same one.
  if ctx.validate then
    local ok, err = ctx.validate(row.job)
    if not ok then
      for _, p in ipairs(err.problems or { { path = "row", message = tostring(err.message or err) } }) do
        local column = tostring(p.path):gsub("^body%.attachment%.", "")
        bad[#bad + 1] = column .. " " .. tostring(p.message)
      end
      row.job = nil
      return bad
    end
  end
  row.id = manifest.identity(integration, target, f[id_key], f.type, attachment.name,
    digest and ("sha256:" .. digest) or ("url:" .. attachment.data_url))
  -- The key of format 1 journals (legacy_keys), built as that version did.
  row.legacy_ident = concat({ target, f[id_key], integration, attachment.file or "", attachment.data_url or "",
                              f.type, attachment.name or "", f.content_type or "" }, "\0")
  return bad
end

--- A row's identity, as 32 hex digits: what it uploads (the document: its
-- content's SHA-256, or its data_url, with its type and name) to where (the
-- integration and the candidate or application).  The manifest's path, the
-- working directory, the file's path and the row's place do not count, nor
-- does content_type (the same bytes under another label are the same
-- document to the ATS).
function manifest.identity(integration, target, target_id, doc_type, name, document)
  return core.sha256(concat({ "kombo-attach row 2", integration, target, target_id, doc_type, name, document },
    "\0")):sub(1, 32)
end

-- Format 1 journals keyed rows by a 64-bit hash of the row as typed (two
-- 32-bit polynomial hashes) and its occurrence: kept only to read them.
local function legacy_hash(s)
  local h1, h2 = 5381, 7919
  for i = 1, #s do
    local b = byte(s, i)
    h1 = (h1 * 257 + b) % 4294967291
    h2 = (h2 * 65599 + b) % 4294967279
  end
  return format("%08x%08x", h1, h2)
end

--- The key a format 1 journal gave a checked row: `seen` counts the
-- occurrences of each hash so far (one table for the whole manifest).
function manifest.legacy_key(row, seen)
  if not row.legacy_ident then return nil end
  local h = legacy_hash(row.legacy_ident)
  seen[h] = (seen[h] or 0) + 1
  return h .. "." .. seen[h]
end

--- The keys a format 1 journal gave these rows: `{ [key] = row }`.
function manifest.legacy_keys(rows)
  local seen, keys = {}, {}
  for _, row in ipairs(rows) do
    local k = manifest.legacy_key(row, seen)
    if k then keys[k] = row end
  end
  return keys
end

--- Marks rows that repeat an earlier row's identity (the same document to
-- the same target): `row.duplicate_of` = the earlier row's line.  They are
-- uploaded once.  Returns how many there are.
function manifest.mark_duplicates(rows)
  local first, n = {}, 0
  for _, row in ipairs(rows) do
    if row.id then
      local f = first[row.id]
      if f then row.duplicate_of, n = f.line, n + 1 else first[row.id] = row end
    end
  end
  return n
end

return manifest
