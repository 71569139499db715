-- Lists, page by page, inside nginx (the test app's /lists runs
-- client:pages / client:each over cosockets against the stand-in's stored
-- jobs, candidates and applications; spec/standin/README.md "Lists"): the
-- pages followed, the filters and the default page_size on every page (the
-- stand-in's records), a failing page and the resume from err.cursor, a
-- page retried, leaving early, records across pages, kombo.pages/each,
-- misuse, a bad filter, a page over 1 MiB.  spec/integration/lists_spec.lua
-- runs the same over libcurl.
local S = require "nginx.support"
local cjson = require "cjson"

local STANDIN, APP
local integration = S.integration_ids("ngx-lists")

local function urldecode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function records(integ) return S.requests_of(STANDIN, integ) end

-- The cursor a recorded request sent (nil: none), and its target without it.
local function cursor_of(rec)
  local raw = rec.uri:match("[?&]cursor=([^&]*)")
  return raw and urldecode(raw), (rec.uri:gsub("cursor=[^&]*&?", ""):gsub("[?&]$", ""))
end

local function fail_page(integ, page, scenario, times)
  S.json("POST", ("%s/_lists?integration=%s&page=%d&scenario=%s&times=%d")
    :format(STANDIN, S.urlencode(integ), page, scenario, times or 1))
end

-- /lists in the app: q.how, q.name, q.args, q.opts (integration_id given).
local function lists(q)
  q.opts = q.opts or {}
  q.opts.retries = q.opts.retries or { max_attempts = 3, initial_interval = 0.01, max_interval = 0.05 }
  return S.json("POST", APP.url .. "/lists", q, 60)
end

describe("lists, page by page, inside nginx (cosockets) #lists", function()
  setup(function()
    -- kombo.core for the app's LuaJIT, built from this tree (the C table's list fields)
    assert(S.sh(("make -s -C '%s' lib LUA_VERSION=5.1 >/dev/null"):format(S.ROOT)), "make lib LUA_VERSION=5.1")
    STANDIN, APP = S.standin_and_app()
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
  end)

  it("pages: follows data.next to null, repeating the filters on every page", function()
    local integ = integration("pages")
    local r = lists { how = "pages", name = "get_jobs", opts = { integration_id = integ },
                      args = { page_size = 2, include_deleted = true, updated_after = "2025-01-15T00:00:00Z" } }
    assert.is_nil(r.raised)
    assert.same({ { "job-2", "job-3" }, { "job-4", "job-5" }, { "job-6", "job-7" } },
      { r.steps[1].ids, r.steps[2].ids, r.steps[3].ids })
    assert.equals(3, #r.steps)
    assert.equals(cjson.null, r.steps[3].next)
    local recs = records(integ)
    assert.equals(3, #recs)
    local first = "/ats/jobs?page_size=2&updated_after=2025-01-15T00%3A00%3A00Z&include_deleted=true"
    assert.equals(first, recs[1].uri)
    for i = 2, 3 do
      local cursor, rest = cursor_of(recs[i])
      assert.equals(r.steps[i - 1].next, cursor)
      assert.equals(first, rest)
    end
  end)

  it("pages: page_size defaults to 250; each: every record across pages", function()
    local integ = integration("each")
    local r = lists { how = "pages", name = "get_candidates", opts = { integration_id = integ } }
    assert.same({ "cand-1", "cand-2", "cand-3", "cand-4" }, r.steps[1].ids)
    r = lists { how = "each", name = "get_applications", opts = { integration_id = integ },
                args = { page_size = 4, include_deleted = true } }
    local got = {}
    for i, step in ipairs(r.steps) do got[i] = step.id end
    assert.same({ "app-1", "app-2", "app-3", "app-4", "app-5", "app-6", "app-7", "app-8", "app-9" }, got)
    local recs = records(integ)
    assert.equals("/ats/candidates?page_size=250", recs[1].uri)
    assert.equals(1 + 3, #recs)
  end)

  it("a failing page: false, err once with the page's cursor; resuming from it gives the rest", function()
    local integ = integration("fail")
    fail_page(integ, 2, "error-404")
    local args = { page_size = 3, include_deleted = true }
    local r = lists { how = "pages", name = "get_jobs", args = args, opts = { integration_id = integ } }
    assert.equals(2, #r.steps)
    assert.same({ "job-1", "job-2", "job-3" }, r.steps[1].ids)
    local failed = r.steps[2]
    assert.is_true(failed.failed)
    assert.equals("api", failed.err.kind)
    assert.equals(404, failed.err.status)
    assert.equals(r.steps[1].next, failed.err.cursor)
    args.cursor = failed.err.cursor
    r = lists { how = "each", name = "get_jobs", args = args, opts = { integration_id = integ } }
    local rest = {}
    for i, step in ipairs(r.steps) do rest[i] = step.id end
    assert.same({ "job-4", "job-5", "job-6", "job-7" }, rest)
    -- the first page fails: no cursor
    fail_page(integ, 1, "error-400")
    r = lists { how = "each", name = "get_candidates", opts = { integration_id = integ } }
    assert.equals(1, #r.steps)
    assert.is_true(r.steps[1].failed)
    assert.is_nil(r.steps[1].err.cursor)
  end)

  it("a page is retried like any read: 503 once on page 2, the list comes whole", function()
    local integ = integration("retry")
    fail_page(integ, 2, "503-once")
    local r = lists { how = "pages", name = "get_applications", args = { page_size = 5 },
                      opts = { integration_id = integ } }
    assert.equals(2, #r.steps)
    assert.same({ "app-6", "app-7", "app-8" }, r.steps[2].ids)
    assert.equals(2, r.steps[2].attempts)
    assert.equals(3, #records(integ))
  end)

  it("leaving early sends nothing more; the kept-alive connection serves the next call", function()
    local integ = integration("break")
    local r = lists { how = "each", name = "get_jobs", args = { page_size = 2 }, stop_after = 1, then_check = true,
                      opts = { integration_id = integ } }
    assert.same({ { id = "job-1" } }, r.steps)
    assert.is_true(r.checked)
    local recs = records(integ)
    assert.equals(1, #recs)
    local checks = S.json("GET", STANDIN .. "/_requests?since=" .. recs[1].seq)
    local check
    for _, rec in ipairs(checks) do
      if rec.route == "check-api-key" and rec.connection == recs[1].connection then check = rec end
    end
    assert.is_table(check, "check_api_key did not reuse the page's connection")
    assert.equals(recs[1].connection_requests + 1, check.connection_requests)
  end)

  it("kombo.pages and kombo.each on the default client, inside nginx", function()
    local integ = integration("module")
    local r = lists { how = "each", name = "get_jobs", module = true, args = { statuses = { "OPEN" } },
                      opts = { integration_id = integ } }
    assert.is_nil(r.raised)
    local got = {}
    for i, step in ipairs(r.steps) do got[i] = step.id end
    assert.same({ "job-1", "job-2", "job-5" }, got)
    r = lists { how = "pages", name = "get_jobs", module = true, args = { page_size = 4 },
                opts = { integration_id = integ } }
    assert.equals(2, #r.steps)
  end)

  it("misuse raises: not a list, an unknown name; a bad filter is false, err and sends nothing", function()
    local integ = integration("misuse")
    local r = lists { how = "pages", name = "create_application", opts = { integration_id = integ } }
    assert.matches("bad argument #1 to 'pages' ('create_application' is not a list", r.raised, 1, true)
    r = lists { how = "each", name = "get_candidate", opts = { integration_id = integ } }
    assert.matches("(did you mean 'get_candidates'?)", r.raised, 1, true)
    r = lists { how = "pages", name = "get_jobs", args = { page_size = 251, updated_after = "soon" },
                opts = { integration_id = integ } }
    assert.is_nil(r.raised)
    assert.equals(1, #r.steps)
    assert.equals("validation", r.steps[1].err.kind)
    assert.equals("not_sent", r.steps[1].err.outcome)
    assert.equals(0, #records(integ))
  end)

  it("a page over 1 MiB is read (a list's cap is 16 MiB), and max_response_bytes caps it", function()
    local integ = integration("huge")
    fail_page(integ, 1, "huge", 2)
    local r = lists { how = "pages", name = "get_jobs", opts = { integration_id = integ } }
    assert.equals(1, #r.steps)
    assert.equals(6, #r.steps[1].ids)
    r = lists { how = "pages", name = "get_jobs", opts = { integration_id = integ, max_response_bytes = 1048576,
                                                          retries = false } }
    assert.is_true(r.steps[1].failed)
    assert.equals("http", r.steps[1].err.kind)
    assert.matches("max_response_bytes", r.steps[1].err.message, 1, true)
  end)

  it("left nothing alarming in the app's error log", function()
    local log = S.error_log(APP)
    assert.is_nil(log:match("%[alert%]"), log)
    assert.is_nil(log:match("runtime error"), log)
  end)
end)
