-- The bad-input matrix, table-driven, against the local stand-in:
-- every field missing, of every wrong Lua type, empty, too long, invalid
-- UTF-8, with an embedded NUL, CR/LF in api_key / integration_id /
-- candidate_id; remote_fields that are cyclic, very deep, with non-string
-- keys or NaN/inf numbers.  Each is a validation error whose problems name
-- the path, and the stand-in receives nothing.  Ids full of '/ ? # % ..' and
-- non-ASCII are valid: they arrive percent-encoded as one path segment.
-- (spec/unit/validation_spec.lua checks the messages offline; this file
-- proves that nothing of a bad request ever reaches a server.)
local servers = require "support.servers"
local kombo = require "kombo"

local TAG = servers.unique("badinput"):gsub("[^%w%-]", "-") -- found in every request this file makes
local NUL, CR, LF = "\0", "\r", "\n"
local INVALID_UTF8 = { "\255\254", "abc\128", "\192\175", "\237\160\128" } -- bare bytes, overlong, surrogate
local WRONG_TYPES = { number = 42, boolean = true, table = { "x" }, ["function"] = function() end }

local function fresh_args()
  return {
    candidate_id = "cand-" .. TAG,
    body = { attachment = servers.attachment { name = TAG .. ".pdf" } },
  }
end

local function new_client(over)
  local opts = servers.merge({
    api_key = servers.API_KEY, server_url = servers.standin_url(), integration_id = "int-" .. TAG,
    timeout = servers.TIMEOUT, connect_timeout = 5, retries = false,
  }, over)
  return servers.with_env({}, function() return kombo.new(opts) end)
end

-- Setters: field name -> function(args, client_opts, value)
local SET = {
  candidate_id = function(a, _, v) a.candidate_id = v end,
  integration_id = function(a, _, v) a.integration_id = v end,
  api_key = function(_, o, v) o.api_key = v end,
  ["body.attachment.name"] = function(a, _, v) a.body.attachment.name = v end,
  ["body.attachment.type"] = function(a, _, v) a.body.attachment.type = v end,
  ["body.attachment.content_type"] = function(a, _, v) a.body.attachment.content_type = v end,
  ["body.attachment.data"] = function(a, _, v) a.body.attachment.data = v end,
  ["body.attachment.data_url"] = function(a, _, v)
    a.body.attachment.data = nil
    a.body.attachment.content_type = nil
    a.body.attachment.data_url = v
  end,
}

local CASES = {} -- { label, path (problem path or prefix), set = function(args, opts) }
local function add(label, path, set, opts)
  CASES[#CASES + 1] = { label = label, path = path, set = set, prefix = opts and opts.prefix,
                        raises = opts and opts.raises }
end
local function field_case(label, field, value, path, opts)
  add(label, path or field, function(a, o) SET[field](a, o, value) end, opts)
end

-- every field missing
add("candidate_id missing", "candidate_id", function(a) a.candidate_id = nil end)
add("integration_id missing (call and client)", "integration_id", function(_, o) o.integration_id = servers.NONE end)
add("api_key missing (option and environment)", "api_key", function(_, o) o.api_key = servers.NONE end)
add("body.attachment missing", "body.attachment", function(a) a.body.attachment = nil end)
for _, f in ipairs { "name", "type", "content_type" } do
  add("body.attachment." .. f .. " missing", "body.attachment." .. f,
    function(a) a.body.attachment[f] = nil end)
end
add("body.attachment data and data_url both missing", "body.attachment", function(a) a.body.attachment.data = nil end)

-- every wrong Lua type
for _, field in ipairs { "candidate_id", "integration_id", "body.attachment.name", "body.attachment.type",
                         "body.attachment.content_type", "body.attachment.data", "body.attachment.data_url" } do
  for tname, value in pairs(WRONG_TYPES) do
    field_case(("%s as a %s"):format(field, tname), field, value)
  end
