-- The stand-in's synced copy of an ATS: jobs, candidates and applications
-- served by GET /ats/jobs, /ats/candidates and /ats/applications with real
-- pages (an opaque cursor, data.next null on the last page) and filters
-- applied on every page, the way Kombo serves its lists.  Required by
-- standin.lua (generic operations); README.md next to this file,
-- "Lists", says what it does.
--
-- Records: a deterministic seed every integration sees (7 jobs, 5
-- candidates, 9 applications; one of each deleted), and per integration
-- the candidates and applications that POST /ats/candidates and
-- POST /ats/jobs/{job_id}/applications created (shown at once: Kombo shows
-- them after its next sync).  Each record is the description's example
-- item with its ids, names, dates and links replaced, so a page looks and
-- weighs like Kombo's.  Created records live in the standin_state dict, so
-- POST /_reset clears them.
--
-- The cursor holds the list, the page's number, the last record before it
-- and a digest of the filters: a page whose filters differ from the first
-- page's is refused (400), so a client that does not repeat them fails.
-- It is base64 that starts with "+++/", so a client must percent-encode it.
local cjson = require("cjson.safe")
local dkjson = require("dkjson")

local ngx = ngx
local STATE = ngx.shared.standin_state
local COUNTERS = ngx.shared.standin_counters

local M = {}

local LISTS = { ["/ats/jobs"] = "jobs", ["/ats/candidates"] = "candidates", ["/ats/applications"] = "applications" }
local CREATES = { ["POST /ats/candidates"] = true, ["POST /ats/jobs/{job_id}/applications"] = true }

local JSON_ARRAY = { __jsontype = "array" }
local function array(t) return setmetatable(t or {}, JSON_ARRAY) end

---------------------------------------------------------------------------
-- the description: example items, page_size's default and maximum
---------------------------------------------------------------------------

local DESCRIBED -- { [kind] = { example =, page_size_default =, page_size_max = } }

local function description_path()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/[^/]*$") or "."
  return dir .. "/../contract/kombo-openapi.json"
end

-- A deep copy that keeps dkjson's array/object marks.
local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end

local function described()
  if DESCRIBED then return DESCRIBED end
  local f = assert(io.open(description_path(), "rb"))
  local doc = dkjson.decode(f:read("*a"), 1, dkjson.null)
  f:close()
  local function resolve(node)
    for _ = 1, 8 do
      if type(node) ~= "table" or type(node["$ref"]) ~= "string" then return node end
      local t = doc
      for part in node["$ref"]:gmatch("[^/#]+") do t = t[part] end
      node = t
    end
    return node
  end
  DESCRIBED = {}
  for path, kind in pairs(LISTS) do
    local get = doc.paths[path].get
    local d = {}
    for _, ex in pairs(resolve(get.responses["200"]).content["application/json"].examples) do
      d.example = resolve(ex).value.data.results[1]
    end
    for _, p in ipairs(get.parameters) do
      p = resolve(p)
      if p.name == "page_size" then
        local schema = resolve(p.schema)
        d.page_size_default, d.page_size_max = schema.default, schema.maximum
      end
    end
    DESCRIBED[kind] = d
  end
  return DESCRIBED
end

---------------------------------------------------------------------------
-- records
---------------------------------------------------------------------------

