--- What every `kombo` subcommand shares (kombo.lua's and the manifest
-- runs' of runner.lua): the option parser, the printer that keeps the API
-- key out of any output, and the environment.
local kombo = require "kombo"
local errors = require "kombo.errors"
local bulk = require "kombo.bulk" -- did_you_mean

local common = {}

local format = string.format

--- Parses `--name value`, `--name=value`, `--flag` and `--` (the rest are
-- arguments).  `spec[name]` says whether an option takes a value (true),
-- is a flag (false) or may repeat ("many": a list of values).  Values are
-- never echoed in errors: a key typed in the wrong place must not end up on
-- the screen.
-- @return opts, positional; or nil, message
function common.parse(argv, spec)
  local opts, positional, i = {}, {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positional[#positional + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local takes = spec[name]
      if takes == nil then
        return nil, format("unknown option '--%s'%s", name:gsub("[^%w%-]", "?"), bulk.did_you_mean(name, spec))
      end
      if takes then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, format("option '--%s' needs a value", name) end
        end
        if takes == "many" then
          opts[name] = opts[name] or {}
          opts[name][#opts[name] + 1] = value
        else
          opts[name] = value
        end
      else
        if value ~= nil then return nil, format("option '--%s' takes no value", name) end
        opts[name] = true
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option (options start with --; see --help)"
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  return opts, positional
end

--- Everything printed goes through the function this returns: no API key,
-- and no credentials of the environment's proxy (https_proxy, ...), in any
-- output, should one ever reach a message (the library redacts its errors
-- already).  A JSON text (`json` true) is redacted inside its strings
-- only, so that it stays valid JSON whatever the key.
function common.printer(key)
  local secrets = require("kombo.client").secrets_of { api_key = key }
  return function(stream, s, json)
    stream:write(((json and errors.redact_json or errors.redact)(s, secrets)))
  end
end

--- `kombo.new(config)`, or nil and what to tell the user: the library's
-- message for a bad option, without the Lua call around it, naming
-- --server-url or $KOMBO_SERVER_URL where the server URL came from.
function common.client(config, opts)
  local ok, client = pcall(kombo.new, config)
  if ok then return client end
  local msg = tostring(client):gsub("^.-bad argument #1 to 'new' %((.*)%)$", "%1")
  if msg:find("'api_key'", 1, true) then
    return nil, "no API key: set KOMBO_API_KEY to your Kombo API key"
  elseif msg:find("'server_url'", 1, true) then
    return nil, (opts["server-url"] and "--server-url " or "KOMBO_SERVER_URL ")
      .. (msg:gsub("^option 'server_url' ", ""))
  end
  return nil, msg
end

--- An environment variable, nil when unset or empty.
function common.env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

return common
