--- kombo: the command line (bin/kombo runs `run(arg)` and exits with what
-- it returns).  One command, subcommands in the manner of `gh` and
-- `stripe`: `attach` (kombo-attach, kept as its alias), `call` (any
-- operation by name, like `gh api`), `check` (the key and an integration).
-- The operations' help is made from the generated operation table
-- (lua/kombo/gen/operations.lua), so it lists what the library can call.
-- README "The kombo command".
local kombo = require "kombo"
local cjson = require "cjson.safe"
local gen = require "kombo.gen.operations"
local attach = require "kombo.cli.main"
local apply = require "kombo.cli.apply"
local bulk = require "kombo.bulk" -- did_you_mean
local common = require "kombo.cli.common" -- the option parser, the printer, env
local core_isatty = require("kombo.core").isatty

local M = {}

local format, concat = string.format, table.concat

-- 0 done, 1 the call or some rows failed, 2 usage (or a bad argument,
-- manifest or journal), 130 after a signal: kombo-attach's codes.
M.EXIT = attach.EXIT

local OPERATIONS = gen.operations
local NAMES = {}
for name in pairs(OPERATIONS) do NAMES[#NAMES + 1] = name end
table.sort(NAMES)

local USAGE = [[
Usage: kombo COMMAND [options]

Commands:
  apply MANIFEST        create an application, with its CV, per manifest row
  attach MANIFEST       upload a manifest's rows as attachments (kombo-attach)
  call OPERATION        call any operation by name (kombo call --help lists them)
  check                 check the API key, and an integration with --integration-id
  get LIST              read a list (jobs, candidates, ...) as JSON, JSON Lines, CSV or a table

Every command takes --help.  The API key comes from $KOMBO_API_KEY, the
server from --server-url or $KOMBO_SERVER_URL (default Kombo's EU API), the
integration from --integration-id or $KOMBO_INTEGRATION_ID.  Exit status:
0 done, 1 the call (or some rows) failed, 2 a usage or input error, 130
after a signal.
]]

local CALL_USAGE = [[
Usage: kombo call OPERATION [--arg NAME=VALUE ...] [--body FILE|-] [options]

Calls one operation of Kombo's API by its name in kombo-lua (the method
name, e.g. get_jobs, create_application) and prints Kombo's answer as JSON
on standard output.  --arg gives a path or query parameter (repeat it);
--body the request body as JSON from FILE or standard input (a file object
may name a local "file" to stream).  Arguments are validated as the library
validates them: a bad one is reported and nothing is sent.

Options:
  --arg NAME=VALUE      a path or query parameter (a number where the
                        description says integer; a list as a,b,c)
  --body FILE|-         the request body (JSON)
  --integration-id ID   X-Integration-Id (default $KOMBO_INTEGRATION_ID)
  --server-url URL      Kombo's API (default $KOMBO_SERVER_URL)
  --timeout SECONDS     the longest one attempt may take (default 60)
  --help                this text; with OPERATION, that operation's parameters

Operations:
]]

local CHECK_USAGE = [[
Usage: kombo check [--integration-id ID] [--json] [options]

Checks the API key (GET /check-api-key) and, with an integration, what it
accepts: the attachment restrictions for candidates and applications and
the restrictions of create_application.  Exit status 0 when every check
answered, 1 when one failed (the reason on standard error).

Options:
  --integration-id ID   the integration to check (default $KOMBO_INTEGRATION_ID)
  --server-url URL      Kombo's API (default $KOMBO_SERVER_URL)
  --json                the answers as one JSON document
  --help
]]

local printer, env, parse = common.printer, common.env, common.parse

local function new_client(opts)
  local key = env("KOMBO_API_KEY")
  if not key then return nil, "no API key: set KOMBO_API_KEY to your Kombo API key" end
  local timeout = opts.timeout and tonumber(opts.timeout)
  if opts.timeout and not (timeout and timeout > 0 and timeout <= 86400) then
    return nil, "option '--timeout' must be a number of seconds above 0 (at most 86400)"
  end
  return common.client({
    api_key = key, server_url = opts["server-url"], integration_id = opts["integration-id"], timeout = timeout,
  }, opts)
end

---------------------------------------------------------------- help

-- One line per operation: name, method and path.
local function operation_list()
  local lines = {}
  for _, name in ipairs(NAMES) do
    local op = OPERATIONS[name]
    lines[#lines + 1] = format("  %-36s %-6s %s", name, op.method, op.path)
  end
  return concat(lines, "\n") .. "\n"
end

-- What an operation takes, from the generated table.
local function operation_help(name)
  local op = OPERATIONS[name]
  local out = { format("kombo call %s: %s %s", name, op.method, op.path) }
  if #op.params > 0 then
    out[#out + 1] = "\nPath parameters (--arg NAME=VALUE, required):"
    for _, p in ipairs(op.params) do out[#out + 1] = "  " .. p end
  end
  if #op.query > 0 then
    out[#out + 1] = "\nQuery parameters (--arg NAME=VALUE):"
    for _, q in ipairs(op.query) do
      local what = concat(q.types or {}, " or ")
      if q.enum then what = what .. ": " .. concat(q.enum, ", ") end
      out[#out + 1] = format("  %-28s %s%s", q.name, what, q.required and " (required)" or "")
    end
  end
  if op.body then
    out[#out + 1] = format("\nBody (--body FILE, a JSON object%s): %s", op.body_required and ", required" or "",
      concat(op.body, ", "))
  end
  out[#out + 1] = "\nX-Integration-Id: " .. (op.integration_scoped and "required (--integration-id)" or "not sent")
  out[#out + 1] = "Kombo's reference: " .. op.doc_url
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------- call

-- --arg NAME=VALUE as the library takes it: a number where the description
-- says integer or number (else the string, which validation then names).
local function arg_value(op, name, text)
  for _, q in ipairs(op.query) do
    if q.name == name then
      for _, t in ipairs(q.types or {}) do
        if (t == "integer" or t == "number") and tonumber(text) then return tonumber(text) end
      end
    end
  end
  return text
end

local function read_body(path)
  local f, text
  if path == "-" then
    text = io.stdin:read("*a")
  else
    f = io.open(path, "rb")
    if not f then return nil, format("--body %s: cannot be read", path) end
    text = f:read("*a")
    f:close()
  end
  local v, err = cjson.decode(text or "")
  if type(v) ~= "table" then
    return nil, format("--body %s: not a JSON object (%s)", path, err or "a " .. type(v))
  end
  return v
end

-- A usage error of subcommand `name`: the message and where help is, on
-- stderr; exit 2.
local function usage_error(put, stderr, name)
  return function(msg)
    put(stderr, format("kombo %s: %s\nTry 'kombo %s --help'.\n", name, msg, name))
    return M.EXIT.usage
  end
end

-- A failed call on stderr (a validation error's problems one a line); its
-- exit status: 2 for arguments that do not validate (nothing was sent), 1
-- for the rest.
local function call_failed(put, stderr, name, err)
  put(stderr, format("kombo %s: %s\n", name, tostring(err)))
  if err.kind == "validation" then
    for _, p in ipairs(err.problems or {}) do put(stderr, format("  %s %s\n", p.path, p.message)) end
    return M.EXIT.usage
  end
  return M.EXIT.failed
end

local function cmd_call(argv, streams, put)
  local stdout, stderr = streams.stdout, streams.stderr
  local usage = usage_error(put, stderr, "call")
  local opts, pos = parse(argv, { arg = "many", body = true, ["integration-id"] = true, ["server-url"] = true,
                                  timeout = true, help = false })
  if not opts then return usage(pos) end
  local name = pos[1]
  if opts.help then
    if name and OPERATIONS[name] then put(stdout, operation_help(name)) return M.EXIT.ok end
    put(stdout, CALL_USAGE .. operation_list())
    return M.EXIT.ok
  end
  if not name then return usage("which operation? (kombo call --help lists them)") end
  if #pos > 1 then return usage(format("expected one OPERATION, got %d arguments", #pos)) end
  local op = OPERATIONS[name]
  if not op then
    return usage(format("unknown operation '%s'%s", name:gsub("[^%w_]", "?"), bulk.did_you_mean(name, OPERATIONS)))
  end
  local args = {}
  for _, kv in ipairs(opts.arg or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then return usage("--arg takes NAME=VALUE") end
    if args[k] ~= nil then return usage(format("--arg %s given twice", k)) end
    args[k] = arg_value(op, k, v)
  end
  if opts.body then
    if not op.body then return usage(format("%s takes no body", name)) end
    local body, berr = read_body(opts.body)
    if not body then return usage(berr) end
    args.body = body
  end
  local client, cerr = new_client(opts)
  if not client then return usage(cerr) end
  local ok, res, err = pcall(client[name], client, args)
  client:close()
  if not ok then return usage(tostring(res):gsub("^bad argument #1 to '[%w_]+' %((.*)%)$", "%1")) end
  if err then
    if err.body and err.kind == "api" then put(stdout, err.body:gsub("%s*$", "") .. "\n", true) end
    return call_failed(put, stderr, "call", err)
  end
  -- Kombo's envelope in its own order: status, data, warnings.
  local text = '{"status":' .. assert(kombo.encode_json(res.status))
    .. ',"data":' .. assert(kombo.encode_json(res.data))
  if res.warnings ~= nil then text = text .. ',"warnings":' .. assert(kombo.encode_json(res.warnings)) end
  put(stdout, text .. "}\n", true)
  return M.EXIT.ok
end

---------------------------------------------------------------- get

local GET_USAGE = [[
Usage: kombo get LIST [--FILTER VALUE ...] [--all] [--format FORMAT] [options]

Reads one of Kombo's lists (below) page by page and writes its records to
standard output: the first page, or with --all every page (following
data.next, the filters sent again with every page, as Kombo requires).
Filters are the list's query parameters, as --name VALUE (--updated-after
or --updated_after; a list as a,b,c), validated as the library validates
them.  Records stream: memory does not grow with the number of pages.
Lists are served from Kombo's synced copy of the ATS: a write shows up
after the next sync.

Options:
  --all                 every page, not just the first
  --format FORMAT       json (an array, the default), jsonl (a record per
                        line), csv (a header of the record's fields, nested
                        ones flattened with dots, arrays as JSON) or table
  --page-size N         records per page (default the largest Kombo allows)
  --integration-id ID   X-Integration-Id (default $KOMBO_INTEGRATION_ID)
  --server-url URL      Kombo's API (default $KOMBO_SERVER_URL)
  --quiet               no progress line on standard error
  --help                this text; with LIST, that list's filters

A progress line goes to standard error while pages come in when standard
output is not a terminal (a file, a pipe).  Exit status: 0 every page read,
1 a page failed (the records before it were written; the cursor to resume
from, --cursor, is on standard error), 2 a usage or filter error.

Lists:
]]

-- "jobs" -> "get_jobs", "application-stages" -> "get_application_stages".
local function list_op(word)
  local name = "get_" .. word:gsub("%-", "_")
  local op = OPERATIONS[name]
  if op and op.list then return name, op end
  if OPERATIONS[word] and OPERATIONS[word].list then return word, OPERATIONS[word] end
  return nil
end

local function list_names()
  local out = {}
  for _, name in ipairs(NAMES) do
    if OPERATIONS[name].list then out[#out + 1] = (name:gsub("^get_", ""):gsub("_", "-")) end
  end
  return out
end

-- The filters of a list as options: --name and --name-with-dashes.
local function filter_spec(op)
  local spec, by_option = {}, {}
  for _, q in ipairs(op.query) do
    local dashed = q.name:gsub("_", "-")
    spec[q.name], spec[dashed] = true, true
    by_option[q.name], by_option[dashed] = q.name, q.name
  end
  return spec, by_option
end

-- A record's columns, in order: `fields` of the generated table (the
-- description's record, nested objects flattened with dots).
local function flatten(record, fields)
  local row = {}
  for i, f in ipairs(fields) do
    local v = record
    for part in f:gmatch("[^.]+") do
      if type(v) ~= "table" or v == kombo.null then v = nil break end
      v = v[part]
    end
    if v == nil or v == kombo.null then row[i] = ""
    elseif type(v) == "table" then row[i] = assert(kombo.encode_json(v))
    else row[i] = tostring(v) end
  end
  return row
end

local function csv_cell(s)
  if s:find('[",\r\n]') or s:match("^%s") or s:match("%s$") then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function cmd_get(argv, streams, put)
  local stdout, stderr = streams.stdout, streams.stderr
  local usage = usage_error(put, stderr, "get")
  -- The list comes first: its filters are options.
  local word = argv[1]
  if word == nil or word:sub(1, 2) == "--" then
    for _, a in ipairs(argv) do
      if a == "--help" then
        put(stdout, GET_USAGE .. "  " .. concat(list_names(), "\n  ") .. "\n")
        return M.EXIT.ok
      end
    end
    return usage("which list? (kombo get --help lists them)")
  end
  local name, op = list_op(word)
  if not name then
    local known = {}
    for _, l in ipairs(list_names()) do known[l] = true end
    return usage(format("unknown list '%s'%s", word:gsub("[^%w_%-]", "?"), bulk.did_you_mean(word, known)))
  end
  local spec, by_option = filter_spec(op)
  for k, v in pairs { all = false, format = true, ["page-size"] = true, ["integration-id"] = true,
                      ["server-url"] = true, timeout = true, quiet = false, help = false } do
    spec[k] = v
  end
  local rest = {}
  for i = 2, #argv do rest[#rest + 1] = argv[i] end
  local opts, pos = parse(rest, spec)
  if not opts then return usage(pos) end
  if opts.help then
    put(stdout, operation_help(name):gsub("^kombo call " .. name, "kombo get " .. word)
      :gsub("%-%-arg NAME=VALUE", "--NAME VALUE"))
    return M.EXIT.ok
  end
  if #pos > 0 then return usage(format("one LIST, then options (got %d more arguments)", #pos)) end
  local fmt = opts.format or "json"
  if fmt ~= "json" and fmt ~= "jsonl" and fmt ~= "csv" and fmt ~= "table" then
    return usage("option '--format' must be json, jsonl, csv or table")
  end
  local args = {}
  for k, v in pairs(opts) do
    local q = by_option[k]
    if q then
      if args[q] ~= nil then return usage(format("--%s given twice", k)) end
      args[q] = arg_value(op, q, v)
    end
  end
  if opts["page-size"] then args.page_size = arg_value(op, "page_size", opts["page-size"]) end
  local client, cerr = new_client(opts)
  if not client then return usage(cerr) end

  local fields = op.fields or { "id" }
  local tty = core_isatty(1)
  local show_progress = not opts.quiet and not tty
  local first_record, records, pages = true, 0, 0
  local table_rows = fmt == "table" and {} or nil
  if fmt == "csv" then
    local head = {}
    for i, f in ipairs(fields) do head[i] = csv_cell(f) end
    put(stdout, concat(head, ",") .. "\n", true)
  elseif fmt == "json" then
    put(stdout, "[")
  end
  local function write(record)
    records = records + 1
    if fmt == "json" then
      put(stdout, (first_record and "\n" or ",\n") .. assert(kombo.encode_json(record)), true)
    elseif fmt == "jsonl" then
      put(stdout, assert(kombo.encode_json(record)) .. "\n", true)
    elseif fmt == "csv" then
      local row = flatten(record, fields)
      for i, c in ipairs(row) do row[i] = csv_cell(c) end
      put(stdout, concat(row, ",") .. "\n", true)
    else
      table_rows[#table_rows + 1] = flatten(record, fields)
    end
    first_record = false
  end

  local failed
  local ok, raised = pcall(function()
    for page, err in client:pages(name, args) do
      if not page then failed = err break end
      pages = pages + 1
      for _, record in ipairs(page.data.results) do write(record) end
      local more = page.data.next ~= kombo.null and page.data.next ~= nil
      page = nil -- luacheck: ignore 311
      -- A page is hundreds of KiB of decoded records: collected now, the
      -- peak stays that of one page however many follow.
      collectgarbage()
      if show_progress then
        put(stderr, format("kombo get %s: %d records, %d page(s)%s\n", word, records, pages,
          more and opts.all and " ..." or ""))
      end
      if not opts.all then break end
    end
  end)
  client:close()
  if fmt == "json" then put(stdout, (first_record and "]" or "\n]") .. "\n") end
  if fmt == "table" then
    -- a table needs every width first: it is for a terminal, not for 10,000 records
    local widths = {}
    for i, f in ipairs(fields) do widths[i] = math.min(#f, 40) end
    for _, r in ipairs(table_rows) do
      for i, c in ipairs(r) do widths[i] = math.min(math.max(widths[i], #c), 40) end
    end
    local function line(cells)
      local out = {}
      for i, c in ipairs(cells) do
        c = #c > 40 and c:sub(1, 39) .. "~" or c
        out[i] = c .. string.rep(" ", widths[i] - #c)
      end
      return (concat(out, "  "):gsub("%s+$", "")) .. "\n"
    end
    put(stdout, line(fields))
    for _, r in ipairs(table_rows) do put(stdout, line(r), true) end
  end
  if not ok then return usage(tostring(raised):gsub("^bad argument #%d to '[%w_]+' %((.*)%)$", "%1")) end
  if failed then
    local exit = call_failed(put, stderr, "get", failed)
    if failed.cursor then put(stderr, format("kombo get: resume with --cursor %s\n", failed.cursor)) end
    return exit
  end
  return M.EXIT.ok
end

---------------------------------------------------------------- check

local function cmd_check(argv, streams, put)
  local stdout, stderr = streams.stdout, streams.stderr
  local opts, pos = parse(argv, { ["integration-id"] = true, ["server-url"] = true, json = false, help = false,
                                  timeout = true })
  local usage = usage_error(put, stderr, "check")
  if not opts then return usage(pos) end
  if opts.help then put(stdout, CHECK_USAGE) return M.EXIT.ok end
  if #pos > 0 then return usage("takes no arguments") end
  opts["integration-id"] = opts["integration-id"] or env("KOMBO_INTEGRATION_ID")
  local client, cerr = new_client(opts)
  if not client then
    put(stderr, "kombo check: " .. cerr .. "\n")
    return M.EXIT.usage
  end
  local report, failed = {}, false
  local function step(label, fn)
    local res, err = fn()
    if err then
      failed = true
      report[label] = { error = { kind = err.kind, code = err.code, message = err.message, status = err.status,
                                  log_url = err.log_url } }
      if not opts.json then put(stderr, format("%-34s FAILED: %s\n", label, tostring(err))) end
      return nil
    end
    report[label] = res.data
    return res.data
  end
  local key = step("api_key", function() return client:check_api_key() end)
  if key and not opts.json then
    put(stdout, format("%-34s ok (environment %s, customer %s)\n", "api_key", tostring(key.environment_id),
      tostring(key.customer_id)))
  end
  local integ = opts["integration-id"]
  if key and integ then
    report.integration_id = integ
    if not opts.json then put(stdout, format("%-34s %s\n", "integration", integ)) end
    for _, c in ipairs {
      { "candidate_attachments", "candidate_attachment_restrictions" },
      { "application_attachments", "application_attachment_restrictions" },
      { "create_application", "create_application_restrictions" },
    } do
      local data = step(c[1], function() return client[c[2]](client, { integration_id = integ }) end)
      if data and not opts.json then
        put(stdout, format("%-34s %s\n", c[1], assert(kombo.encode_json(data))), true)
      end
    end
  end
  client:close()
  if opts.json then put(stdout, assert(kombo.encode_json(report)) .. "\n", true) end
  return failed and M.EXIT.failed or M.EXIT.ok
end

---------------------------------------------------------------- the command

local COMMANDS = {
  apply = function(argv, streams)
    return apply.run(argv, streams)
  end,
  attach = function(argv, streams)
    return attach.run(argv, streams)
  end,
  call = cmd_call,
  check = cmd_check,
  get = cmd_get,
}

--- Runs `kombo ARGV...`; returns the exit status.
-- @param argv the arguments after the program name
-- @param[opt] streams `{ stdout =, stderr = }` (for the specs)
function M.run(argv, streams)
  streams = { stdout = streams and streams.stdout or io.stdout, stderr = streams and streams.stderr or io.stderr }
  local put = printer(env("KOMBO_API_KEY"))
  local name = argv[1]
  if name == "--help" or name == "help" then
    if argv[2] and COMMANDS[argv[2]] then return M.run({ argv[2], "--help" }, streams) end
    put(streams.stdout, USAGE)
    return M.EXIT.ok
  end
  if name == "--version" then
    put(streams.stdout, "kombo (kombo-lua) " .. kombo.VERSION .. "\n")
    return M.EXIT.ok
  end
  if name == nil then
    put(streams.stderr, USAGE)
    return M.EXIT.usage
  end
  local cmd = COMMANDS[name]
  if not cmd then
    put(streams.stderr, format("kombo: unknown command '%s'%s\nTry 'kombo --help'.\n",
      name:gsub("[^%w%-_]", "?"), bulk.did_you_mean(name, COMMANDS)))
    return M.EXIT.usage
  end
  local rest = {}
  for i = 2, #argv do rest[#rest + 1] = argv[i] end
  return cmd(rest, streams, put)
end

M.USAGE, M.CALL_USAGE, M.CHECK_USAGE, M.GET_USAGE = USAGE, CALL_USAGE, CHECK_USAGE, GET_USAGE
M.operation_help = operation_help

return M
