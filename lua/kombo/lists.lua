--- Lists, page by page: @{Client:pages} and @{Client:each} follow a list's
-- `data.next` (its cursor) from page to page, sending the caller's filters
-- again with every page, as Kombo requires.  The lists are the operations
-- the C core's table marks `list` (generated from Kombo's description: an
-- answer whose `data` has `results` and `next`).  A page is an ordinary
-- call of the operation (lua/kombo/call.lua): validated, retried like any
-- read, over libcurl or cosockets alike; nothing is kept open between
-- pages, so a loop left early leaves nothing behind.  `self` is a client:
-- lua/kombo/init.lua puts these on kombo.client's `Client` and makes the
-- module functions.  Their LDoc blocks are on the `kombo` module's page.
-- @module kombo
local core = require "kombo.core"
local cjson = require "cjson.safe"
local errors = require "kombo.errors"
local client = require "kombo.client"
local bulk = require "kombo.bulk" -- did_you_mean
local one_call = require "kombo.call"

local state, call_operation, OPERATIONS = client.state, one_call.call_operation, one_call.OPERATIONS
local null = cjson.null

local M = {}

-- The lists by name, and their names in order (for a misuse message).
local LISTS, LIST_NAMES = {}, {}
for _, op in ipairs(core.operations) do
  if op.list then
    LISTS[op.name] = op
    LIST_NAMES[#LIST_NAMES + 1] = op.name
  end
end
table.sort(LIST_NAMES)

-- The list `name` names, and `args` (nil: none).  A misuse raises at the
-- caller of the method: level 4 is this function, pages or each, the
-- method's wrapper in init.lua, its caller.
local function checked(name, args, fname)
  if type(name) ~= "string" then
    error(("bad argument #1 to '%s' (the name of a list expected, got %s)"):format(fname, type(name)), 4)
  end
  local op = LISTS[name]
  if not op and OPERATIONS[name] then
    error(("bad argument #1 to '%s' ('%s' is not a list: its answer has no data.next to follow; the lists are %s)")
      :format(fname, name, table.concat(LIST_NAMES, ", ")), 4)
  elseif not op then
    error(("bad argument #1 to '%s' (unknown operation '%s'%s)"):format(fname, name, bulk.did_you_mean(name, LISTS)),
      4)
  end
  if args == nil then return op, {} end
  if type(args) ~= "table" then
    error(("bad argument #2 to '%s' (table expected, got %s)"):format(fname, type(args)), 4)
  end
  return op, args
end

-- Where a list's iteration stands: the cursor of the page to ask for (the
-- caller's `args.cursor` to resume, then each page's data.next), the
-- cursors already sent, and whether it has ended.  Both iterators call the
-- operation themselves (not through each other), so that a misuse raised
-- inside the call points at the loop's line (call.lua's fixed levels).
local Pager = {}
Pager.__index = Pager

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The caller's arguments are copied once: every page repeats them as they
-- were when the iteration began, whatever becomes of the caller's table.
local function pager(op, args)
  return setmetatable({ op = op, args = copy(args), cursor = args.cursor, followed = {}, done = false }, Pager)
end

-- The arguments of the next page, or nil when the list has ended: the
-- caller's (their table never changed), the cursor, and the largest
-- page_size unless the caller chose one.
function Pager:next_args()
  if self.done then return nil end
  local t = copy(self.args)
  t.cursor = self.cursor
  if t.page_size == nil then t.page_size = self.op.page_size_max end
  if self.cursor ~= nil then self.followed[self.cursor] = true end
  return t
end

-- The answer to that page: the page, or false and the error (with the
-- cursor of the failed page), after which the list has ended.
function Pager:took(res, err)
  if res then
    local nxt = res.data.next -- a string or null: the core checked the page's shape
    if nxt == null then
      self.done = true
      return res
    elseif not self.followed[nxt] then
      self.cursor = nxt
      return res
    end
    -- The server would serve the same pages round and round.
    err = errors.broken_answer(res, "data.next is a cursor this list has already followed "
      .. "(the list would never end)")
  end
  self.done = true
  err.cursor = self.cursor
  return false, err
