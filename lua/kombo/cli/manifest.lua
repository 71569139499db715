--- kombo-attach's manifest: CSV with a header row (RFC 4180 quoting) or
-- JSON Lines, one upload per row.  Reading gives rows with their line
-- numbers; checking a row gives the reasons it is bad, or the job table
-- `attach_many` takes.  Works on Lua 5.1 (LuaJIT) to 5.4.
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

local TYPES = { CV = true, COVER_LETTER = true, OTHER = true }

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
local function parse_csv(s)
  local records, pos, line, n = {}, 1, 1, #s
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

local function csv_rows(text)
  local records, err = parse_csv(text)
  if not records then return nil, err end
  local header = table.remove(records, 1)
  if not header then return nil, "the manifest is empty (a CSV manifest starts with a header row)" end
  local names, seen = {}, {}
  for i, raw in ipairs(header.fields) do
    local name = trim(raw)
    if not FIELDS[name] then
      return nil, format("line %d: unknown column %q (known: %s)", header.line, name, FIELD_LIST)
    end
    if seen[name] then return nil, format("line %d: column %q appears twice", header.line, name) end
    seen[name], names[i] = true, name
  end
  if not (seen.candidate_id or seen.application_id) or not (seen.file or seen.data_url) or not seen.type then
    return nil, format("line %d: the header needs the columns candidate_id or application_id, file or data_url, "
      .. "and type", header.line)
  end
  local rows = {}
  for _, rec in ipairs(records) do
    local row = { line = rec.line, fields = {} }
    if #rec.fields ~= #names then
      row.shape = format("has %d fields, the header has %d", #rec.fields, #names)
    else
      for i, v in ipairs(rec.fields) do
        if v ~= "" then row.fields[names[i]] = v end -- an empty cell is an absent value
      end
    end
    rows[#rows + 1] = row
  end
  return rows
end

---------------------------------------------------------------- JSON Lines

local function jsonl_rows(text)
  local rows, line = {}, 0
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line + 1
    l = l:gsub("\r$", "")
    if l:find("%S") then
      local row = { line = line, fields = {} }
      local ok, v = pcall(cjson.decode, l)
      if not ok then
        row.shape = "is not JSON: " .. tostring(v):gsub("^.-: ", "")
      elseif type(v) ~= "table" or v[1] ~= nil then
        row.shape = "is not a JSON object"
      else
        for k, x in pairs(v) do
          if not FIELDS[k] then
            row.shape = format("has an unknown key %q (known: %s)", tostring(k), FIELD_LIST)
            break
          elseif x ~= cjson.null then
            if type(x) ~= "string" then
              row.shape = format("%s must be a string, got %s", k, type(x))
              break
            end
            row.fields[k] = x
          end
        end
      end
      rows[#rows + 1] = row
    end
  end
  return rows
end

---------------------------------------------------------------- reading

--- The directory part of a path ("." when there is none).
function manifest.dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

--- Reads a manifest: JSON Lines when the name ends in .jsonl / .ndjson or
-- the first non-blank character is `{`, CSV otherwise.
-- @return rows `{ { line =, fields = {...}, shape = reason or nil }, ... }`, format; or nil, message
function manifest.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open the manifest: " .. err end
  local text, rerr = f:read("*a")
  f:close()
  if not text then return nil, "cannot read the manifest: " .. tostring(rerr) end
  text = text:gsub("^\239\187\191", "") -- a UTF-8 byte order mark
  local fmt
  if path:find("%.jsonl$") or path:find("%.ndjson$") or (not path:find("%.csv$") and text:find("^%s*{")) then
    fmt = "jsonl"
  else
    fmt = "csv"
  end
  local rows, perr
  if fmt == "jsonl" then rows, perr = jsonl_rows(text) else rows, perr = csv_rows(text) end
  if not rows then return nil, perr end
  return rows, fmt
end

---------------------------------------------------------------- checking

-- Valid UTF-8 (no overlongs, no surrogates), without utf8.* (Lua 5.1).
local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    local len, lo, hi
    lo, hi = 0x80, 0xBF
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then
      len = 3
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      len = 4
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else return false end
    for k = 1, len - 1 do
      local b = byte(s, i + k)
      if not b then return false end
      if k == 1 then
        if b < lo or b > hi then return false end
      elseif b < 0x80 or b > 0xBF then return false end
    end
    i = i + len
  end
  return true
end

-- The library's rules for a path id (README "Calls").
local function id_problem(v)
  if v == "." or v == ".." then return "must not be . or .." end
  if find(v, "[\r\n%z]") then return "must not hold CR, LF or NUL" end
  if not valid_utf8(v) then return "is not valid UTF-8" end
  return nil
end

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

--- Checks one row and builds its job.  `ctx = { dir =, integration_id = }`
-- (the manifest's directory, the default integration).  Sets row.job,
-- row.size (bytes of the file, 0 for a URL), row.target ("candidate" or
-- "application"), row.digest (the file's SHA-256) and row.id (its identity,
-- manifest.identity); returns the list of reasons the row is bad (empty when it is good).
function manifest.check(row, ctx)
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
    local why = id_problem(f[id_key])
    if why then bad[#bad + 1] = id_key .. " " .. why end
  end
  local integration = f.integration_id or ctx.integration_id
  if not integration or integration == "" then
    bad[#bad + 1] = "has no integration_id (give the column, --integration-id or KOMBO_INTEGRATION_ID)"
  elseif find(integration, "[\r\n%z]") then
    bad[#bad + 1] = "integration_id must not hold CR, LF or NUL"
  end
  if not f.type then
    bad[#bad + 1] = "has no type (CV, COVER_LETTER or OTHER)"
  elseif not TYPES[f.type] then
    bad[#bad + 1] = format("type %q is not CV, COVER_LETTER or OTHER", f.type)
  end
  if f.content_type and not f.content_type:find("^[%w_.-]+/[%w_.-]+$") then
    bad[#bad + 1] = format("content_type %q is not of the form type/subtype", f.content_type)
  end
  if f.name and not valid_utf8(f.name) then bad[#bad + 1] = "name is not valid UTF-8" end
  local attachment = { name = f.name, type = f.type, content_type = f.content_type }
  local size, digest = 0, nil
  if f.file and f.data_url then
    bad[#bad + 1] = "has both file and data_url"
  elseif f.file then
    local path = f.file:sub(1, 1) == "/" and f.file or (ctx.dir .. "/" .. f.file)
    local d, n = file_digest(path)
    if not d then bad[#bad + 1] = format("file %s %s", f.file, n) end
    digest, size = d, d and n or 0
    attachment.file = path
    if not attachment.name then attachment.name = base_name(f.file) end
  elseif f.data_url then
    if not f.data_url:find("^[hH][tT][tT][pP][sS]?://[^/%s]") then
      bad[#bad + 1] = "data_url must be an absolute http(s) URL"
    end
    if not f.name then bad[#bad + 1] = "needs a name with data_url" end
    attachment.data_url = f.data_url
  else
    bad[#bad + 1] = "has neither file nor data_url"
  end
  row.target, row.size, row.digest = target, size, digest
  if #bad > 0 then return bad end
  row.job = { [id_key] = f[id_key], integration_id = integration, body = { attachment = attachment } }
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

--- The keys a format 1 journal gave these rows: `{ [key] = row }`.
function manifest.legacy_keys(rows)
  local seen, keys = {}, {}
  for _, row in ipairs(rows) do
    if row.legacy_ident then
      local h = legacy_hash(row.legacy_ident)
      seen[h] = (seen[h] or 0) + 1
      keys[h .. "." .. seen[h]] = row
    end
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