end
for tname, value in pairs(WRONG_TYPES) do -- options are checked by kombo.new: misuse raises
  field_case("api_key as a " .. tname .. " (kombo.new raises)", "api_key", value, nil, { raises = true })
end

-- empty
for _, field in ipairs { "candidate_id", "integration_id", "api_key", "body.attachment.name",
                         "body.attachment.type", "body.attachment.content_type", "body.attachment.data_url" } do
  field_case(field .. " empty", field, "")
end

-- too long
field_case("name of 4097 bytes", "body.attachment.name", ("n"):rep(4097))
field_case("name of 64 KiB", "body.attachment.name", ("n"):rep(65536))
field_case("content_type of 8 KiB", "body.attachment.content_type", "application/" .. ("x"):rep(8192))

-- invalid UTF-8
for i, bad in ipairs(INVALID_UTF8) do
  for _, field in ipairs { "candidate_id", "integration_id", "body.attachment.name" } do
    field_case(("%s with invalid UTF-8 #%d"):format(field, i), field, "x" .. bad .. "y")
  end
end

-- embedded NUL
for _, field in ipairs { "candidate_id", "integration_id", "api_key", "body.attachment.name",
                         "body.attachment.type", "body.attachment.content_type", "body.attachment.data",
                         "body.attachment.data_url" } do
  local base = field == "body.attachment.data" and "JVBE" or field == "body.attachment.data_url"
    and "https://files.example.com/cv.pdf" or field == "body.attachment.type" and "CV" or "ab"
  field_case(field .. " with an embedded NUL", field, base .. NUL .. "cd")
end

-- CR/LF (header and path injection)
for _, field in ipairs { "api_key", "integration_id", "candidate_id" } do
  for label, bad in pairs { CR = CR, LF = LF, CRLF = CR .. LF } do
    field_case(("%s with %s"):format(field, label), field, "ok" .. bad .. "X-Evil: 1")
  end
end

-- dot segments (they would not stay one path segment)
field_case("candidate_id '..'", "candidate_id", "..")
field_case("candidate_id '.'", "candidate_id", ".")

-- remote_fields
local function rf(label, value, path)
  add("remote_fields: " .. label, path, function(a) a.body.remote_fields = value end, { prefix = true })
end
local cyclic = { name = "loop" }
cyclic.self = cyclic
rf("cyclic", { lever = cyclic }, "body.remote_fields.lever")
local root_cycle = {}
root_cycle.again = root_cycle
rf("cyclic through the root", root_cycle, "body.remote_fields")
local deep = {}
do
  local t = deep
  for _ = 1, 300 do t.a = {}; t = t.a end
end
rf("300 levels deep", deep, "body.remote_fields.a")
rf("a boolean key", { x = { [true] = 1 } }, "body.remote_fields.x")
rf("a table key", { x = { [{}] = 1 } }, "body.remote_fields.x")
rf("a float key", { x = { [1.5] = 1 } }, "body.remote_fields.x")
rf("a sparse array", { x = { [1] = "a", [3] = "c" } }, "body.remote_fields.x")
rf("NaN", { x = { n = 0 / 0 } }, "body.remote_fields.x.n")
rf("inf", { x = { n = math.huge } }, "body.remote_fields.x.n")
rf("-inf", { x = { n = -math.huge } }, "body.remote_fields.x.n")
rf("NaN in an array", { x = { 1, 0 / 0 } }, "body.remote_fields.x")
rf("a function value", { x = function() end }, "body.remote_fields.x")
rf("invalid UTF-8 value", { x = "a\255" }, "body.remote_fields.x")

-- Ids that are valid: percent-encoded, never changing the path.
local GOOD_IDS = {
  "a/b", "a?b=c", "a#frag", "100%", "%2F", "%2e%2e", "../x", "a/../b", "x/..", "/", "//", "?#%/",
  "...", "a b", "+&;=", "Ünïcødé ☃", "日本語/候補者", "\240\159\152\128",
}

