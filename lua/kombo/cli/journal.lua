--- The journal of kombo-attach and kombo apply: what happened to each row
-- on the wire, so that a rerun neither repeats a create that landed nor
-- skips one that did not.
--
-- Append-only text, one event a line, each line written and flushed at once
-- (a crash loses at most the line being written):
--
--     kombo-attach journal 2                           (kombo apply: "kombo apply journal 1")
--     sending <id> <line> <attempt> <time>             the request starts to go out
--     written <id> <line> <attempt> <time> <deadline>  before its last bytes are handed over
--     done <id> <line> <created id>                    Kombo answered with what it created
--     found <id> <line> <created id>                   settled: a listing proves it is there
--     existing <id> <line> <id or ->                   Kombo answered that it exists already
--                                                      (kombo apply: ATS.APPLICATION_ALREADY_EXISTS)
--     failed <id> <line> <kind> <outcome>              the request failed (outcome: may it have landed?)
--     torn                                             the line before was cut off by a crash: ignored
--
-- <id> is the row's identity (kombo-attach: the target and the document;
-- kombo apply: the integration, the job and the candidate's email; never
-- the manifest's path or the row's place in it); <line> is
-- for people; <time> is the wall clock (seconds, UTC); <deadline> is when the
-- attempt's own timeout ends, after which it can no longer be in flight.
-- The last event of an id wins, except that "written" is remembered until a
-- final event: a row that was written whole and has no answer is the one a
-- rerun must settle; a row that was only "sending" never went out whole and
-- is simply sent again.
--
-- Journals of format 1 (kombo-lua before 0.2: "started", keys from a hash of
-- the row as typed) are read: their rows are matched by the old keys of this
-- run's rows, and an event that matches no row refuses the run, rather than
-- silently uploading what it recorded as done.
local journal = {}

-- The two commands' journals: each its own first line, so that neither
-- command reads the other's (their identities mean different things).
-- Only kombo-attach had a format 1.
journal.ATTACH = { header = "kombo-attach journal 2", v1 = "kombo-attach journal 1", command = "kombo-attach" }
journal.APPLY = { header = "kombo apply journal 1", command = "kombo apply" }
journal.HEADER = journal.ATTACH.header

local EVENTS = {
  sending = "^sending (%S+) (%d+) (%d+) ([%d.]+)$",
  written = "^written (%S+) (%d+) (%d+) ([%d.]+) ([%d.]+)$",
  done = "^done (%S+) (%d+) (%S+)$",
  found = "^found (%S+) (%d+) (%S+)$",
  existing = "^existing (%S+) (%d+) (%S+)$",
  failed = "^failed (%S+) (%d+) (%S+) (%S+)$",
}
local EVENTS_V1 = {
  started = "^started (%S+) (%d+)$",
  done = "^done (%S+) (%d+) (%S+)$",
  found = "^found (%S+) (%d+)$",
  failed = "^failed (%S+) (%d+) (%S+) (%S+)$",
}

local function parse(l, events)
  local ev = l:match("^(%a+) ")
  local pat = ev and events[ev]
  if not pat then return nil end
  local id, line, a, b, c = l:match(pat)
  if not id then return nil end
  local e = { event = ev, id = id, line = tonumber(line) }
  if ev == "sending" then e.attempt, e.time = tonumber(a), tonumber(b)
  elseif ev == "written" then e.attempt, e.time, e.deadline = tonumber(a), tonumber(b), tonumber(c)
  elseif ev == "done" or ev == "existing" or (ev == "found" and a) then e.attachment = a ~= "-" and a or nil
  elseif ev == "failed" then e.kind, e.outcome = a, b end
  return e
end

-- The "written" records not yet disproven, as one: the earliest time (a
-- settle looks for evidence from then on) and the latest deadline (when
-- the last of those attempts can no longer be in flight).  A nil time (a
-- format 1 "started") stays nil: only the content can decide then.
local function merge(a, b)
  if not a then return b end
  if not b then return a end
  local t = (a.time and b.time) and math.min(a.time, b.time) or nil
  local d = (a.deadline or b.deadline) and math.max(a.deadline or 0, b.deadline or 0) or nil
  return { time = t, deadline = d }
end

