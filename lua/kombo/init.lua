--- kombo-lua: upload candidate documents to Kombo's unified ATS API.
--
-- Everything public is on this module table: @{new} and the default client,
-- one client method and one module function per API operation (made in a
-- loop from the C core's operation table, `csrc/gen/operations.c`), and a few
-- helpers.  Results follow LuaSocket's habit: a @{Result} `res` on success,
-- `nil, err` on failure, where `err` is an @{Error} table.  Misusing the
-- API's shape (a number where a table belongs) raises, like luaL_argerror.
--
-- The same surface, as LuaLS editor types (`kombo.ClientOptions`,
-- `kombo.Client`, `kombo.Error`, ...), is in `lua/kombo/types.lua`; README.md
-- says how to point an editor at it.  The tables below (@{ClientOptions},
-- @{Result}, @{Error}, ...) are the classes of that file, without `kombo.`.
-- @module kombo
-- @usage
-- local kombo = require "kombo"
-- local client = kombo.new{ api_key = os.getenv("KOMBO_API_KEY") }
-- local res, err = client:attach_to_candidate{
--   integration_id = "workday:abc", candidate_id = "cand-1",
--   body = { attachment = { file = "/srv/uploads/cv.pdf", type = "CV" } },
-- }
-- if not res then error(tostring(err)) end
-- print(res.data.id, res.http.attempts)

-- This file assembles the module; the code lives by concern in
-- lua/kombo/client.lua (options, `Client`), call.lua (one operation call:
-- prepare, preflight, send), preflight.lua (the restrictions cache and
-- checks), uploads.lua (the upload helpers), request_body.lua and webhook.lua; the
-- reference prose of the calls and tables in doc/calls.luadoc and
-- doc/reference.luadoc.
local core = require "kombo.core"
local cjson = require "cjson.safe"
local errors = require "kombo.errors"
local client = require "kombo.client"             -- the options, Client, new
local call = require "kombo.call"                 -- one call of an operation: prepare, preflight, send
local uploads = require "kombo.uploads"           -- the Client methods beyond the operations'
local batch = require "kombo.batch"               -- run_many
local nginx = require "kombo.nginx"               -- loader: a module loaded at its first use outside nginx

local kombo = {
  VERSION = core.version,
  null = cjson.null,
  -- lua-cjson before 2.1.0.x has no empty_array: the core supplies one.
  empty_array = cjson.empty_array or core.empty_array,
  SERVERS = client.SERVERS, -- { eu = ..., us = ... }: the `server` option's URLs
  -- What this build can do, for code that must work with older releases too.
  features = { file = true, bytes = true, source = true, on_progress = true },
}

-- The module's fields (set in the `kombo` table above).

--- This release, as a string such as `"0.1.0"` (the C core's version).
-- @field VERSION

--- JSON `null` for `body` (lua-cjson's `cjson.null`); results hold it too.
-- @field null

--- An empty JSON array (`[]`) for `body`: lua-cjson's `empty_array`, or the
-- core's own where lua-cjson has none.
-- @field empty_array

--- The `server` option's URLs:
-- `{ eu = "https://api.kombo.dev/v1", us = "https://api.us.kombo.dev/v1" }`.
-- @field SERVERS

--- What this build supports, for code that must work with older releases:
-- `{ file = true, bytes = true, source = true, on_progress = true }`.
-- @field features

-- Arrays decoded from an answer carry this metatable: OpenResty's cjson
-- then writes an empty one back as [], and so does our own JSON writer.
local ARRAY_MT = cjson.array_mt or { __name = "kombo.array" }
core.set_sentinels(kombo.null, kombo.empty_array, ARRAY_MT)

local Client = client.Client

-- The module functions below build the default client on first use: a
-- misuse error raised then points past this file too, at their caller.
client.skip_frames_of(debug.getinfo(1, "S").source)

-- -------------------------------------------------------------- clients

kombo.new = client.new -- (its reference is in lua/kombo/client.lua)

local default_client

--- The default client (the one the module functions use), built from the
-- environment on first use; @{configure} replaces it.
-- @treturn Client
-- @raise when the environment holds a bad option (a malformed `KOMBO_API_KEY`, ...) or no key
-- (neither `kombo.configure{ api_key = }` nor `KOMBO_API_KEY`), naming the variable
function kombo.default_client()
  if not default_client then default_client = client.create(nil, "default_client") end
  return default_client
end

--- Replaces the default client (the one the module functions use).  It
-- takes the options of @{new}, over the environment (not over an earlier
-- `configure`); the client it returned before is closed, so a later call on
-- that one raises.
-- @tparam[opt] ClientOptions opts the options
-- @treturn Client the new default client
-- @raise a bad option, naming it
-- @usage kombo.configure{ integration_id = "workday:HWUTwvyx2wLoSUHphiWVrp28", preflight = true }
function kombo.configure(opts)
  local new = client.create(opts, "configure")
  if default_client then default_client:close() end
  default_client = new
  return default_client
end

-- -------------------------------------------------------------- operations

-- One client method and one module function (on the default client) per
-- operation, made by the loop below from core.operations (csrc/gen/operations.c);
-- their reference is doc/calls.luadoc, one block per name.  They call
-- call_operation() without a tail call, so that every error raised for
-- misuse (at a fixed stack level) names the caller's line.
local call_operation = call.call_operation

-- Outside nginx, a method first asks the core to make the common call
-- (csrc/lua/lua_method.c: no options, nothing observing the client, over
-- libcurl), which it does without call.lua's Lua frames; false: not made
-- there, and what it read of the arguments for call_operation.
local fast_of, private, NEEDS, refused = core.method, client.private, call.NEEDS, call.refused
local OUTSIDE_NGINX = call.OUTSIDE_NGINX
for _, op in ipairs(core.operations) do
  local name = op.name
  if OUTSIDE_NGINX then
    local fast = fast_of(op.index, NEEDS[op], private, name, refused, errors.from_result)
    Client[name] = function(self, args, opts)
      local res, err, aliased, wanted = fast(self, args, opts)
      if res ~= false then return res, err end
      res, err = call_operation(self, op, args, name, opts, aliased, wanted)
      return res, err
    end
    kombo[name] = function(args, opts)
      local self = kombo.default_client()
      local res, err, aliased, wanted = fast(self, args, opts)
      if res ~= false then return res, err end
      res, err = call_operation(self, op, args, name, opts, aliased, wanted)
      return res, err
    end
  else
    Client[name], kombo[name] = call.lua_methods(op, kombo.default_client)
  end
end

-- -------------------------------------------------------------- lists

-- Client:pages and Client:each (lua/kombo/lists.lua, their reference), and
-- their module functions; each a wrapper of the same depth, so that a
-- misuse names the caller's line.  Outside nginx lists.lua is loaded by the
-- first of them: a program that pages through no list never parses it.
-- Inside nginx it is loaded now, as before (by init_by_lua, before the
-- workers fork), not by a request.
local lists_module = nginx.loader "kombo.lists"

function Client:pages(name, args)
  local iterator = lists_module().pages(self, name, args, "pages")
  return iterator
end

function Client:each(name, args)
  local iterator = lists_module().each(self, name, args, "each")
  return iterator
end

--- Calls @{Client:pages} on the @{default_client}.
-- @tparam string name a list: `"get_jobs"`, `"get_candidates"`, ...
-- @tparam[opt] table args the operation's arguments (filters, `page_size`, `cursor`)
-- @treturn func the iterator: each page, or `false, err` at the end
-- @usage for page, err in kombo.pages("get_jobs", { statuses = { "OPEN" } }) do ... end
function kombo.pages(name, args)
  local iterator = lists_module().pages(kombo.default_client(), name, args, "pages")
  return iterator
end

--- Calls @{Client:each} on the @{default_client}.
-- @tparam string name a list: `"get_jobs"`, `"get_candidates"`, ...
-- @tparam[opt] table args the operation's arguments (filters, `page_size`, `cursor`)
-- @treturn func the iterator: each record, or `false, err` at the end
-- @usage for job, err in kombo.each("get_jobs", { updated_after = since }) do ... end
function kombo.each(name, args)
  local iterator = lists_module().each(kombo.default_client(), name, args, "each")
  return iterator
end

-- -------------------------------------------------------------- upload helpers

-- The client's methods beyond the operations' (lua/kombo/uploads.lua).
Client.attachment_restrictions = uploads.attachment_restrictions
Client.attachment_exists = uploads.attachment_exists
Client.validate_upload = uploads.validate_upload
Client.attach_many = uploads.attach_many
Client.run_many = batch.run_many

-- Module-level forms on the default client.

--- Calls @{Client:attachment_restrictions} on the @{default_client}.
-- @tparam string target `"candidate"` or `"application"`
-- @tparam[opt] RestrictionsArgs opts `{ integration_id = }`
-- @treturn[1] Result `res`; `res.data` is the @{RestrictionsData}
-- @return[2] nil
-- @treturn[2] Error `err`
function kombo.attachment_restrictions(target, opts)
  local res, err = kombo.default_client():attachment_restrictions(target, opts)
  return res, err
end

--- Calls @{Client:attachment_exists} on the @{default_client}.
-- @tparam AttachToCandidateArgs|AttachToApplicationArgs args exactly as for the upload
-- @tparam[opt] table opts `{ since = err.written_at }`
-- @treturn[1] boolean whether the listing proves the upload is there
-- @treturn[1] table|string the listed attachment, or why it proves nothing
-- @return[2] nil
-- @treturn[2] Error `err`
function kombo.attachment_exists(args, opts)
  local found, what = kombo.default_client():attachment_exists(args, opts)
  return found, what
end

--- Calls @{Client:attach_many} on the @{default_client}.
-- @tparam {AttachToCandidateArgs|AttachToApplicationArgs,...}|func jobs the jobs
-- @tparam[opt] BulkOptions opts the options
-- @treturn BulkSummary the summary
-- @usage local summary = kombo.attach_many(jobs, { concurrency = 16 })
function kombo.attach_many(jobs, opts)
  return kombo.default_client():attach_many(jobs, opts)
end

--- Calls @{Client:run_many} on the @{default_client}.
-- @tparam string name the operation, as its method is named
-- @tparam {table,...}|func jobs the argument tables, or an iterator of them
-- @tparam[opt] BulkOptions opts the options
-- @treturn BulkSummary the summary
-- @usage local summary = kombo.run_many("add_candidate_tag", jobs, { concurrency = 8 })
function kombo.run_many(name, jobs, opts)
  return kombo.default_client():run_many(name, jobs, opts)
end

--- Whether a value is an error object returned by a call (`nil, err`).
-- @function is_error
-- @param v any value
-- @treturn boolean `true` for an @{Error}, else `false`
-- @usage if kombo.is_error(err) and err.kind == "api" then print(err.code) end
kombo.is_error = errors.is_error

--- Standard padded base64 of raw bytes, encoded in C (for `attachment.data`).
-- @function base64
-- @tparam string bytes the raw bytes
-- @treturn string the base64 text
-- @usage body = { attachment = { name = "cv.pdf", type = "CV", data = kombo.base64(pdf),
--                                content_type = "application/pdf" } }
kombo.base64 = core.base64_encode

--- JSON text of a value: a @{Result} re-encodes as the same JSON value as
-- the answer it came from (empty arrays as `[]`, integers as integers,
-- `kombo.null` as `null`), also where lua-cjson cannot.
--
-- Not byte-exact: Lua tables have no key order, so an object's keys come
-- in `pairs` order, not Kombo's, and that order may differ from one run (or
-- one Lua) to the next.  Compare decoded values, not the texts.
-- @function encode_json
-- @param value a table, string, number, boolean, @{null} or @{empty_array}
-- @treturn[1] string the JSON text
-- @return[2] nil
-- @treturn[2] string a message naming the value that cannot be JSON
-- @usage print(kombo.encode_json(res))   --> {"status":"success","data":{...},"warnings":[]}
kombo.encode_json = core.encode_json

-- request_body_source (OpenResty; its reference is in
-- lua/kombo/request_body.lua, loaded outside nginx by its first call, inside
-- nginx now).  Not a tail call (Lua 5.1: misuse names the caller's line).
local request_body_module = nginx.loader "kombo.request_body"

function kombo.request_body_source(opts)
  local source, size = request_body_module().request_body_source(opts)
  return source, size -- (two values, as request_body_source always returns)
end

-- Webhooks (their reference is in lua/kombo/webhook.lua, loaded outside
-- nginx by the first of these functions: a program that handles no webhook
-- never parses it; inside nginx now, as lists.lua).  Not tail calls: Lua 5.1
-- shows one as a "(tail call)" frame, where a misuse error looks for the
-- caller's line (this file's frames are skipped).
local webhook_module = nginx.loader "kombo.webhook"

function kombo.verify_webhook(raw_body, signature, secret)
  local event, err = webhook_module().verify_webhook(raw_body, signature, secret)
  if event == nil then return nil, err end
  return event -- (one value, as verify_webhook itself returns a verified event)
end

function kombo.webhook_handler(opts)
  local handler = webhook_module().webhook_handler(opts)
  return handler
end

kombo.WEBHOOK_EVENTS = require "kombo.event_types"

return kombo