-- Options are checked once, by kombo.new: a bad api_key raises there.
for _, case in ipairs(CASES) do
  if case.path == "api_key" then case.raises = true end
end

describe("bad-input matrix against the stand-in #integration #badinput", function()
  local function problem_paths(err)
    local list = {}
    for _, p in ipairs(err.problems or {}) do list[#list + 1] = p.path end
    return table.concat(list, ", ")
  end

  for _, case in ipairs(CASES) do
    it(case.label .. " -> " .. (case.raises and "raises" or ("validation at " .. case.path)), function()
      local args, opts = fresh_args(), {}
      case.set(args, opts)
      if case.raises then
        local ok, msg = pcall(new_client, opts)
        assert.is_false(ok)
        assert.truthy(tostring(msg):find("'" .. case.path .. "'", 1, true), tostring(msg))
        return
      end
      local client = new_client(opts)
      local res, err = client:attach_to_candidate(args)
      assert.is_nil(res, "accepted and sent")
      assert.is_true(kombo.is_error(err))
      assert.equals("validation", err.kind, tostring(err))
      assert.equals("not_sent", err.outcome)
      assert.equals(0, err.attempts)
      assert.is_table(err.problems)
      local hit = false
      for _, p in ipairs(err.problems) do
        if p.path == case.path or (case.prefix and p.path:sub(1, #case.path) == case.path) then hit = true end
        assert.is_string(p.message)
      end
      assert.is_true(hit, ("no problem at %s; got: %s"):format(case.path, problem_paths(err)))
      assert.truthy(err.message:find(case.path, 1, true), err.message)
      client:close()
    end)
  end

  it("after the whole matrix, the stand-in has received nothing from it", function()
    local mine = servers.requests(function(rec)
      -- body is JSON null for records over 2 MiB (the stand-in keeps no copy)
      local header = type(rec.raw_header) == "string" and rec.raw_header or ""
      local body = type(rec.body) == "string" and rec.body or ""
      return header:find(TAG, 1, true) ~= nil or body:find(TAG, 1, true) ~= nil
    end)
    assert.equals(0, #mine, "the stand-in received " .. #mine .. " bad request(s)")
  end)

  describe("ids full of '/ ? # % ..' and non-ASCII are valid and stay one path segment", function()
    for _, id in ipairs(GOOD_IDS) do
      it(("%q"):format(id), function()
        local client = new_client { integration_id = "good-" .. TAG }
        local integ = servers.unique("goodid")
        local res, err = client:attach_to_candidate {
          candidate_id = id, integration_id = integ, body = { attachment = servers.attachment() },
        }
        assert.is_nil(err, err and tostring(err))
        assert.equals(id, res.data.candidate_id)
        local recs = servers.requests(integ)
        assert.equals(1, #recs)
        local rec = recs[1]
        assert.equals("candidates", rec.route)
        assert.equals(id, rec.path_id)
        local segment = rec.uri:match("^/ats/candidates/(.-)/attachments$")
        assert.is_string(segment, rec.uri)
        assert.is_nil(segment:find("[/?#]"), "raw delimiter in the id segment: " .. rec.uri)
        assert.is_nil(segment:find("[^%w%-%._~%%]"), "unencoded byte in the id segment: " .. rec.uri)
        assert.is_true(rec.query == nil or rec.query == servers.cjson.null, "a query string arrived: " .. rec.uri)
        client:close()
      end)
    end

    it("an application id is encoded the same way", function()
      local client = new_client()
      local integ = servers.unique("goodapp")
      local res, err = client:attach_to_application {
        application_id = "app/../x?y#z", integration_id = integ, body = { attachment = servers.attachment() },
      }
      assert.is_nil(err, err and tostring(err))
      assert.equals("success", res.status)
      local rec = servers.requests(integ)[1]
      assert.equals("applications", rec.route)
      assert.equals("app/../x?y#z", rec.path_id)
    end)
  end)
end)
