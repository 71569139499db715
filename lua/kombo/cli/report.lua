--- The row reports of kombo-attach and kombo apply (README "Row reports"):
--
--   * `--report FILE`: a line per manifest row, `line,status,id,code,message`,
--     as CSV, a JSON array or JSON Lines by FILE's extension;
--   * `--report-failed FILE`: the rows that failed, in the manifest's own
--     form (its CSV header and cells, or its JSON Lines), ready to be fixed
--     and run again.  A failed row is one Kombo refused or that was never
--     sent (its outcome not_sent or rejected), so sending it again under
--     any journal can create nothing twice; rows whose outcome is unknown
--     are never in it.  Relative file paths are rewritten when FILE is in
--     another directory than the manifest, so that they name the same files.
--
-- Both are written whole to FILE.tmp and renamed over FILE, so a run killed
-- meanwhile leaves the previous one, never half of one.  Every cell passes
-- through the key's redaction: the API key is in no report.
local cjson = require "cjson"
local kombo = require "kombo"
local core = require "kombo.core"
local errors = require "kombo.errors"
local manifest = require "kombo.cli.manifest"

local report = {}

local concat, find = table.concat, string.find

report.COLUMNS = { "line", "status", "id", "code", "message" }

--- The report's format by its name's extension: "csv", "json", "jsonl", or nil.
function report.format_of(path)
  local ext = path:lower():match("%.(%w+)$")
  if ext == "csv" then return "csv" end
  if ext == "json" then return "json" end
  if ext == "jsonl" or ext == "ndjson" then return "jsonl" end
  return nil
end

--- Why a failed-rows file of this name would not read back as the
-- manifest's format (the manifest reader goes by the extension), or nil.
function report.format_mismatch(path, manifest_format)
  local ext = report.format_of(path)
  if manifest_format == "jsonl" and ext == "csv" then
    return "must not end in .csv: the manifest is JSON Lines"
  elseif manifest_format == "csv" and (ext == "json" or ext == "jsonl") then
    return "must not end in ." .. path:lower():match("%.(%w+)$") .. ": the manifest is CSV"
  end
  return nil
end

--- A report row from a run's outcome of a row: `{ line, status, id, code, message }`
-- (code: Kombo's error code, else the error's kind).
function report.row(r)
  return { line = r.line, status = r.status, id = r.id, code = r.code or r.kind, message = r.message or r.reason }
end

local function csv_cell(s)
  if s == nil then return "" end
  s = tostring(s)
  if find(s, '[",\r\n]') or s:match("^%s") or s:match("%s$") then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end
report.csv_cell = csv_cell

-- Writes `lines` (an iterator of texts) to path through a temporary file
-- renamed over it (a device or a FIFO is written in place).
local function write_whole(path, each)
  local size, _, what = core.file_info(path)
  local direct = not size and what ~= "missing"
  local tmp = direct and path or (path .. ".tmp")
  local f, err = io.open(tmp, "wb")
  if not f then return nil, tostring(err) end
  local ok, werr = true, nil
  for text in each do
    ok, werr = f:write(text)
    if not ok then break end
  end
  local cok, cerr = f:close()
  if not ok or not cok then
    if not direct then os.remove(tmp) end
    return nil, tostring(werr or cerr)
  end
  if not direct then
    local rok, rerr = os.rename(tmp, path)
    if not rok then os.remove(tmp) return nil, tostring(rerr) end
  end
  return true
end

--- Why a report could not be written at `path` (its directory missing or
-- not writable), or nil: tried with the temporary file it is written to,
-- which is removed again.
function report.writable(path)
  local size, _, what = core.file_info(path)
  if not size and what ~= "missing" then return nil end -- (a device or a FIFO: written in place)
  local f, err = io.open(path .. ".tmp", "ab")
  if not f then return tostring(err) end
  local had = f:seek("end") > 0
  f:close()
  if not had then os.remove(path .. ".tmp") end
  return nil
end