end

--- Iterates over the pages of a list: each is the answer to one call of
-- the list's operation (`res`, with `res.data.results` and `res.data.next`),
-- made only when the loop asks for it.  Every page repeats `args` (the
-- filters; the table is not changed) with the cursor of the page before, as
-- Kombo requires; `page_size` is the largest the description allows
-- (250) unless `args` gives one.  A page is retried like any read.
--
-- A failure ends the iteration with `false, err`: `false`, not `nil`, so
-- that the loop's body sees it (`nil` would end a `for` loop silently, a
-- short list without a word).  `err.cursor` is the cursor of the page that
-- failed (`nil` for the first page): `args` with `cursor = err.cursor`
-- resumes there.  A validation error comes as the first iteration's
-- `false, err`, nothing sent.  A page whose `data.next` repeats a cursor
-- already followed ends it with a `decode` error.
--
-- Lists come from Kombo's synced copy of the ATS: a record written through
-- the API shows up in them after Kombo's next sync, not at once.
-- @function Client:pages
-- @within Lists
-- @tparam string name a list: `"get_jobs"`, `"get_candidates"`, `"get_applications"`, ...
-- (an operation marked `list` in `lua/kombo/gen/operations.lua`)
-- @tparam[opt] table args the operation's arguments, as for the method: filters, `integration_id`,
-- `page_size`, and `cursor` to resume from
-- @treturn func an iterator for a generic `for`, giving `page` (a @{Result}) or `false, err` (an @{Error}
-- with `err.cursor`), once, at the end
-- @raise `name` not a list (or not an operation), `args` not a table, a closed client
-- @usage
-- for page, err in client:pages("get_jobs", { updated_after = "2026-01-01T00:00:00Z" }) do
--   if not page then
--     print("stopped at cursor " .. tostring(err.cursor) .. ": " .. tostring(err))
--     break
--   end
--   for _, job in ipairs(page.data.results) do print(job.id, job.name) end
-- end
function M.pages(self, name, args, fname)
  local op
  op, args = checked(name, args, fname)
  state(self, fname) -- raises at level 4 too: a closed client
  local at = pager(op, args)
  return function()
    local page_args = at:next_args()
    if not page_args then return nil end
    local res, err = call_operation(self, op, page_args, fname)
    return at:took(res, err)
  end
end

--- Iterates over the records of a list, across its pages: @{Client:pages}
-- one record at a time (each an element of a page's `data.results`), the
-- next page fetched when the records of one run out.  Ends as `pages` does:
-- a failure gives `false, err` once, `err.cursor` the cursor of the page
-- that failed (resuming from it gives that page's records again, not those
-- already given).
-- @function Client:each
-- @within Lists
-- @tparam string name a list, as for @{Client:pages}
-- @tparam[opt] table args the operation's arguments, as for @{Client:pages}
-- @treturn func an iterator for a generic `for`, giving each record (a table), or `false, err` at the end
-- @raise as @{Client:pages}
-- @usage
-- for candidate, err in client:each("get_candidates", { email = "ada@example.com" }) do
--   if not candidate then error(err) end
--   print(candidate.id, candidate.first_name)
-- end
function M.each(self, name, args, fname)
  local op
  op, args = checked(name, args, fname)
  state(self, fname)
  local at = pager(op, args)
  local results, i = nil, 0
  return function()
    -- One turn per page: an empty page asks for the next, until data.next
    -- is null or repeats a cursor (then the pager has ended).
    while true do
      if results then
        i = i + 1
        local item = results[i]
        if item ~= nil then return item end
      end
      local page_args = at:next_args()
      if not page_args then return nil end
      local res, err = call_operation(self, op, page_args, fname)
      local page
      page, err = at:took(res, err)
      if not page then return false, err end
      results, i = page.data.results, 0
    end
  end
end

return M
