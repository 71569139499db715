-- Shared helpers for the unit specs.  Nothing here touches the network:
--   * helpers.prepare() goes through core.prepare and only renders a call;
--   * helpers.client() points at http://127.0.0.1:9/v1 and is meant for
--     inputs that fail validation (a validation error never sends);
--   * helpers.capture() replaces the blocking transport (core.curl and the
--     call's perform method) for the duration of one function, so that a
--     valid request made through the public API is recorded, not sent.
local kombo = require "kombo"
local core = require "kombo.core"
local testing = require "kombo.testing"
local cjson = require "cjson"

local helpers = {}

-- A realistic key (longer than 32 bytes) that must never show up in output.
helpers.API_KEY = "kombo_sk_live_7f3a9c1e5b2d4086a1c3e5f7092b4d6f"
helpers.OFFLINE_URL = "http://127.0.0.1:9/v1"
helpers.INTEGRATION_ID = "workday:8sP2qCnMJWE3f"
-- "%PDF-1.4\n" as base64.
helpers.PDF_B64 = "JVBERi0xLjQK"

-- Marks a field to remove from a default table.
helpers.NONE = require("support.sys").NONE

--- "C3 A9" -> "\195\169" (Lua 5.1 has no \x escapes).
function helpers.hex(s)
  return (s:gsub("%s*(%x%x)%s*", function(h) return string.char(tonumber(h, 16)) end))
end

local merge = require("support.sys").merge
helpers.merge = merge

--- A valid attachment with data, with fields overridden (helpers.NONE removes).
function helpers.attachment(over)
  return merge({ name = "cv.pdf", content_type = "application/pdf", type = "CV",
                 data = helpers.PDF_B64 }, over)
end

--- A valid attachment given by URL (no content_type).
function helpers.url_attachment(over)
  return merge({ name = "cv.pdf", type = "CV", data_url = "https://files.example.com/cv.pdf" }, over)
end

--- A core config table (what kombo.new resolves to), with overrides.
function helpers.config(over)
  return merge({ api_key = helpers.API_KEY, server_url = helpers.OFFLINE_URL,
                 integration_id = helpers.INTEGRATION_ID, user_agent = "kombo-lua-spec" }, over)
end

--- A request as a table of its parts, with overrides: target, id,
-- integration_id, attachment, remote_fields, on_progress.
function helpers.request(over)
  return merge({ target = "candidate", id = "cand-1", attachment = helpers.attachment() }, over)
end

--- The operation and argument table of a helpers.request() table.
function helpers.call_args(req)
  local id_field = req.target == "application" and "application_id" or "candidate_id"
  local body = { attachment = req.attachment, remote_fields = req.remote_fields }
  return "attach_to_" .. (req.target or "candidate"),
    { [id_field] = req.id, integration_id = req.integration_id, body = body, on_progress = req.on_progress }
end

--- A call (the core's sans-I/O object: next/complete/result/request/read/
-- rewind/body, not sent) for helpers.config(config_over) and
-- helpers.request(request_over).  Returns call or nil, problems.  The one
-- place the specs create calls without the public API: when the way calls
-- are made changes, change it here.
function helpers.new_call(config_over, request_over)
  local handle, problems = core.client(helpers.config(config_over))
  if not handle then return nil, problems end
  local op, args = helpers.call_args(helpers.request(request_over))
  return handle:prepare(op, args)
end

--- helpers.new_call with the arguments the other way round (request first).
function helpers.prepare(request_over, config_over)
  return helpers.new_call(config_over, request_over)
end

--- Runs fn with os.getenv answering `vars` for KOMBO_* names (others pass
-- through), then restores os.getenv even when fn fails.
function helpers.with_env(vars, fn)
  local original = os.getenv
  os.getenv = function(name)
    if type(name) == "string" and name:find("^KOMBO_") then return vars[name] end
    return original(name)
  end
  local ok, err = pcall(fn)
  os.getenv = original
  if not ok then error(err, 0) end
end

--- A client for the offline server, created with an empty KOMBO_* environment.
function helpers.client(over)
  local client
  helpers.with_env({}, function()
    client = kombo.new(merge({ api_key = helpers.API_KEY, server_url = helpers.OFFLINE_URL,
                               integration_id = helpers.INTEGRATION_ID }, over))
  end)
  return client
end

--- Public arguments for attach_to_candidate / attach_to_application.
function helpers.args(over, target)
  local id_field = target == "application" and "application_id" or "candidate_id"
  return merge({ [id_field] = "cand-1", body = { attachment = helpers.attachment() } }, over)
end

--- Calls client:<method>(args) and asserts it failed validation; returns err.
-- Runs under capture, so a request that wrongly passes validation is
-- recorded (and reported) instead of being sent.
function helpers.validation_error(client, method, args)
  local res, err
  local records = helpers.capture(function() res, err = client[method](client, args) end)
  assert(#records == 0 and res == nil,
    "expected a validation error, but the request was accepted and would have been sent"
    .. (records[1] and (" with headers " .. table.concat(records[1].headers, " | ")
                        :gsub(helpers.API_KEY, "<key>")) or ""))
  assert(type(err) == "table" and err.kind == "validation",
    "expected a validation error, got " .. tostring(err and err.kind))
  return err
end

--- The messages of every problem at `path`.
function helpers.at(problems, path)
  local found = {}
  for _, p in ipairs(problems or {}) do
    if p.path == path then found[#found + 1] = p.message end
  end
  return found
end

--- Sorted list of the distinct problem paths.
function helpers.paths(problems)
  local seen, list = {}, {}
  for _, p in ipairs(problems or {}) do
    if not seen[p.path] then seen[p.path] = true; list[#list + 1] = p.path end
  end
  table.sort(list)
  return list
end

--- One line per problem, for assertion messages.
function helpers.dump(problems)
  local lines = {}
  for _, p in ipairs(problems or {}) do lines[#lines + 1] = p.path .. " " .. p.message end
  return table.concat(lines, "; ")
end

--- Headers list {"Name: value", ...} -> { name = value } (lower-case names)
-- and the count.
function helpers.header_map(list)
  local map, n = {}, 0
  for _, line in ipairs(list) do
    local name, value = line:match("^([^:]+): (.*)$")
    assert(name, "malformed header line: " .. line)
    map[name:lower()] = value
    n = n + 1
  end
  return map, n
end

local SUCCESS_BODY = '{"status":"success","data":{"id":"att-1"},"warnings":[]}'

--- Runs fn(); every call the public API would send is recorded instead as
-- { url =, headers = {...}, length =, body =, method = }.  Returns the records.
-- The common call goes through client:run (prepare, perform and close in one
-- C step, kombo/call.lua), or is made by the operations' methods in C
-- (csrc/lua/lua_method.c): under capture the methods go through call.lua,
-- and run is those three steps again, so that the replaced perform sees it.
function helpers.capture(fn)
  local handle = assert(core.client(helpers.config()))
  local client_mt = getmetatable(handle)
  handle:close()
  local probe = assert(helpers.new_call())
  local mt = getmetatable(probe)
  probe:close()
  local records = {}
  local original_perform, original_run = mt.perform, client_mt.run
  mt.perform = function(call)
    local url, headers, length, _, method = call:request()
    records[#records + 1] = { url = url, headers = headers, length = length, body = call:body(), method = method }
    return { kind = "ok", status = 200, attempts = 1, elapsed = 0,
             headers = "Content-Type: application/json\r\n", decoded = testing.decode_json(SUCCESS_BODY) }
  end
  client_mt.run = function(self, op, args, index)
    local call, problems, shape, bad_option = self:prepare(op, args)
    if not call then return nil, problems, shape, bad_option end
    local res, dressed = call:perform(index)
    call:close()
    return res, dressed
  end
  local Client, lua_methods = require("kombo.client").Client, require("kombo.call").lua_methods
  local methods, functions = {}, {}
  for _, op in ipairs(core.operations) do
    local name = op.name
    methods[name], functions[name] = Client[name], kombo[name]
    Client[name], kombo[name] = lua_methods(op, kombo.default_client)
  end
  local ok, err = pcall(fn)
  mt.perform, client_mt.run = original_perform, original_run
  for name in pairs(methods) do Client[name], kombo[name] = methods[name], functions[name] end
  if not ok then error(err, 0) end
  return records
end

--- Sends args through client:<method> under capture; asserts exactly one
-- request was "sent" and returns its record (with .json decoded) and res.
function helpers.send(client, method, args)
  return helpers.send_call(function() return client[method](client, args) end)
end

--- Like helpers.send for any function returning res, err (e.g. the module
-- functions kombo.attach_to_candidate that use the default client).
function helpers.send_call(fn)
  local res, err
  local records = helpers.capture(function() res, err = fn() end)
  assert(err == nil, "expected success, got " .. tostring(err))
  assert(#records == 1, "expected exactly one request, got " .. #records)
  local rec = records[1]
  rec.json = cjson.decode(rec.body)
  return rec, res
end

---------------------------------------------------------------- fake clock

--- A fake clock for driving a call without a network or real sleeps:
-- clock.mono (what core.now() would return first) and clock.wall (Unix
-- time, for Retry-After dates).  clock:advance(s) moves both.
function helpers.fake_clock(mono, wall)
  local clock = { mono = mono or 1000, wall = wall or 1700000000.25 }
  function clock.advance(self, s) self.mono, self.wall = self.mono + s, self.wall + s end
  function clock.now(self) return self.mono, self.wall end
  return clock
end

local REASONS = { [200] = "OK", [429] = "Too Many Requests", [500] = "Internal Server Error",
                  [502] = "Bad Gateway", [503] = "Service Unavailable" }

--- A response table for call:complete: status, extra headers
-- { "Retry-After: 7", ... } and a body; a Kombo success or error JSON by
-- default.  Content-Type is application/json unless given.
function helpers.answer(status, headers, body)
  local lines = { ("HTTP/1.1 %d %s"):format(status, REASONS[status] or "Status") }
  local has_ct = false
  for _, h in ipairs(headers or {}) do
    lines[#lines + 1] = h
    if h:lower():find("^content%-type:") then has_ct = true end
  end
  if not has_ct then lines[#lines + 1] = "Content-Type: application/json" end
  if body == nil then
    if status >= 200 and status < 300 then
      body = SUCCESS_BODY
    else
      body = cjson.encode { status = "error", error = { code = "PLATFORM.SPEC_" .. status,
        title = "spec", message = "fake answer " .. status,
        log_url = "https://app.kombo.dev/logs?interactionId=spec" } }
    end
  end
  return { status = status, headers = table.concat(lines, "\r\n") .. "\r\n\r\n", body = body,
           phase = "done" }
end

--- A transport failure for call:complete: kind "network" | "timeout" | ...,
-- phase "connect" | "sending" | "waiting" | "receiving".
function helpers.failure(kind, phase, message)
  return { error = kind, phase = phase, message = message or ("spec " .. kind) }
end

--- Drives `call` to the end on `clock` (helpers.fake_clock), the way a
-- transport does (trace.drive): next(now) -> "send": the attempt takes
-- `answer.takes` seconds (default 0.05) on the clock, then complete(answer,
-- mono, wall); "sleep": the clock moves by the delay; "done": stop.
-- `answers` is a list (the last one repeats) or a function(n, clock).
-- Returns the call's result and a log { delays = {...}, sent_at = {...}
-- (mono time of each attempt's start), bodies = {...} (what call:read gave) }.
function helpers.drive(call, answers, clock)
  clock = clock or helpers.fake_clock()
  local log = { delays = {}, sent_at = {}, bodies = {} }
  for _ = 1, 1000 do
    local step, delay = call:next(clock.mono)
    if step == "done" then return call:result(), log end
    if step == "sleep" then
      assert(type(delay) == "number" and delay >= 0, "bad delay " .. tostring(delay))
      log.delays[#log.delays + 1] = delay
      clock:advance(delay)
    else
      assert(step == "send", "unexpected step " .. tostring(step))
      local n = #log.sent_at + 1
      log.sent_at[n] = clock.mono
      local parts = {}
      for _ = 1, 100000 do
        local chunk = call:read(65536)
        if not chunk then break end
        parts[#parts + 1] = chunk
      end
      log.bodies[n] = table.concat(parts)
      local a
      if type(answers) == "function" then a = answers(n, clock)
      else a = answers[math.min(n, #answers)] end
      clock:advance(a.takes or 0.05)
      call:complete(a, clock.mono, clock.wall)
    end
  end
  error("the call did not finish within 1000 steps")
end

--- Deterministic dump of a value (tables sorted by key) to compare snapshots.
function helpers.serialize(v, seen)
  seen = seen or {}
  if type(v) ~= "table" then
    return type(v) == "string" and ("%q"):format(v) or tostring(v)
  end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = "[" .. helpers.serialize(k, seen) .. "]=" .. helpers.serialize(v[k], seen)
  end
  seen[v] = nil
  return "{" .. table.concat(parts, ",") .. "}"
end

helpers.cjson = cjson
return helpers