--- Writes the report: one row per entry of `lines` (the manifest's line
-- numbers, in order), made by `row_of(line)`.  `key` is redacted.
-- @return true, or nil, message
function report.write(path, lines, row_of, key)
  local fmt = report.format_of(path)
  local i, n = 0, #lines
  return write_whole(path, coroutine.wrap(function()
    if fmt == "csv" then coroutine.yield(concat(report.COLUMNS, ",") .. "\n") end
    if fmt == "json" then coroutine.yield("[") end
    while i < n do
      i = i + 1
      local r = row_of(lines[i])
      if fmt == "csv" then
        local cells = {}
        for c, name in ipairs(report.COLUMNS) do cells[c] = csv_cell(r[name]) end
        coroutine.yield(errors.redact(concat(cells, ",") .. "\n", key))
      else
        local members = {} -- (in the columns' order, for people reading it)
        for c, name in ipairs(report.COLUMNS) do
          local v = r[name]
          if v == nil then v = kombo.null end
          members[c] = '"' .. name .. '":' .. assert(kombo.encode_json(v))
        end
        local text = errors.redact_json("{" .. concat(members, ",") .. "}", key)
        if fmt == "json" then coroutine.yield((i == 1 and "\n" or ",\n") .. text) else coroutine.yield(text .. "\n") end
      end
    end
    if fmt == "json" then coroutine.yield(n == 0 and "]\n" or "\n]\n") end
  end))
end

-- The working directory, once (for paths that must name the same files from elsewhere).
local cwd
local function working_dir()
  if not cwd then
    local p = io.popen("pwd")
    cwd = p and p:read("*l")
    if p then p:close() end
  end
  return cwd
end

-- A file path of a row as it must read in the failed-rows file: relative
-- paths are from the manifest's directory, so they are made absolute when
-- the file goes elsewhere.
local function relocated(p, rel)
  if type(p) ~= "string" or p == "" or p:sub(1, 1) == "/" or not rel then return p end
  return rel .. "/" .. p
end

--- Writes the rows of `reader` (the manifest opened again) whose line is
-- in `wanted`, in the manifest's own form.  `opts.dir` is the manifest's
-- directory, `opts.paths` the columns (`csv`) and JSON members (`json`,
-- manifest.scan_json's paths) that hold file paths.
-- @return true, or nil, message
function report.write_rows(path, reader, wanted, opts, key)
  local rel -- the manifest's directory as seen from the file's, when they differ
  if manifest.dirname(path) ~= opts.dir then
    if opts.dir:sub(1, 1) == "/" then rel = opts.dir
    elseif opts.dir == "." then rel = working_dir() or "."
    else rel = (working_dir() or ".") .. "/" .. opts.dir end
  end
  local path_columns, json_paths = {}, {}
  for _, c in ipairs(opts.paths.csv or {}) do path_columns[c] = true end
  for _, p in ipairs(opts.paths.json or {}) do json_paths[p] = true end
  local read_error
  local ok, err = write_whole(path, coroutine.wrap(function()
    if reader.format == "csv" then coroutine.yield(errors.redact(reader.header_raw:gsub("\r$", "") .. "\n", key)) end
    while true do
      local row, rerr = reader:next()
      if not row then read_error = rerr break end
      if wanted[row.line] then
        local text = row.raw:gsub("\r$", "")
        if reader.format == "csv" and not row.shape then
          local cells = {}
          for i, c in ipairs(row.cells) do
            cells[i] = csv_cell(path_columns[reader.names[i]] and relocated(c, rel) or c)
          end
          text = concat(cells, ",")
          coroutine.yield(errors.redact(text .. "\n", key))
        elseif reader.format == "jsonl" and not row.shape and rel then
          local _, spans = manifest.scan_json(text, json_paths)
          for s = #spans, 1, -1 do -- from the end: the earlier positions stay right
            local sp = spans[s]
            local was = cjson.decode(text:sub(sp.i, sp.j))
            local now = relocated(was, rel)
            if now ~= was then text = text:sub(1, sp.i - 1) .. cjson.encode(now) .. text:sub(sp.j + 1) end
          end
          coroutine.yield(errors.redact_json(text, key) .. "\n")
        else
          coroutine.yield((reader.format == "jsonl" and errors.redact_json or errors.redact)(text, key) .. "\n")
        end
      end
    end
  end))
  if ok and read_error then return nil, read_error end
  if not ok then return nil, err end
  return true
end

return report
