--- kombo-attach's journal: what happened to each row, so that a rerun
-- neither repeats an upload that landed nor skips one that did not.
--
-- Append-only text, one event a line, each line written and flushed at once:
--
--     kombo-attach journal 1
--     started <key> <line>                  handed to attach_many (before it is sent)
--     done <key> <line> <attachment id>     Kombo answered with the attachment
--     found <key> <line>                    settled: attachment_exists found it
--     failed <key> <line> <kind> <outcome>  the upload failed (outcome: may it have landed?)
--     torn                                  the line before was cut off by a crash: ignored
--
-- <key> is the row's content hash and occurrence (manifest.assign_keys);
-- <line> is for people.  The last event of a key wins.  A last line without
-- its newline (the process was killed while writing it) is ignored, and the
-- next run appends "\ntorn\n" so that the fragment stays ignored.
local journal = {}

local HEADER = "kombo-attach journal 1"
journal.HEADER = HEADER

local EVENTS = {
  started = "^started (%S+) (%d+)$",
  done = "^done (%S+) (%d+) (%S+)$",
  found = "^found (%S+) (%d+)$",
  failed = "^failed (%S+) (%d+) (%S+) (%S+)$",
}

local function parse(l)
  local ev = l:match("^(%a+) ")
  local pat = ev and EVENTS[ev]
  if not pat then return nil end
  local key, line, a, b = l:match(pat)
  if not key then return nil end
  return { event = ev, key = key, line = tonumber(line), id = ev == "done" and a or nil,
           kind = ev == "failed" and a or nil, outcome = ev == "failed" and b or nil }
end

--- Reads a journal.  A missing file is an empty journal.
-- @return state `{ [key] = last event }`, info `{ exists =, torn =, events = n }`; or nil, message
function journal.load(path)
  local f = io.open(path, "rb")
  if not f then return {}, { exists = false, torn = false, events = 0 } end
  local text = f:read("*a") or ""
  f:close()
  local info = { exists = true, torn = false, events = 0 }
  if text == "" then return {}, info end
  local lines = {}
  for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  if text:sub(-1) ~= "\n" then info.torn = true end -- the fragment after the last newline
  if #lines == 0 or lines[1] ~= HEADER then
    if #lines == 0 and (HEADER .. "\n"):sub(1, #text) == text then -- killed while writing the header
      info.exists = false
      return {}, info
    end
    return nil, ("%s is not a kombo-attach journal (its first line is not %q)"):format(path, HEADER)
  end
  local state = {}
  for i = 2, #lines do
    local l = lines[i]
    if l ~= "torn" and lines[i + 1] ~= "torn" then
      local e = parse(l)
      if not e then return nil, ("%s: line %d is not a journal event: %q"):format(path, i, l:sub(1, 80)) end
      state[e.key] = e
      info.events = info.events + 1
    end
  end
  return state, info
end

local Journal = {}
Journal.__index = Journal

--- Opens a journal for appending (creating it with its header), after a
-- load that said whether it exists and ends in a torn line.
-- @return the journal, or nil, message
function journal.open(path, info)
  -- Only a journal holding nothing but part of its header is started afresh.
  local f, err = io.open(path, (info and not info.exists) and "wb" or "ab")
  if not f then return nil, "cannot write the journal: " .. tostring(err) end
  local self = setmetatable({ f = f, path = path }, Journal)
  local head
  if not info or not info.exists or f:seek("end") == 0 then
    head = HEADER .. "\n"
  elseif info.torn then
    head = "\ntorn\n"
  end
  if head then
    local ok, werr = self:write_raw(head)
    if not ok then return nil, werr end
  end
  return self
end

function Journal:write_raw(s)
  local ok, err = self.f:write(s)
  if ok then ok, err = self.f:flush() end
  if not ok then return nil, "cannot write the journal " .. self.path .. ": " .. tostring(err) end
  return true
end

-- One event, written and flushed; a failing write raises (in on_result it
-- aborts the run: uploads without a record are what the journal prevents).
local function event(self, ...)
  local ok, err = self:write_raw(table.concat({ ... }, " ") .. "\n")
  if not ok then error(err, 0) end
end

local function word(s) -- ids and codes go in as one space-free word
  s = tostring(s or "-"):gsub("[%s%c]", "_")
  return s ~= "" and s or "-"
end

function Journal:started(row) event(self, "started", row.key, row.line) end
function Journal:done(row, id) event(self, "done", row.key, row.line, word(id)) end
function Journal:found(row) event(self, "found", row.key, row.line) end
function Journal:failed(row, err) event(self, "failed", row.key, row.line, word(err.kind), word(err.outcome)) end

function Journal:close()
  if self.f then self.f:close() end
  self.f = nil
end

return journal