-- The row's state after one more event: the last event wins, carrying the
-- attempts that went out whole and were never disproven.  Within one call
-- (one run's upload of the row), a retry ("sending" of attempt 2 or more)
-- or a failure that proves nothing landed (outcome not_sent or rejected)
-- disproves that call's last "written": the core sends again only then.  A
-- new call ("sending" of attempt 1: a later run, --resend-unknown) disproves
-- nothing of the earlier calls: their records stay until the row is done
-- or found.
local function fold(state, e)
  local prev = state[e.id]
  local older = prev and prev.older      -- earlier calls' records
  local current = prev and prev.current  -- this call's last "written"
  if e.event == "sending" then
    if e.attempt == 1 then older, current = merge(older, current), nil else current = nil end
  elseif e.event == "written" then
    current = e
  elseif e.event == "failed" and e.outcome ~= "unknown" then
    current = nil
  end
  e.older, e.current = older, current
  e.written = merge(older, current)
  state[e.id] = e
end

--- Reads a journal's text.  `kind` is journal.ATTACH (the default) or
-- journal.APPLY.
-- @return state `{ [id] = last event }`, info `{ format = 1|2, torn =, events = n, v1 = { [key] = event } }`;
-- or nil, message
function journal.parse(text, path, kind)
  kind = kind or journal.ATTACH
  local HEADER, HEADER_V1 = kind.header, kind.v1
  local info = { torn = false, events = 0, format = 2 }
  if text == "" then return {}, info end
  local lines = {}
  for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  if text:sub(-1) ~= "\n" then info.torn = true end -- the fragment after the last newline
  if #lines == 0 then
    if (HEADER .. "\n"):sub(1, #text) == text then return {}, info end -- killed while writing the header
    return nil, ("%s is not a %s journal"):format(path, kind.command)
  end
  local events = EVENTS
  if HEADER_V1 and lines[1] == HEADER_V1 then
    info.format, events, info.v1 = 1, EVENTS_V1, {}
  elseif lines[1] ~= HEADER then
    return nil, ("%s is not a %s journal (its first line is not %q)"):format(path, kind.command, HEADER)
  end
  local state = {}
  for i = 2, #lines do
    local l = lines[i]
    if l == HEADER and events == EVENTS_V1 then
      events = EVENTS -- a format 1 journal that a later run went on with
    elseif l ~= "torn" and lines[i + 1] ~= "torn" then
      local e = parse(l, events)
      if not e then return nil, ("%s: line %d is not a journal event: %q"):format(path, i, l:sub(1, 80)) end
      if events == EVENTS_V1 then info.v1[e.id] = e else fold(state, e) end
      info.events = info.events + 1
    end
  end
  return state, info
end

--- What a rerun does with a row, from its last event (nil: never seen).
-- @return "skip" (done, found or existing), "settle" (written whole, no
-- answer), or "send"
function journal.disposition(e)
  if not e then return "send" end
  if e.event == "done" or e.event == "found" or e.event == "existing" then return "skip" end
  if e.event == "failed" and e.outcome == "unknown" then
    -- Without a "written" record (format 1) it is settled all the same.
    return "settle"
  end
  if e.written then return "settle" end
  return "send" -- no attempt went out whole, or every one was disproven
end

local Journal = {}
Journal.__index = Journal

--- Opens a journal for appending.  `text` is what was read of it (nil
-- when it does not exist); `upgrade` is true for a format 1 journal, which
-- gets the format 2 header line before the new events; `kind` as for
-- journal.parse.  Never truncates.
-- @return the journal, or nil, message
function journal.open(path, text, upgrade, kind)
  local f, err = io.open(path, "ab")
  if not f then return nil, "cannot write the journal: " .. tostring(err) end
  local self = setmetatable({ f = f, path = path }, Journal)
  local head
  text = text or ""
  local full = (kind or journal.ATTACH).header .. "\n"
  if text == "" or (#text < #full and full:sub(1, #text) == text) then
    head = full:sub(#text + 1) -- a new journal, or one killed while its header was written
  elseif text:sub(-1) ~= "\n" then
    head = "\ntorn\n" .. (upgrade and full or "")
  elseif upgrade then
    head = full
  end
  if head then
    local ok, werr = self:write_raw(head)
    if not ok then f:close() return nil, werr end
  end
  return self
end

-- After a failed write nothing more is written: a line cut short by it
-- stays the last one, which the next run reads as torn (rather than a
-- broken line in the middle, which it would refuse).
function Journal:write_raw(s)
  if self.broken then return nil, self.broken end
  local ok, err = self.f:write(s)
  if ok then ok, err = self.f:flush() end
  if not ok then
    self.broken = "cannot write the journal " .. self.path .. ": " .. tostring(err)
    return nil, self.broken
  end
  return true
end

-- One event, written and flushed; a failing write raises (a row without its
-- record is what the journal prevents).
local function event(self, ...)
  local ok, err = self:write_raw(table.concat({ ... }, " ") .. "\n")
  if not ok then error(err, 0) end
end

local function word(s) -- ids and codes go in as one space-free word
  s = tostring(s or "-"):gsub("[%s%c]", "_")
  return s ~= "" and s or "-"
end

local function secs(t) return ("%.3f"):format(t) end

function Journal:sending(row, attempt, t) event(self, "sending", row.id, row.line, attempt, secs(t)) end
function Journal:written(row, attempt, t, deadline)
  event(self, "written", row.id, row.line, attempt, secs(t), secs(deadline))
end
function Journal:done(row, id) event(self, "done", row.id, row.line, word(id)) end
function Journal:found(row, id) event(self, "found", row.id, row.line, word(id)) end
function Journal:existing(row, id) event(self, "existing", row.id, row.line, word(id)) end
function Journal:failed(row, err) event(self, "failed", row.id, row.line, word(err.kind), word(err.outcome)) end

function Journal:close()
  if self.f then self.f:close() end
  self.f = nil
end

return journal
