-- The kombo-lua test app (spec/nginx/app.conf.in): uploads through kombo
-- to the local Kombo stand-in and answers JSON describing res / err.
local cjson = require "cjson.safe"
local kombo = require "kombo"
local describe = require "describe"

local app = {}
local dict = ngx.shared.app

local function reply(status, t)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  local body = cjson.encode(t)
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(status)
end

local function read_json()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    if file then
      local f = assert(io.open(file, "rb"))
      body = f:read("*a")
      f:close()
    end
  end
  return cjson.decode(body or "{}") or {}
end

-- The options of a client from the spec's (defaults: stand-in, cosocket).
local function client_options(opts)
  local o = { api_key = "test-key", server_url = app.STANDIN, transport = "cosocket",
              integration_id = "app" }
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.retries == cjson.null then o.retries = nil end
  return o
end

local function client(opts)
  return kombo.new(client_options(opts))
end

local function upload_args(candidate, integration, name)
  return {
    candidate_id = candidate or "cand-1", integration_id = integration,
    body = { attachment = { name = name or "cv.txt", content_type = "text/plain", type = "CV",
                            data = kombo.base64("Frank Doe, software engineer.\n") } },
  }
end

function app.ping()
  return reply(200, { pong = true, in_flight = dict:get("in_flight") or 0 })
end

-- POST /upload {opts=, candidate=, integration=, n=} -> {results = {...}}
function app.upload()
  local q = read_json()
  local c = client(q.opts)
  local results = {}
  for i = 1, math.min(q.n or 1, 100) do
    local t0 = ngx.now()
    local ok, res, err = pcall(c.attach_to_candidate, c, upload_args(q.candidate, q.integration))
    ngx.update_time()
    results[i] = ok and describe(res, err) or { ok = false, raised = tostring(res) }
    results[i].wall = ngx.now() - t0
  end
  return reply(200, { results = results })
end

-- POST /concurrent {n=, integration=, candidate_prefix=} -> n uploads at once (ngx.thread.spawn)
function app.concurrent()
  local q = read_json()
  local c = client(q.opts)
  local threads = {}
  for i = 1, math.min(q.n or 50, 200) do
    threads[i] = ngx.thread.spawn(function()
      return describe(c:attach_to_candidate(upload_args((q.candidate_prefix or "conc-") .. i, q.integration)))
    end)
  end
  local results = {}
  for i, th in ipairs(threads) do
    local ok, r = ngx.thread.wait(th)
    results[i] = ok and r or { ok = false, raised = tostring(r) }
  end
  return reply(200, { results = results })
end