-- Seconds since 1970 of "YYYY-MM-DD[THH:MM:SS[.fff]][Z]" (UTC), or nil.
local function epoch(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, sec, frac = 0, 0, 0, 0
  if rest ~= "" and rest ~= "Z" then
    local hh, mm, ss, f = rest:match("^T(%d%d):(%d%d):(%d%d)(%.?%d*)Z?$")
    if not hh then return nil end
    h, mi, sec, frac = tonumber(hh), tonumber(mm), tonumber(ss), tonumber("0" .. f) or 0
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant's algorithm)
  local yy = mo <= 2 and y - 1 or y
  local era = math.floor(yy / 400)
  local yoe = yy - era * 400
  local doy = math.floor((153 * (mo + (mo > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + h * 3600 + mi * 60 + sec + frac
end

local function iso_now()
  local t = ngx.now()
  local sec = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", sec) .. string.format(".%03dZ", math.floor((t - sec) * 1000))
end

-- A record: `facts` (what the filters look at and the order: seq) and the
-- item as JSON text.
local function record(kind, item, facts)
  facts.id, facts.remote_id = item.id, item.remote_id
  facts.changed = epoch(item.changed_at)
  facts.deleted = item.remote_deleted_at ~= dkjson.null
  return { kind = kind, facts = facts, json = dkjson.encode(item) }
end

local function dated(item, at, deleted)
  item.changed_at, item.remote_created_at, item.remote_updated_at = at, at, at
  item.remote_deleted_at = deleted and at or dkjson.null
  return item
end

local function job_item(n, id, name, status, at, deleted)
  local item = dated(copy(described().jobs.example), at, deleted)
  item.id, item.remote_id, item.name, item.status = id, tostring(1000 + n), name, status
  item.job_code = ("SI-%03d"):format(n)
  item.remote_url = "https://standin.invalid/jobs/" .. id
  if n == 1 then -- the job make demo and the README apply to: a TEXT and a FILE question
    item.screening_questions = dkjson.decode('[{"id":"q-demo-text","remote_id":"q1","title":"Why this role?",'
      .. '"description":null,"category":null,"required":false,"index":0,"format":{"type":"TEXT",'
      .. '"display_type":"MULTI_LINE","max_length":null}},{"id":"q-demo-file","remote_id":"q2",'
      .. '"title":"Work sample","description":null,"category":null,"required":false,"index":1,'
      .. '"format":{"type":"FILE","accepted_mime_types":null,"max_file_size_bytes":null}}]')
  end
  return item
end

-- The summary of an application inside a candidate (its `applications`).
local function application_summary(app_id, job_id, job_name, at)
  local s = copy(described().candidates.example.applications[1])
  s.id, s.remote_id, s.changed_at, s.remote_created_at, s.remote_updated_at = app_id, app_id, at, at, at
  s.job = { id = job_id, name = job_name, remote_id = job_id }
  s.outcome = "ACTIVE"
  s.remote_url = "https://standin.invalid/applications/" .. app_id
  return s
end

local function candidate_item(id, first, last, email, at, deleted, applications)
  local item = dated(copy(described().candidates.example), at, deleted)
  item.id, item.remote_id, item.first_name, item.last_name = id, id, first, last
  item.email_addresses = array { { email_address = email, type = "PERSONAL" } }
  item.applications = array(applications)
  item.remote_url = "https://standin.invalid/candidates/" .. id
  return item
end

local function application_item(id, cand, job_id, job_name, at, deleted)
  local item = dated(copy(described().applications.example), at, deleted)
  item.id, item.remote_id, item.job_id, item.candidate_id = id, id, job_id, cand.id
  item.job = { id = job_id, name = job_name, remote_id = job_id }
  item.candidate.id, item.candidate.remote_id = cand.id, cand.id
  item.candidate.first_name, item.candidate.last_name = cand.first_name, cand.last_name
  item.candidate.email_addresses = cand.email_addresses
  item.outcome = "ACTIVE"
  item.remote_url = "https://standin.invalid/applications/" .. id
  return item
end

-- The seed: 7 jobs (job-7 deleted), 5 candidates (cand-5 deleted), 9
-- applications (app-9 deleted), changed on distinct days of 2025.
local SEED -- { jobs = {record...}, candidates = ..., applications = ... }
local JOB_STATUSES = { "OPEN", "OPEN", "CLOSED", "DRAFT", "OPEN", "ARCHIVED", "OPEN" }

local function seed()
  if SEED then return SEED end
  SEED = { jobs = {}, candidates = {}, applications = {} }
  local jobs = {}
  for n = 1, 7 do
    local id, name = "job-" .. n, "Stand-in job " .. n
    jobs[n] = { id = id, name = name }
    local item = job_item(n, id, name, JOB_STATUSES[n], ("2025-%02d-01T00:00:00.000Z"):format(n), n == 7)
    SEED.jobs[n] = record("jobs", item, { seq = n, status = JOB_STATUSES[n], name = name })
  end
  local apps_of, cands = {}, {}
  for n = 1, 9 do
    local c, j = (n - 1) % 5 + 1, jobs[(n - 1) % 3 + 1]
    apps_of[c] = apps_of[c] or {}
    apps_of[c][#apps_of[c] + 1] = { id = "app-" .. n, job = j, at = ("2025-%02d-20T00:00:00.000Z"):format(n) }
  end
  for n = 1, 5 do
    local summaries = {}
    for i, a in ipairs(apps_of[n] or {}) do summaries[i] = application_summary(a.id, a.job.id, a.job.name, a.at) end
    local email = ("cand%d@standin.example"):format(n)
    local item = candidate_item("cand-" .. n, "Candidate", "Number " .. n, email,
      ("2025-%02d-15T00:00:00.000Z"):format(n), n == 5, summaries)
    cands[n] = item
    SEED.candidates[n] = record("candidates", item, { seq = n, emails = { email } })
  end
  for n = 1, 9 do
    local j = jobs[(n - 1) % 3 + 1]
    local item = application_item("app-" .. n, cands[(n - 1) % 5 + 1], j.id, j.name,
      ("2025-%02d-20T00:00:00.000Z"):format(n), n == 9)
    SEED.applications[n] = record("applications", item, { seq = n, job_id = j.id })
  end
  return SEED
end

-- Synthetic jobs, for a list longer than any seed (/_lists?jobs=N): job i
-- is "synth-<i>", OPEN, changed on 2025-12-01, after every stored record.
local SYNTH_SEQ = 100000
local function synthetic_job(i)
  local id, name = ("synth-%d"):format(i), ("Synthetic job %d"):format(i)
  local item = job_item(7 + i, id, name, "OPEN", "2025-12-01T00:00:00.000Z", false)
  return record("jobs", item, { seq = SYNTH_SEQ + i, status = "OPEN", name = name })
end

-- Created records of one integration and kind, in the dict.
local function created_key(kind, integ)
  return "store:" .. kind .. ":" .. #integ .. ":" .. integ
end

local function add_created(rec, integ)
  rec.facts.created = ngx.now() -- (for the sync lag: /_sync)
  local k = created_key(rec.kind, integ)
  local n = STATE:incr(k .. ":n", 1, 0)
  local ok, err = STATE:set(k .. ":" .. n, cjson.encode({ facts = rec.facts, json = rec.json }))
  if not ok then ngx.log(ngx.ERR, "standin: could not store a created record: ", err) end
end

-- Every record of a list for an integration, in order (seq); a created one
-- only once the integration's sync lag has passed since (/_sync).
local function records(kind, integ)
  local out = {}
  for i, r in ipairs(seed()[kind]) do out[i] = r end
  local k = created_key(kind, integ)
  local synced = ngx.now() - (STATE:get("store:lag:" .. integ) or 0)
  for i = 1, STATE:get(k .. ":n") or 0 do
    local r = cjson.decode(STATE:get(k .. ":" .. i) or "null")
    if r and (r.facts.created or 0) <= synced then out[#out + 1] = r end
  end
  return out
end

-- The records a create adds: a candidate and its application.  Called when
-- the create's answer is a success (the scenario decides).
local function create(key, integ, body, path_id, ids)
  local c = type(body) == "table" and type(body.candidate) == "table" and body.candidate or {}
  local job_id = path_id
  if key == "POST /ats/candidates" then
    job_id = type(body.application) == "table" and body.application.job_id or nil
  end
  job_id = type(job_id) == "string" and job_id or "job-unknown"
  local n = COUNTERS:incr("__store_seq", 1, 0)
  local at = iso_now()
  local cand_id = ids and ids.candidate or ("cand-new-%06d"):format(n)
  local app_id = ids and ids.application or ("app-new-%06d"):format(n)
  local job_name = "Job " .. job_id
  for _, j in ipairs(seed().jobs) do
    if j.facts.id == job_id then job_name = j.facts.name end
  end
  local email = type(c.email_address) == "string" and c.email_address or ("new-%d@standin.example"):format(n)
  local first = type(c.first_name) == "string" and c.first_name or "New"
  local last = type(c.last_name) == "string" and c.last_name or "Candidate"
  local cand = candidate_item(cand_id, first, last, email, at, false,
    { application_summary(app_id, job_id, job_name, at) })
  add_created(record("candidates", cand, { seq = 1000 + n, emails = { email } }), integ)
  add_created(record("applications", application_item(app_id, cand, job_id, job_name, at, false),
    { seq = 1000 + n, job_id = job_id }), integ)
end

---------------------------------------------------------------------------
-- pages
---------------------------------------------------------------------------

local function set_of(csv)
  local s = {}
  for v in csv:gmatch("[^,]+") do s[v] = true end
  return s
end

-- The filters of a request: a predicate over a record's facts, or nil and
-- what is wrong.  Filters not named here are accepted and ignored (they
-- still count for the cursor's digest).
local function filter(kind, args)
  local tests = {}
  local function test(f) tests[#tests + 1] = f end
  for k, v in pairs(args) do
    if type(v) ~= "string" then return nil, ("query parameter %s must be given once, with a value"):format(k) end
  end
  if args.ids then
    local s = set_of(args.ids)
    test(function(r) return s[r.id] end)
  end
  if args.remote_ids then
    local s = set_of(args.remote_ids)
    test(function(r) return s[r.remote_id] end)
  end
  if args.updated_after then
    local t = epoch(args.updated_after)
    if not t then return nil, "updated_after must be a date-time (YYYY-MM-DDTHH:mm:ss.sssZ)" end
    test(function(r) return r.changed > t end)
  end
  if args.include_deleted ~= nil and args.include_deleted ~= "true" and args.include_deleted ~= "false" then
    return nil, "include_deleted must be true or false"
  end
  if args.include_deleted ~= "true" then test(function(r) return not r.deleted end) end
  if kind == "jobs" and args.status then
    test(function(r) return r.status == args.status end)
  end
  if kind == "jobs" and args.statuses then
    local s = set_of(args.statuses)
    test(function(r) return s[r.status] end)
  end
  if kind == "jobs" and args.name_contains then
    local want = args.name_contains:lower()
    test(function(r) return r.name:lower():find(want, 1, true) ~= nil end)
  end
  if kind == "candidates" and args.email then
    local want = args.email:lower()
    test(function(r)
      for _, e in ipairs(r.emails) do if e:lower() == want then return true end end
      return false
    end)
  end
  if kind == "applications" and args.job_ids then
    local s = set_of(args.job_ids)
    test(function(r) return s[r.job_id] end)
  end
  return function(r)
    for _, t in ipairs(tests) do if not t(r) then return false end end
    return true
  end
end

-- A digest of the filters: every query parameter but cursor and page_size.
local function digest(args)
  local parts = {}
  for k, v in pairs(args) do
    if k ~= "cursor" and k ~= "page_size" then
      parts[#parts + 1] = tostring(k) .. "=" .. (type(v) == "table" and table.concat(v, "\0") or tostring(v))
    end
  end
  table.sort(parts)
  return ngx.md5(table.concat(parts, "&")):sub(1, 12)
end

local CURSOR_MARK = "\251\239\191" -- base64 "+++/": the cursor must be percent-encoded

local function make_cursor(kind, page, after, fp)
  return ngx.encode_base64(CURSOR_MARK .. ("%s|%d|%d|%s"):format(kind, page, after, fp))
end

-- page, after (the last seq before it) of a cursor; nil, why when it is not one
-- of this list's for these filters.
local function read_cursor(cursor, kind, fp)
  local raw = ngx.decode_base64(cursor)
  local k, page, after, cfp = (raw or ""):match("^" .. CURSOR_MARK .. "([%a]+)|(%d+)|(%d+)|(%x+)$")
  if not k then return nil, "The cursor is not valid (was it percent-encoded?)." end
  if k ~= kind then return nil, "The cursor belongs to another list." end
  if cfp ~= fp then
    return nil, "The cursor was made for other filters: every page must repeat the first page's filters."
  end
  return tonumber(page), tonumber(after)
end

-- The failure set with /_lists for this integration and page number, once
-- per time it was asked for: the scenario to answer with, or nil.
local function failure(integ, page)
  local key = "lists_fail:" .. integ
  local set = STATE:get(key)
  local p, sc, times = (set or ""):match("^(%d+)|([^|]+)|(%d+)$")
  if not p or tonumber(p) ~= page then return nil end
  times = tonumber(times) - 1
  if times > 0 then
    STATE:set(key, ("%s|%s|%d"):format(p, sc, times))
  else
    STATE:delete(key)
  end
  return sc
end

-- One page of a list: the data JSON and a scenario (nil: the request's own),
-- or nil and what is wrong with the request (400).
local function page_of(kind, integ, args)
  local d = described()[kind]
  local size = d.page_size_default
  if args.page_size ~= nil then
    size = type(args.page_size) == "string" and args.page_size:match("^%d+$") and tonumber(args.page_size)
    if not size or size < 1 or size > d.page_size_max then
      return nil, ("page_size must be a whole number from 1 to %d"):format(d.page_size_max)
    end
  end
  local keep, why = filter(kind, args)
  if not keep then return nil, why end
  local fp = digest(args)
  local page, after = 1, 0
  if args.cursor ~= nil then
    if type(args.cursor) ~= "string" then return nil, "cursor must be given once" end
    page, after = read_cursor(args.cursor, kind, fp)
    if not page then return nil, after end
  end
  local items, last, more = {}, nil, false
  local function take(r)
    if r.facts.seq > after and keep(r.facts) then
      if #items == size then
        more = true
        return false
      end
      items[#items + 1] = r.json
      last = r.facts.seq
    end
    return true
  end
  local going = true
  for _, r in ipairs(records(kind, integ)) do
    going = take(r)
    if not going then break end
  end
  -- then the integration's synthetic jobs (/_lists?jobs=N), made only from
  -- where this page starts: 10,000 of them cost a page's worth per page
  local n = kind == "jobs" and going and (STATE:get("store:synth:" .. integ) or 0) or 0
  for i = math.max(1, after - SYNTH_SEQ + 1), n do
    if not take(synthetic_job(i)) then break end
  end
  local nxt = more and cjson.encode(make_cursor(kind, page + 1, last, fp)):gsub("\\/", "/") or "null"
  return '{"results":[' .. table.concat(items, ",") .. '],"next":' .. nxt .. '}', failure(integ, page)
end

---------------------------------------------------------------------------
-- entry points
---------------------------------------------------------------------------

-- What the store does with an operation of the description (its `path`
-- template and method): for a list, { data = JSON, scenario = } or
-- { invalid = message }; for a create, { data = function that stores the
-- records and returns "{}" }; nil for the rest.
-- A create answered by the stand-in's own handler (standin.lua: a created
-- application, with the ids its answer gave), listed like the store's.
function M.created(key, integ, body, path_id, ids)
  create(key, integ, body, path_id, ids)
end

function M.serve(path, method, integ, body, path_id)
  local kind = LISTS[path]
  if kind and method == "GET" and integ then
    local data, sc = page_of(kind, integ, ngx.req.get_uri_args(100))
    if not data then return { invalid = sc } end
    return { data = function() return data end, scenario = sc }
  end
  local key = method .. " " .. path
  if CREATES[key] and integ then
    return { data = function()
      create(key, integ, body, path_id)
      return "{}"
    end }
  end
  return nil
end

-- /_lists?integration=<id>[&page=N&scenario=<name>[&times=K]]
--   POST/PUT  the integration's list requests for page N (1: the first, no
--             cursor) answer with the scenario, the next K times (default 1)
--   DELETE    removes it;  GET  shows it
-- Answer {"status":"ok","integration":..,"page":N|null,"scenario":..,"times":K}.
function M.control()
  local method = ngx.req.get_method()
  local args = ngx.req.get_uri_args()
  local integ = type(args.integration) == "string" and args.integration ~= "" and args.integration or nil
  local function reply(status, t)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.print(cjson.encode(t))
    return ngx.exit(status)
  end
  if not integ then return reply(400, { status = "error", message = "integration= is required" }) end
  local key = "lists_fail:" .. integ
  if args.jobs ~= nil and (method == "POST" or method == "PUT") then
    local n = tonumber(args.jobs)
    if not n or n < 0 or n > 100000 or n ~= math.floor(n) then
      return reply(400, { status = "error", message = "jobs= must be a whole number from 0 to 100000" })
    end
    STATE:set("store:synth:" .. integ, n)
    return reply(200, { status = "ok", integration = integ, jobs = n })
  end
  if method == "POST" or method == "PUT" then
    local page = tonumber(args.page or "")
    local times = tonumber(args.times or "1")
    if not page or page < 1 or page ~= math.floor(page) or type(args.scenario) ~= "string"
      or args.scenario == "" or args.scenario:find("|", 1, true) or not times or times < 1 then
      return reply(400, { status = "error", message = "page= (>= 1), scenario= and times= (>= 1) are required" })
    end
    STATE:set(key, ("%d|%s|%d"):format(page, args.scenario, times))
  elseif method == "DELETE" then
    STATE:delete(key)
  elseif method ~= "GET" then
    return reply(405, { status = "error", message = "use GET, POST, PUT or DELETE" })
  end
  local p, sc, times = (STATE:get(key) or ""):match("^(%d+)|([^|]+)|(%d+)$")
  return reply(200, { status = "ok", integration = integ, page = tonumber(p) or cjson.null,
                      scenario = sc or cjson.null, times = tonumber(times) or 0 })
end

-- /_sync?integration=<id>[&lag=S]
--   POST/PUT  the records created for that integration are listed only S
--             seconds after their create (Kombo lists a write after its next
--             sync of the ATS); lag=0 or no lag: at once (the default)
--   DELETE    removes it;  GET  shows it
-- Answer {"status":"ok","integration":..,"lag":S}.
function M.sync_control()
  local method = ngx.req.get_method()
  local args = ngx.req.get_uri_args()
  local integ = type(args.integration) == "string" and args.integration ~= "" and args.integration or nil
  local function reply(status, t)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.print(cjson.encode(t))
    return ngx.exit(status)
  end
  if not integ then return reply(400, { status = "error", message = "integration= is required" }) end
  local key = "store:lag:" .. integ
  if method == "POST" or method == "PUT" then
    local lag = tonumber(args.lag or "0")
    if not lag or lag < 0 or lag > 3600 then
      return reply(400, { status = "error", message = "lag= must be a number of seconds from 0 to 3600" })
    end
    if lag > 0 then STATE:set(key, lag) else STATE:delete(key) end
  elseif method == "DELETE" then
    STATE:delete(key)
  elseif method ~= "GET" then
    return reply(405, { status = "error", message = "use GET, POST, PUT or DELETE" })
  end
  return reply(200, { status = "ok", integration = integ, lag = STATE:get(key) or 0 })
end

return M
