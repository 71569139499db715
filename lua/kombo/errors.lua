--- Error objects and success results.
--
-- Every failure is `nil, err` with `err` a table:
--   kind     "validation" | "api" | "http" | "network" | "timeout" | "decode" | "aborted",
--            or "webhook" for a refused webhook delivery (errors.webhook: code and message only)
--   outcome  "not_sent" | "rejected" | "unknown": may the upload have landed?
--   message  one line for people (it does not repeat the kind); `code`
--            (Kombo's error code) is for programs
--   status, code, title, log_url, headers, body, retry_after, attempts,
--   elapsed, written_at (the wall time the last attempt's request was
--   handed over whole, absent when it never was), problems (validation:
--   every {path=, message=} found), already_exists (Kombo's
--   ATS.APPLICATION_ALREADY_EXISTS, below)
-- tostring(err) gives "kombo <kind> error: ...", and so does
-- "upload failed: " .. err.  No field ever holds the API key.
local core = require "kombo.core"

local errors = {}
local redact -- errors.redact, below

local Error = {}
Error.__index = Error

-- What the core said of an error that is not a field of it (a field named
-- like a method would hide the method): err -> { retryable =, write = }.
local facts = setmetatable({}, { __mode = "k" })

--- Whether the request may have been carried out: true exactly when the
-- operation writes (it is no GET) and its outcome is `unknown`.  Settle
-- first (look it up: `attachment_exists`, `get_candidates{ email = }`, ...)
-- before sending it again.  False for reads, validation errors and every
-- outcome that says Kombo did not act.
function Error:may_have_landed()
  local f = facts[self]
  return self.outcome == "unknown" and f ~= nil and f.write == true
end

--- Whether trying again later may succeed: the rule the library's own
-- retries follow (the C core's, `kombo_call_retryable`), whatever attempts
-- or time were left: 429 and 503, Kombo's "nothing was done" codes, and
-- failures before the request went out; for a read (or with
-- `retries.retry_unsafe`) also other 5xx, timeouts and network errors
-- after it went out.  False for validation errors, other 4xx and writes
-- that may have landed.
function Error:retryable()
  local f = facts[self]
  return f ~= nil and f.retryable == true
end

function Error:__tostring()
  local parts = { "kombo ", self.kind, " error" }
  if self.status then
    parts[#parts + 1] = " (HTTP " .. self.status .. (self.code and (" " .. self.code) or "") .. ")"
  end
  parts[#parts + 1] = ": "
  parts[#parts + 1] = self.message
  return table.concat(parts)
end

-- "upload failed: " .. err works, on either side of the operator.
function Error.__concat(a, b)
  return tostring(a) .. tostring(b)
end

function errors.is_error(v)
  return getmetatable(v) == Error
end

-- Replaces every echo of the secret, should a server ever send it back,
-- with "<redacted>": any run of 8 or more bytes of the key, compared
-- ASCII-case-insensitively (and a space as "+"), wherever it stands, as
-- it is, JSON-escaped (\" \\ \/ \n ..., \uXXXX in either case) or
-- percent-encoded (%xx in either case), or a mix of these, or a run of the
-- key percent-encoded.  An escape or a UTF-8 character is never cut in
-- two.  Texts are capped (a message at 512 bytes, a quoted status line at
-- 80), so an echo can stop in the middle of the key; proxies re-case and
-- re-encode what they quote.  (Keys shorter than 8 bytes are test keys;
-- redacting them would shred ordinary words.)  The core does it
-- (csrc/core/redact.c, linear in #s); `s` itself comes back when there is no
-- echo, or when s or secret is not a string.  `secret` may be an array of
-- secrets (an API key, proxy credentials, a webhook secret: up to 16),
-- all looked for in the same single pass.
errors.redact = core.redact
redact = errors.redact

-- The same for a JSON text, inside its string literals only: what was
-- valid JSON stays valid JSON whatever the key (kombo-attach --json).
errors.redact_json = core.redact_json

-- "Name: value" lines into { ["lower-case-name"] = "value" } by the core's
-- one header parser; repeated headers are joined with ", " (RFC 9110).
errors.parse_headers = core.parse_headers

local function problems_message(problems)
  local lines = {}
  for i, p in ipairs(problems) do lines[i] = p.path .. " " .. p.message end
  if problems.dropped then lines[#lines + 1] = ("(and %d more)"):format(problems.dropped) end
  return "invalid request: " .. table.concat(lines, "; ")
end

function errors.validation(problems, secret)
  -- The path too: a key of the caller's table is part of it (an unknown
  -- member named like the key must not carry the key out).
  for _, p in ipairs(problems) do p.path, p.message = redact(p.path, secret), redact(p.message, secret) end
  return setmetatable({
    kind = "validation", outcome = "not_sent", attempts = 0,
    message = redact(problems_message(problems), secret), problems = problems,
  }, Error)
end

-- A refused webhook delivery (kombo.verify_webhook): `code` for programs
-- ("signature_mismatch", "body_json", ...), `message` for people; neither
-- holds the secret, the expected signature or the body.
function errors.webhook(code, message)
  return setmetatable({ kind = "webhook", code = code, message = message }, Error)
end

-- Kombo's limits as the answer announced them, from a raw header block:
-- { concurrency_limit =, concurrency_remaining =, rate_limit =,
-- rate_remaining =, rate_reset = }, integers, a field left out when its
-- header is absent, not digits, above 2^31-1 or repeated with different
-- values.  The core's one reading (kombo_parse_limits, the rule in
-- kombo.h), the same the bulk scheduler's call:limits() uses.  Read from the
-- block as received: a number cannot echo the key.
errors.limits = core.limits

-- The positive response keeps exactly the API's fields; what we know about
-- the exchange is reachable as res.http, through the result's metatable,
-- so that encoding `res` gives back the API's answer unchanged.  That
-- metatable is shared by the results of a client (core.success_metatable
-- of its __index below), and each result's header block waits in
-- core.success_store (weak keys: the result): a userdata with the
-- exchange's status, attempts and elapsed time beside the header bytes
-- (core.header_block_read reads them).  res.http is built from it on first
-- use, and then takes its place in the store (its headers on first use of
-- them): most callers never look, and tables made per call for nobody cost
-- a small call more than reading its answer.  The header bytes are
-- redacted only when parsed; the key needed for that is an upvalue of
-- __index, one function per key, so nothing that walks res or its
-- metatable can print either.
local STORE = core.success_store

local function http_index(http, k, raw_headers, secret)
  if k == "headers" then
    local h = errors.parse_headers(redact(raw_headers, secret))
    rawset(http, "headers", h)
    return h
  elseif k == "limits" then
    local l = errors.limits(raw_headers)
    rawset(http, "limits", l)
    return l
  end
end

local INDEX_FOR = setmetatable({}, { __mode = "v" }) -- by key (false: none)

local function success_index(secret)
  local slot = secret == nil and false or secret
  local index = INDEX_FOR[slot]
  if index == nil then
    index = function(res, k)
      if k ~= "http" then return nil end
      local http = STORE[res]
      if type(http) == "userdata" then
        local raw_headers, status, attempts, elapsed = core.header_block_read(http)
        http = setmetatable({ status = status, attempts = attempts, elapsed = elapsed },
          { __index = function(t, key) return http_index(t, key, raw_headers, secret) end })
        STORE[res] = http
      end
      return http
    end
    INDEX_FOR[slot] = index
  end
  return index
end

-- (call:perform(index), call:result(index) and client:run dress a success
-- the same way in C, kombo/call.lua; success() below is for the others:
-- calls with hooks, a hook's failure)
errors.success_index = success_index

-- `decoded` is already redacted: the core redacts its strings as it builds them.
local function success(raw, decoded, secret)
  STORE[decoded] = raw.header_block
  return setmetatable(decoded, core.success_metatable(success_index(secret)))
end

-- Kombo's answer to creating an application that the ATS already holds
-- (the same candidate for the same job): not a failure to retry but a
-- state to look up.  err.already_exists is true exactly then (an `api`
-- error, with Kombo's code).
errors.ALREADY_EXISTS = "ATS.APPLICATION_ALREADY_EXISTS"

--- Turns the core's plain result table into `res` or `nil, err`.
function errors.from_result(raw, secret)
  if raw.kind == "ok" then return success(raw, raw.decoded, secret) end
  local err = {
    kind = raw.kind, outcome = raw.outcome, message = redact(raw.message, secret),
    status = raw.status, code = redact(raw.code, secret), title = redact(raw.title, secret),
    log_url = redact(raw.log_url, secret),
    retry_after = raw.retry_after, attempts = raw.attempts, elapsed = raw.elapsed,
    written_at = raw.written_at, body = redact(raw.body, secret),
    headers = raw.headers and errors.parse_headers(redact(raw.headers, secret)) or nil,
  }
  if err.body == "" then err.body = nil end
  err.limits = errors.limits(raw.headers)
  if err.kind == "api" and err.code == errors.ALREADY_EXISTS then err.already_exists = true end
  facts[err] = { retryable = raw.retryable, write = raw.write }
  return nil, setmetatable(err, Error)
end

-- What a hook's failure (lua/kombo/trace.lua: { hook =, cause =, attempt =,
-- returned = }) makes of the call's result `raw` (which still holds the
-- last attempt that was made): `nil, err` with kind "hook", `err.hook` the
-- hook's name, `err.cause` the value raised, and the outcome of what was
-- sent: a write that went out stays may-have-landed, and one that
-- succeeded leaves Kombo's answer in `err.result`.  Not retryable: a
-- hook's bug does not go away by waiting.
function errors.hook_failure(raw, failure, secret)
  local cause = failure.cause
  local said = redact(type(cause) == "string" and cause or tostring(cause), secret)
  local head = failure.returned and ("the %s hook failed: %s"):format(failure.hook, said)
    or ("the %s hook raised: %s"):format(failure.hook, said)
  local err, res, write
  if raw.kind == "ok" then
    res = errors.from_result(raw, secret)
    write = failure.write
    err = { outcome = write and "unknown" or "rejected", status = raw.status, attempts = raw.attempts,
      elapsed = raw.elapsed, written_at = raw.written_at, result = res, limits = res.http.limits,
      message = head .. "; the request was carried out before it" .. (write
        and " (err.result holds Kombo's answer): do not send it again" or " (err.result holds the answer)") }
  else
    local _, e = errors.from_result(raw, secret)
    err, write = e, facts[e].write
    if failure.hook == "before_request" and failure.attempt == 1 then
      err.message = head .. "; nothing was sent"
    else
      err.message = head .. "; the last attempt's answer: " .. e.message
    end
  end
  -- a message raised by the hook may quote what it saw: redacted like ours
  err.kind, err.hook, err.cause = "hook", failure.hook, type(cause) == "string" and redact(cause, secret) or cause
  facts[err] = { retryable = false, write = write }
  return nil, setmetatable(err, Error)
end

--- A copy of an error (one given to several callers, e.g. a failed fetch
-- of cached restrictions) that its methods still answer for.
function errors.copy(err)
  local c = {}
  for k, v in pairs(err) do c[k] = v end
  facts[c] = facts[err]
  return setmetatable(c, getmetatable(err))
end

-- A `decode` error for a positive answer that the core accepted but that
-- cannot be used as it stands (a list's page whose data.next goes round,
-- lua/kombo/lists.lua): the exchange's status, attempts and elapsed time
-- from res.http.  `message` is ours: it holds nothing of the answer.
function errors.broken_answer(res, message)
  local http = res.http
  return setmetatable({
    kind = "decode", outcome = "unknown", message = message, status = http.status,
    attempts = http.attempts, elapsed = http.elapsed, limits = http.limits,
  }, Error)
end

return errors