-- POST /fire {n=, candidate=, integration=, opts=, wait=true|false}: starts n
-- uploads in ngx.timer.at callbacks and answers at once (wait: once all are
-- in flight).  GET /fired reports them.
function app.fire()
  local q = read_json()
  dict:set("in_flight", 0)
  dict:set("fired_done", 0)
  dict:set("fired_results", "[]")
  local n = math.min(q.n or 1, 100)
  for _ = 1, n do
    local ok, err = ngx.timer.at(0, function(premature)
      if premature then return end
      dict:incr("in_flight", 1, 0)
      local t0 = ngx.now()
      local c = client(q.opts)
      local pok, res, err2 = pcall(c.attach_to_candidate, c, upload_args(q.candidate, q.integration))
      ngx.update_time()
      local r = pok and describe(res, err2) or { ok = false, raised = tostring(res) }
      r.wall = ngx.now() - t0
      dict:incr("in_flight", -1, 0)
      local list = cjson.decode(dict:get("fired_results")) or {}
      list[#list + 1] = r
      dict:set("fired_results", cjson.encode(list))
      dict:incr("fired_done", 1, 0)
    end)
    if not ok then return reply(500, { error = err }) end
  end
  if q.wait then
    for _ = 1, 200 do -- up to 2 s
      if (dict:get("in_flight") or 0) >= n then break end
      ngx.sleep(0.01)
    end
  end
  return reply(200, { started = n, in_flight = dict:get("in_flight") or 0 })
end

-- POST /readback {integration=}: the read operations over cosockets:
-- exists before and after an upload, the listing, restrictions, preflight,
-- check_api_key.
function app.readback()
  local q = read_json()
  local c = client { integration_id = q.integration, retries = false, timeout = 1 }
  local args = upload_args("rb-cand", q.integration, "rb.txt")
  local out = {}
  out.before = { c:attachment_exists(args) }
  ngx.update_time()
  local sent = ngx.now()
  out.upload = describe(c:attach_to_candidate(args))
  -- Inside nginx nothing is downloaded: the time is the evidence, from
  -- `since` on, once the attempt's timeout (1 s) has passed.
  out.too_early = select(2, c:attachment_exists(args, { since = sent })).kind
  ngx.sleep(1.05)
  out.after = { (c:attachment_exists(args, { since = sent })) }
  local list, lerr = c:get_candidate_attachments { candidate_id = "rb-cand" }
  out.listed = list and #list.data.results or tostring(lerr)
  out.empty_json = list and kombo.encode_json((c:get_candidate_attachments { candidate_id = "rb-none" })) or nil
  local r = c:attachment_restrictions("candidate")
  out.restrictions = r and r.data.attachment_restrictions ~= nil
  local key = c:check_api_key()
  out.api_key = key and key.data.environment_id or false
  local _, perr = c:attach_to_candidate { candidate_id = "rb-cand", preflight = true, integration_id = q.integration,
    body = { attachment = { name = "x.txt", content_type = "text/plain", type = "COVER_LETTER",
                            data = kombo.base64("x") } } }
  out.preflight = perr and perr.problems and perr.problems[1].path or (perr and tostring(perr)) or "sent"
  return reply(200, out)
end

-- POST /bulk {integration=, n=, candidate=, concurrency=, abort_after=, drain_after=,
-- on_result_raises_at=, jobs_raise_at=, preflight=, timeout=, slow_integration=} ->
-- the attach_many summary, each result described.  With on_result_raises_at
-- or jobs_raise_at (the Nth call raises), the outcomes come from on_result
-- and the raised error's results: {raised = {kind=, where=, message=}, results =}.
-- With slow_integration, the odd jobs go to that integration.
function app.bulk()
  local q = read_json()
  local c = client { integration_id = q.integration, preflight = q.preflight or nil, timeout = q.timeout }
  local n = math.min(q.n or 1, 200)
  local function job_args(i)
    local integ = (q.slow_integration and i % 2 == 1) and q.slow_integration or q.integration
    return upload_args(q.candidate or "bulk-cand", integ, ("bulk-%03d.txt"):format(i))
  end
  local jobs = {}
  for i = 1, n do jobs[i] = job_args(i) end
  if q.jobs_raise_at then
    local pulled = 0
    jobs = function()
      pulled = pulled + 1
      if pulled == q.jobs_raise_at then error("manifest unreadable") end
      if pulled <= n then return job_args(pulled) end
    end
  end
  local t0 = ngx.now()
  local peak = 0
  local delivered, calls, done_at = {}, 0, {}
  local on_result
  if q.on_result_raises_at or q.jobs_raise_at or q.slow_integration then
    on_result = function(i, res, err)
      delivered[i] = res or err
      done_at[i] = ngx.now() - t0
      calls = calls + 1
      if calls == q.on_result_raises_at then error("journal full") end
    end
  end
  local ok, s = pcall(c.attach_many, c, jobs, { concurrency = q.concurrency, progress_interval = 0,
    on_progress = function(st) if st.in_flight > peak then peak = st.in_flight end end,
    on_result = on_result,
    stop = (q.abort_after or q.drain_after) and function()
      if q.abort_after and ngx.now() - t0 > q.abort_after then return "abort" end
      if q.drain_after and ngx.now() - t0 > q.drain_after then return "drain" end
    end or nil })
  local out = { results = {}, peak = peak, done_at = {} }
  local all = s.results or delivered
  if ok then
    out.succeeded, out.failed, out.retries, out.stopped, out.elapsed = s.succeeded, s.failed, s.retries,
      s.stopped, s.elapsed
  else
    out.raised = { kind = s.kind, where = s.where, message = tostring(s) }
    all = delivered
    for i, r in pairs(s.results or {}) do all[i] = r end
  end
  for i = 1, n do
    local r = all[i]
    if r == nil then out.results[i] = cjson.null
    elseif kombo.is_error(r) then out.results[i] = describe(nil, r)
    else out.results[i] = describe(r) end
    out.done_at[i] = done_at[i] or cjson.null
  end
  return reply(200, out)
end

-- A table {source_text = "..."} anywhere in a call's arguments becomes
-- source = a function returning that text in 3-byte chunks, size = its length.
local function with_sources(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = with_sources(x) end
  if type(v.source_text) == "string" then
    local text, at = v.source_text, 1
    out.source_text = nil
    out.size = #text
    out.source = function()
      if at > #text then return nil end
      local chunk = text:sub(at, at + 2)
      at = at + 3
      return chunk
    end
  end
  return out
end

-- POST /operation {method=, args=, opts=} -> the described result of
-- client[method](client, args) over cosockets (any generated operation).
function app.operation()
  local q = read_json()
  local c = client(q.opts)
  local ok, res, err = pcall(c[q.method], c, with_sources(q.args or {}))
  if not ok then return reply(200, { ok = false, raised = tostring(res) }) end
  local d = describe(res, err)
  if err and err.problems then d.err.problems = err.problems end
  return reply(200, d)
end

-- POST /call_options {method=, args=, opts=, call=, hooks=, raise=} -> the
-- described result of client[method](client, args, call) over cosockets,
-- with `call.hooks` recording every event when `hooks` is true (the info
-- tables, as JSON) and the hook named by `raise` raising; the error's
-- kind "hook" fields and its methods' answers.
function app.call_options()
  local q = read_json()
  local c = client(q.opts)
  local events = {}
  local call = q.call or {}
  if q.hooks then
    local hooks = {}
    for _, name in ipairs { "before_request", "after_response", "on_retry" } do
      hooks[name] = function(info)
        events[#events + 1] = info
        if q.raise == name then error("spec raise in " .. name) end
        if name == "before_request" and q.add_header then return q.add_header end
      end
    end
    call.hooks = hooks
  end
  local ok, res, err = pcall(c[q.method], c, with_sources(q.args or {}), call)
  if not ok then return reply(200, { ok = false, raised = tostring(res) }) end
  local d = describe(res, err)
  if err then
    d.err.hook = err.hook
    d.err.may_have_landed = err:may_have_landed()
    d.err.retryable = err:retryable()
    d.err.has_result = err.result ~= nil
  end
  d.events = events
  return reply(200, d)
end

-- POST /run_many {opts=, name=, jobs=, concurrency=} -> the run_many summary,
-- each result described (light threads over cosockets).
function app.run_many()
  local q = read_json()
  local c = client(q.opts)
  local ok, s = pcall(c.run_many, c, q.name, q.jobs, { concurrency = q.concurrency })
  if not ok then return reply(200, { ok = false, raised = tostring(s) }) end
  local out = { succeeded = s.succeeded, failed = s.failed, results = {} }
  for i = 1, #q.jobs do
    local r = s.results[i]
    out.results[i] = kombo.is_error(r) and describe(nil, r) or describe(r)
  end
  return reply(200, out)
end

-- POST /lists {how = "pages"|"each", name =, args =, opts =, module =, stop_after =, then_check =}
-- -> {steps = {...}, raised =, checked =}: client:pages / client:each (or
-- kombo.pages / kombo.each after kombo.configure(opts), with `module`) run
-- inside nginx.  A step is a page {ids =, next =, attempts =}, a record
-- {id =}, or the failure {failed = true, err = {kind, status, code, outcome,
-- message, cursor}}.  stop_after: break after that many steps;
-- then_check: a check_api_key call after the loop, on the same client.
function app.lists()
  local q = read_json()
  local c = client(q.opts)
  local out = { steps = {} }
  local ok, raised = pcall(function()
    local it
    if q.module then
      kombo.configure(client_options(q.opts))
      it = kombo[q.how](q.name, q.args)
    else
      it = c[q.how](c, q.name, q.args)
    end
    for a, err in it do
      local step
      if a == false then
        step = { failed = true, err = { kind = err.kind, status = err.status, code = err.code, outcome = err.outcome,
                                         message = err.message, cursor = err.cursor } }
      elseif q.how == "pages" then
        local ids = {}
        for i, r in ipairs(a.data.results) do ids[i] = r.id end
        step = { ids = ids, next = a.data.next, attempts = a.http.attempts }
      else
        step = { id = a.id }
      end
      out.steps[#out.steps + 1] = step
      if #out.steps == q.stop_after or #out.steps > 100 then break end
    end
  end)
  if not ok then out.raised = tostring(raised) end
  if q.then_check then out.checked = describe(c:check_api_key()).ok end
  return reply(200, out)
end

function app.fired()
  return reply(200, { done = dict:get("fired_done") or 0, in_flight = dict:get("in_flight") or 0,
                      results = cjson.decode(dict:get("fired_results") or "[]") })
end

-- An upload attempted in `phase`; the error (raised) is stored for
-- /phase/result and returned.
function app.try_in_phase(phase)
  local t0 = ngx.now()
  local ok, err = pcall(function()
    local c = kombo.new{ api_key = "test-key", server_url = app.STANDIN, integration_id = "phase-check" }
    return c:attach_to_candidate(upload_args("phase-" .. phase))
  end)
  local msg = ok and "no error raised" or tostring(err)
  ngx.shared.app:set("phase:" .. phase, msg)
  ngx.shared.app:set("phase_ms:" .. phase, (ngx.now() - t0) * 1000)
  return msg
end

function app.phase_result()
  local name = ngx.var.arg_name
  return reply(200, { message = dict:get("phase:" .. name), ms = dict:get("phase_ms:" .. name) })
end

-- A Kombo look-alike answering with Transfer-Encoding: chunked (several chunks).
function app.chunked_kombo()
  ngx.req.read_body()
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json"
  local parts = { '{"status":"success",', '"data":{"id":"att_chunked","name":"cv.txt",',
                  '"candidate_id":"', ngx.var.uri:match("/candidates/([^/]+)/") or "?", '"},',
                  '"warnings":[]}' }
  for _, p in ipairs(parts) do
    ngx.print(p)
    ngx.flush(true)
  end
  return ngx.exit(200)
end

return app
