-- The bytes on the wire, pinned: a few calls of each shape (an upload's
-- data, bytes and a streamed file; an application with three kinds of file;
-- a list's query; PUT, PATCH and DELETE bodies; a call's own headers) are
-- sent to badserver's "capture" mode, and each request, head and body as it
-- came, is compared with its golden copy in spec/support/wire/<case>.http.
-- Work on the cost of a call (issue 24) must leave these bytes alone: a
-- header's order, its case, a body's key order or a percent-encoding that
-- changes shows here, on either transport.
--
-- Two things vary by machine and are written as placeholders before the
-- comparison: the server's port in Host, and the runtime in User-Agent
-- (`kombo-lua/<version> (Lua 5.4; libcurl/7.88.1)` -> `kombo-lua/<version>
-- (<runtime>)`).  A body above 2 KiB is compared by length and SHA-256.
--
-- KOMBO_WIRE_UPDATE=1 writes the golden copies instead of comparing (then
-- read the diff before committing it: a change there is a change on the
-- wire for every user).
local sys = require "support.sys"
local luassert = require "luassert"
local core = require "kombo.core"
local kombo = require "kombo"

local M = {}

M.DIR = "spec/support/wire"
local SHOWN = 2048

-- The calls, in order.  `args` may name a file by `file_of` (a file the
-- spec writes: its name and content are part of the case); `opts` is the
-- call's own options (the third argument).
function M.cases(dir)
  local cv = dir .. "/Resume.pdf"
  local big = dir .. "/Portfolio.pdf" -- above the 64 KiB a body is read out whole below: streamed
  local files = {
    [cv] = "%PDF-1.4\n" .. ("line of a CV\n"):rep(30),
    [big] = "%PDF-1.7\n" .. ("page of a portfolio, " .. ("x"):rep(80) .. "\n"):rep(1000),
  }
  return files, {
    { name = "attach_data", method = "attach_to_candidate", args = { candidate_id = "cand 1/ä", body = {
      attachment = { name = "Résumé.pdf", content_type = "application/pdf", type = "CV",
                     data = kombo.base64("%PDF-1.4 a small CV") } } } },
    { name = "attach_bytes", method = "attach_to_candidate", args = { candidate_id = "cand-2", body = {
      attachment = { name = "cover letter.txt", type = "COVER_LETTER", bytes = "Dear team,\n\0\1\2\255" } } } },
    { name = "attach_file_streamed", method = "attach_to_candidate", args = { candidate_id = "cand-3", body = {
      attachment = { file = big, type = "OTHER" } } } },
    { name = "create_application", method = "create_application", args = { job_id = "job 7", body = {
      candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com",
                    phone_number = "+44 20 7946 0000" },
      attachments = {
        { file = cv, type = "CV" },
        { bytes = "Dear team,\n", name = "cover.txt", type = "COVER_LETTER" },
        { data = kombo.base64("notes"), name = "notes.txt", content_type = "text/plain", type = "OTHER" },
      },
    } } },
    { name = "get_jobs", method = "get_jobs", args = { name_contains = "x y&z", ids = { "a", "b" },
      include_deleted = false, page_size = 50, updated_after = "2024-01-01T00:00:00Z", cursor = "c/1+2" } },
    { name = "put_stage", method = "move_application_to_stage",
      args = { application_id = "app 1", body = { stage_id = "s1" } } },
    { name = "patch_interview", method = "update_interview", args = { application_id = "a1", body = {
      interview_id = "i1", title = "Round 2 – «final»", start_time = "2025-01-02T10:00:00Z",
      end_time = "2025-01-02T11:00:00Z", interviewer_user_ids = { "u1", "u2" }, organizer_user_id = "u1",
      location = { type = "VIRTUAL" } } } },
    { name = "delete_tag", method = "remove_candidate_tag",
      args = { candidate_id = "c1", body = { tag = { name = "Top \"10\"" } } } },
    { name = "own_headers", method = "get_candidates", args = { page_size = 2 },
      -- (one header: a call's own headers go in the order of their table,
      -- which is the hash order of its keys)
      opts = { headers = { ["X-Request-Source"] = "nightly sync" } } },
  }
end

-- A captured request as compared: placeholders for the port and the runtime,
-- a long body as its length and digest.
function M.normalise(raw)
  local head, body = raw:match("^(.-\r\n\r\n)(.*)$")
  assert(head, "a captured request without the blank line after its head")
  head = head:gsub("\r\n[Hh]ost: 127%.0%.0%.1:%d+\r\n", "\r\nHost: 127.0.0.1:<port>\r\n")
  head = head:gsub("(\r\n[Uu]ser%-[Aa]gent: kombo%-lua/[^ \r]+) %([^)\r]*%)", "%1 (<runtime>)")
  if #body > SHOWN then body = ("<%d bytes, sha256 %s>"):format(#body, core.sha256(body)) end
  return head .. body
end

function M.golden_path(name) return ("%s/%s.http"):format(M.DIR, name) end

-- Compares (or, with KOMBO_WIRE_UPDATE=1, writes) one case's request.
function M.check(name, raw)
  local got, path = M.normalise(raw), M.golden_path(name)
  if os.getenv("KOMBO_WIRE_UPDATE") == "1" then
    local f = assert(io.open(path, "wb"))
    f:write(got)
    f:close()
    return
  end
  local want = sys.read_file(path)
  assert(want, "no golden copy " .. path .. " (KOMBO_WIRE_UPDATE=1 writes it)")
  luassert.equals(want, got, "the request of " .. name .. " (" .. path .. ")")
end

return M
