-- luacheck configuration: `make luacheck` runs `luacheck lua spec examples bench tools bin/kombo-attach`.
-- The library runs on Lua 5.1 (and LuaJIT), 5.3 and 5.4: "max" knows the
-- globals of all of them (and LuaJIT's), so version-guarded code
-- (math.tointeger or ..., unpack or table.unpack, jit) passes, and a global
-- that no version has fails.
std = "max"
max_line_length = 120
exclude_files = { "node_modules/", "build/", ".tmp/" }

-- The LuaLS definitions file: stubs whose arguments are only documented.
files["lua/kombo/types.lua"] = { unused_args = false, ignore = { "241" } } -- 241: Client is only annotated
-- Generated (tools/generate.lua): data and definitions, lines as long as an enum.
files["lua/kombo/gen/operations.lua"] = { max_line_length = false }
files["lua/kombo/gen/types.lua"] = { unused_args = false, max_line_length = false, ignore = { "241" } }
files["lua/kombo/gen/webhook_types.lua"] = { max_line_length = false }
files["lua/kombo/gen/webhook_events.lua"] = { max_line_length = false }

-- nginx-side code: lua-nginx-module's API (ngx.*, ndk).
files["lua/kombo/cosocket.lua"] = { std = "max+ngx_lua" }
files["examples/openresty/*.lua"] = { std = "max+ngx_lua" }
files["examples/webhooks/*.lua"] = { std = "max+ngx_lua" }
files["bench/cosocket_front.lua"] = { std = "max+ngx_lua" }

-- The specs and their helpers: busted's globals (describe, it, assert, ...).
-- Expected messages and request tables are kept on one line each.
files["spec/**/*.lua"] = { std = "max+busted", max_line_length = false }
files["spec/nginx/app.lua"] = { std = "max+ngx_lua+busted" }
files["spec/nginx/webhook_app.lua"] = { std = "max+ngx_lua+busted" }
files["spec/standin/*.lua"] = { std = "max+ngx_lua+busted" }
-- Helpers that stub os.getenv for one function (and restore it), and the
-- stand-alone bad server's 5.1 shim.
files["spec/support/servers.lua"] = { globals = { "os.getenv" } }
files["spec/unit/helpers.lua"] = { globals = { "os.getenv" } }
files["spec/support/badserver.lua"] = { globals = { "table.unpack" } }
