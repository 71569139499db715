-- Lists, page by page (lua/kombo/lists.lua), libcurl transport, against the
-- stand-in's stored jobs, candidates and applications (spec/standin/README.md
-- "Lists": a seed of 7 jobs, 5 candidates, 9 applications, one of each
-- deleted; an opaque cursor that must be percent-encoded; a page whose
-- filters differ from the first page's refused; /_lists to fail page N) and
-- the bad server's broken pages.  The recorded requests show what each page
-- sent.  spec/nginx/lists_spec.lua runs the same inside nginx (cosockets).
local servers = require "support.servers"
local badserver = require "support.badserver"
local kombo = require "kombo"

local ALL_JOBS = { "job-1", "job-2", "job-3", "job-4", "job-5", "job-6", "job-7" }

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function urldecode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The cursor a recorded request sent (nil: none), and its target without it.
local function cursor_of(rec)
  local raw = rec.uri:match("[?&]cursor=([^&]*)")
  return raw and urldecode(raw), (rec.uri:gsub("cursor=[^&]*&?", ""):gsub("[?&]$", ""))
end

-- POST /_lists: page `page` of the integration's lists answers with `scenario`.
local function fail_page(integ, page, scenario, times)
  local status, _, body = servers.http("POST", ("%s/_lists?integration=%s&page=%d&scenario=%s&times=%d")
    :format(servers.standin_url(), urlencode(integ), page, scenario, times or 1), nil, "")
  assert(status == 200, "POST /_lists: " .. tostring(status) .. " " .. tostring(body))
end

local function ids(records)
  local out = {}
  for i, r in ipairs(records) do out[i] = r.id end
  return out
end

-- Every value the iterator gives, as { first, second } pairs, bounded.
local function drain(iterator, max)
  local got = {}
  for a, b in iterator do
    got[#got + 1] = { a, b }
    assert(#got <= (max or 20), "the iteration did not end")
  end
  return got
end

describe("lists, page by page, curl transport #integration #lists", function()
  local srv

  setup(function() srv = badserver.start(servers.UNDER_VALGRIND and 600 or 60) end)
  teardown(function() badserver.stop(srv) end)

  it("pages: follows data.next until null, each page one request, every record once and in order", function()
    local client, integ = servers.client()
    local pages, seen = {}, {}
    for page, err in client:pages("get_jobs", { page_size = 2, include_deleted = true }) do
      assert.is_truthy(page, tostring(err))
      pages[#pages + 1] = page
      for _, job in ipairs(page.data.results) do seen[#seen + 1] = job end
    end
    assert.equals(4, #pages)
    assert.same(ALL_JOBS, ids(seen))
    assert.equals(kombo.null, pages[4].data.next)
    local recs = servers.requests(integ)
    assert.equals(4, #recs)
    assert.is_nil((cursor_of(recs[1])))
    for i = 2, 4 do
      -- the cursor the page before gave, percent-encoded ("+++/..." would be read as spaces)
      assert.equals(pages[i - 1].data.next, (cursor_of(recs[i])))
      assert.truthy(recs[i].uri:find("cursor=%2B%2B%2B%2F", 1, true), recs[i].uri)
    end
  end)

  it("pages: every page repeats the caller's filters, and the caller's table is left as it was", function()
    local client, integ = servers.client()
    local args = { updated_after = "2025-02-15T00:00:00Z", statuses = { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" },
                   include_deleted = false, page_size = 2 }
    local got = {}
    for page, err in client:pages("get_jobs", args) do
      assert.is_truthy(page, tostring(err))
      for _, job in ipairs(page.data.results) do got[#got + 1] = job.id end
      args.include_deleted = nil -- the caller's table, changed mid-way: the pages go on with the original
    end
    args.include_deleted = false
    assert.same({ "job-3", "job-4", "job-5", "job-6" }, got) -- after 15 Feb, job-7 deleted
    local recs = servers.requests(integ)
    assert.equals(2, #recs)
    local first = "/ats/jobs?page_size=2&updated_after=2025-02-15T00%3A00%3A00Z&include_deleted=false"
      .. "&statuses=OPEN%2CCLOSED%2CDRAFT%2CARCHIVED"
    assert.equals(first, recs[1].uri)
    local cursor, rest = cursor_of(recs[2])
    assert.is_string(cursor)
    assert.equals(first, rest)
    assert.same({ updated_after = "2025-02-15T00:00:00Z", statuses = { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" },
                  include_deleted = false, page_size = 2 }, args)
  end)

  it("pages: page_size defaults to the description's maximum (250); ids and remote_ids filter", function()
    local client, integ = servers.client()
    local n = 0
    for page, err in client:pages("get_jobs", { ids = { "job-2", "job-5", "job-7" } }) do
      assert.is_truthy(page, tostring(err))
      assert.same({ "job-2", "job-5" }, ids(page.data.results)) -- job-7 is deleted
      n = n + 1
    end
    assert.equals(1, n)
    for job, err in client:each("get_jobs", { remote_ids = { "1003" } }) do
      assert.is_truthy(job, tostring(err))
      assert.equals("job-3", job.id)
    end
    local recs = servers.requests(integ)
    assert.equals("/ats/jobs?page_size=250&ids=job-2%2Cjob-5%2Cjob-7", recs[1].uri)
    assert.equals("/ats/jobs?page_size=250&remote_ids=1003", recs[2].uri)
  end)

  it("a failing page: false, err once, err.cursor that page's; resuming from it gives the rest", function()
    local client, integ = servers.client()
    fail_page(integ, 2, "error-404")
    local got = drain(client:pages("get_jobs", { page_size = 2, include_deleted = true }))
    assert.equals(2, #got)
    local page1, failed = got[1][1], got[2]
    assert.same({ "job-1", "job-2" }, ids(page1.data.results))
    assert.is_false(failed[1])
    local err = failed[2]
    assert.is_true(kombo.is_error(err))
    assert.equals("api", err.kind)
    assert.equals(404, err.status)
    assert.equals("PLATFORM.INTEGRATION_NOT_FOUND", err.code)
    assert.equals(page1.data.next, err.cursor)
    -- resume: the same arguments with cursor = err.cursor
    local rest = {}
    for job, e in client:each("get_jobs", { page_size = 2, include_deleted = true, cursor = err.cursor }) do
      assert.is_truthy(job, tostring(e))
      rest[#rest + 1] = job.id
    end
    assert.same({ "job-3", "job-4", "job-5", "job-6", "job-7" }, rest)
    local recs = servers.requests(integ)
    assert.equals(2 + 3, #recs)
    assert.equals(err.cursor, (cursor_of(recs[3]))) -- the resumed run starts at the failed page
  end)

  it("a failing first page: false, err with no cursor; the iterator then gives nothing more", function()
    local client, integ = servers.client()
    fail_page(integ, 1, "error-400")
    local it = client:pages("get_candidates")
    local page, err = it()
    assert.is_false(page)
    assert.equals("api", err.kind)
    assert.is_nil(err.cursor)
    assert.is_nil(it())
    assert.is_nil(it())
    assert.equals(1, #servers.requests(integ))
  end)

  it("a page is retried like any read: 503 once on page 2, the list comes whole", function()
    local client, integ = servers.client()
    fail_page(integ, 2, "503-once")
    local got, attempts = {}, {}
    for page, err in client:pages("get_jobs", { page_size = 3 }) do
      assert.is_truthy(page, tostring(err))
      attempts[#attempts + 1] = page.http.attempts
      for _, job in ipairs(page.data.results) do got[#got + 1] = job.id end
    end
    assert.same({ "job-1", "job-2", "job-3", "job-4", "job-5", "job-6" }, got)
    assert.same({ 1, 2 }, attempts)
    local recs = servers.requests(integ)
    assert.equals(3, #recs)
    assert.equals(recs[2].uri, recs[3].uri) -- the retry asked for the same page
  end)

  it("leaving early sends nothing more and leaves the connection ready for the next call", function()
    local client, integ = servers.client()
    for page in client:pages("get_applications", { page_size = 2 }) do -- luacheck: ignore 512 (left early)
      assert.equals(2, #page.data.results)
      break
    end
    for application in client:each("get_applications", { page_size = 2 }) do -- luacheck: ignore 512
      assert.equals("app-1", application.id)
      break
    end
    collectgarbage()
    collectgarbage()
    local recs = servers.requests(integ)
    assert.equals(2, #recs) -- one page each, no page fetched ahead
    assert(client:check_api_key())
    local after = servers.requests(function(r) return r.seq > recs[2].seq and r.route == "check-api-key" end)
    -- the same kept-alive connection, next request on it: the page was read to its end
    assert.equals(recs[2].connection, after[#after].connection)
    assert.equals(recs[2].connection_requests + 1, after[#after].connection_requests)
  end)

  it("each: every record across pages, in order, then nil", function()
    local client = servers.client()
    local got = {}
    for application, err in client:each("get_applications", { page_size = 4, include_deleted = true }) do
      assert.is_truthy(application, tostring(err))
      got[#got + 1] = application.id
      assert.is_table(application.candidate)
    end
    assert.same({ "app-1", "app-2", "app-3", "app-4", "app-5", "app-6", "app-7", "app-8", "app-9" }, got)
  end)

  it("each: a failing page gives false, err once; resuming gives that page's records, not earlier ones", function()
    local client, integ = servers.client()
    fail_page(integ, 3, "error-422")
    local got = drain(client:each("get_applications", { page_size = 3 }))
    assert.equals(7, #got)
    for i = 1, 6 do assert.equals("app-" .. i, got[i][1].id) end
    assert.is_false(got[7][1])
    assert.equals("api", got[7][2].kind)
    local rest = {}
    for application in client:each("get_applications", { page_size = 3, cursor = got[7][2].cursor }) do
      rest[#rest + 1] = application.id
    end
    assert.same({ "app-7", "app-8" }, rest) -- app-9 is deleted
  end)

  it("each: what create_candidate and create_application wrote, found by email and by job", function()
    local client, integ = servers.client()
    local email = "lists-" .. integ:gsub("[^%w]", "") .. "@example.com"
    assert(client:create_candidate { body = {
      candidate = { first_name = "Ada", last_name = "Lovelace", email_address = email },
      application = { job_id = "job-4" } } })
    assert(client:create_application { job_id = "job-4", body = {
      candidate = { first_name = "Grace", last_name = "Hopper", email_address = "grace@example.com" } } })
    local found = {}
    for candidate, err in client:each("get_candidates", { email = email:upper() }) do
      assert.is_truthy(candidate, tostring(err))
      found[#found + 1] = candidate
    end
    assert.equals(1, #found)
    assert.equals("Ada", found[1].first_name)
    assert.equals(email, found[1].email_addresses[1].email_address)
    local at_job = {}
    for application in client:each("get_applications", { job_ids = { "job-4" }, updated_after = "2026-01-01" }) do
      at_job[#at_job + 1] = application.candidate.first_name
    end
    assert.same({ "Ada", "Grace" }, at_job)
    -- another integration's list does not show them
    local other = servers.client()
    for candidate in other:each("get_candidates", { email = email }) do error("found " .. candidate.id) end
    assert.truthy(#servers.requests(integ) >= 4)
  end)

  it("kombo.pages and kombo.each use the default client", function()
    local integ = servers.unique("it-default")
    servers.with_env({}, function()
      kombo.configure { api_key = servers.API_KEY, server_url = servers.standin_url(), integration_id = integ,
                        retries = false }
    end)
    local n = 0
    for page, err in kombo.pages("get_candidates", { page_size = 3 }) do
      assert.is_truthy(page, tostring(err))
      n = n + #page.data.results
    end
    assert.equals(4, n) -- cand-5 is deleted
    local emails = {}
    for candidate in kombo.each("get_candidates", { include_deleted = true }) do
      emails[#emails + 1] = candidate.email_addresses[1].email_address
    end
    assert.equals("cand5@standin.example", emails[5])
    assert.equals(3, #servers.requests(integ))
  end)

  it("a bad filter: false, err (validation) at the first step, nothing sent", function()
    local client, integ = servers.client()
    local got = drain(client:pages("get_jobs", { updated_after = "last week", page_size = 0, statuss = "OPEN" }))
    assert.equals(1, #got)
    assert.is_false(got[1][1])
    local err = got[1][2]
    assert.equals("validation", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.is_nil(err.cursor)
    local paths = {}
    for _, p in ipairs(err.problems) do paths[#paths + 1] = p.path end
    table.sort(paths)
    assert.same({ "page_size", "statuss", "updated_after" }, paths)
    got = drain(client:each("get_candidates", { email = "" , job_ids = {} }))
    assert.equals(1, #got)
    assert.equals("validation", got[1][2].kind)
    assert.equals(0, #servers.requests(integ))
  end)

  it("misuse raises at the caller's line: not a list, an unknown name, args not a table", function()
    local client = servers.client()
    local line = debug.getinfo(1, "l").currentline
    local ok, msg = pcall(function() local it = client:pages("check_api_key"); return it end) -- line + 1
    assert.is_false(ok)
    assert.matches("lists_spec.lua:" .. (line + 1) .. ":", msg, 1, true)
    assert.matches("bad argument #1 to 'pages' ('check_api_key' is not a list", msg, 1, true)
    assert.matches("get_applications, get_candidates", msg, 1, true)
    ok, msg = pcall(function() return client:each("get_job") end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'each' (unknown operation 'get_job' (did you mean 'get_jobs'?))", msg, 1, true)
    ok, msg = pcall(function() return kombo.pages("attach_to_candidate") end)
    assert.is_false(ok)
    assert.matches("is not a list", msg, 1, true)
    ok, msg = pcall(function() return client:pages("get_jobs", "OPEN") end)
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'pages' (table expected, got string)", msg, 1, true)
    ok, msg = pcall(function() return client.each(nil, "get_jobs") end)
    assert.is_false(ok)
    assert.matches("kombo client expected", msg, 1, true)
    local closed = servers.client()
    local it = closed:pages("get_jobs")
    closed:close()
    line = debug.getinfo(1, "l").currentline
    ok, msg = pcall(function() for _ in it do end end) -- line + 1
    assert.is_false(ok)
    assert.matches("lists_spec.lua:" .. (line + 1) .. ":", msg, 1, true)
    assert.matches("'pages' on a closed kombo client", msg, 1, true)
  end)

  it("a page may be larger than 1 MiB (a list's cap is 16 MiB); an explicit max_response_bytes caps it", function()
    local client, integ = servers.client()
    fail_page(integ, 1, "huge", 2) -- a 3 MiB page, twice
    local page, err = client:pages("get_jobs")()
    assert.is_truthy(page, tostring(err))
    assert.equals(7 - 1, #page.data.results)
    local small = servers.client { integration_id = integ, max_response_bytes = 1024 * 1024, retries = false }
    page, err = small:pages("get_jobs")()
    assert.is_false(page)
    assert.equals("http", err.kind)
    assert.matches("larger than 1048576 bytes (max_response_bytes)", err.message, 1, true)
    -- any other answer keeps the 1 MiB default
    local _, other = client:get_candidate_attachments { candidate_id = "scenario-huge" }
    assert.equals("http", other.kind)
    assert.matches("larger than 1048576 bytes", other.message, 1, true)
  end)

  describe("pages the core or the iterator refuses (the bad server)", function()
    local function first_two(case)
      local client = servers.client { server_url = badserver.url(srv, "raw-" .. case), retries = false }
      return drain(client:pages("get_jobs", { page_size = 1 }))
    end

    it("data.next repeating a cursor already followed: false, err (decode) on that page, nothing more", function()
      local before = #badserver.requests(srv, "raw-page-cycle")
      local got = first_two("page-cycle")
      assert.equals(2, #got) -- page 1 (next c1), then page 2 (cursor c1, next c1 again): the error
      assert.equals("r1", got[1][1].data.results[1].id)
      assert.equals("c1", got[1][1].data.next)
      assert.is_false(got[2][1])
      local err = got[2][2]
      assert.equals("decode", err.kind)
      assert.equals("c1", err.cursor)
      assert.equals(200, err.status)
      assert.matches("already followed", err.message, 1, true)
      assert.equals(before + 2, #badserver.requests(srv, "raw-page-cycle"))
    end)

    for case, why in pairs { ["page-no-next"] = '"data.next" is neither a string nor null',
                             ["page-next-number"] = '"data.next" is neither a string nor null',
                             ["page-results-object"] = '"data.results" is not an array' } do
      it(case .. ": a decode error, never taken for the last page", function()
        local got = first_two(case)
        assert.equals(1, #got)
        assert.is_false(got[1][1])
        assert.equals("decode", got[1][2].kind)
        assert.matches(why, got[1][2].message, 1, true)
        local client = servers.client { server_url = badserver.url(srv, "raw-" .. case), retries = false }
        local res, err = client:get_jobs {} -- the same check for a plain call of a list
        assert.is_nil(res)
        assert.equals("decode", err.kind)
      end)
    end
  end)
end)
