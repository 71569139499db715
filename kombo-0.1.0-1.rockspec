rockspec_format = "3.0"
package = "kombo"
version = "0.1.0-1"
source = {
   url = "git+https://github.com/kombo-lua/kombo-lua.git",
   tag = "v0.1.0",
}
description = {
   summary = "Upload candidate documents to Kombo's unified ATS API, with a C core",
   detailed = [[
kombo-lua adds attachments (CVs, cover letters) to candidates and applications
through Kombo's unified ATS API. A small C core validates the request, encodes
the body and drives libcurl; the same core runs over OpenResty cosockets.
]],
   homepage = "https://github.com/kombo-lua/kombo-lua",
   license = "MIT",
   labels = { "http", "ats", "kombo", "openresty" },
}
dependencies = {
   "lua >= 5.1, < 5.5",
   "lua-cjson >= 2.1.0",
}
-- libcurl's header sits in a multiarch directory on Debian (which LuaRocks'
-- header lookup does not search), so only the library is looked up; the C
-- compiler finds the header on its own default path.  OpenSSL's libcrypto
-- gives SHA-256 (EVP); openssl/evp.h is in /usr/include (Debian: libssl-dev).
external_dependencies = {
   CURL = { library = "curl" },
   OPENSSL = { header = "openssl/evp.h", library = "crypto" },
}
build = {
   type = "builtin",
   modules = {
      ["kombo"] = "lua/kombo/init.lua",
      -- What init.lua assembles: the options and Client, one operation call,
      -- the preflight checks, the upload helpers, request_body_source.
      ["kombo.client"] = "lua/kombo/client.lua",
      ["kombo.call"] = "lua/kombo/call.lua",
      ["kombo.preflight"] = "lua/kombo/preflight.lua",
      ["kombo.uploads"] = "lua/kombo/uploads.lua",
      ["kombo.lists"] = "lua/kombo/lists.lua",
      ["kombo.request_body"] = "lua/kombo/request_body.lua",
      ["kombo.errors"] = "lua/kombo/errors.lua",
      ["kombo.remote_fields"] = "lua/kombo/remote_fields.lua",
      ["kombo.nginx"] = "lua/kombo/nginx.lua",
      ["kombo.cosocket"] = "lua/kombo/cosocket.lua",
      ["kombo.trace"] = "lua/kombo/trace.lua",
      ["kombo.bulk"] = "lua/kombo/bulk.lua",
      ["kombo.batch"] = "lua/kombo/batch.lua",
      ["kombo.landed"] = "lua/kombo/landed.lua",
      ["kombo.webhook"] = "lua/kombo/webhook.lua",
      ["kombo.event_types"] = "lua/kombo/event_types.lua",
      -- The command line (bin/kombo, bin/kombo-attach): kombo-attach and kombo
      -- apply on one run (runner), manifest, journal, settle, report, progress.
      ["kombo.cli.main"] = "lua/kombo/cli/main.lua",
      ["kombo.cli.kombo"] = "lua/kombo/cli/kombo.lua",
      ["kombo.cli.common"] = "lua/kombo/cli/common.lua",
      ["kombo.cli.runner"] = "lua/kombo/cli/runner.lua",
      ["kombo.cli.apply"] = "lua/kombo/cli/apply.lua",
      ["kombo.cli.manifest"] = "lua/kombo/cli/manifest.lua",
      ["kombo.cli.journal"] = "lua/kombo/cli/journal.lua",
      ["kombo.cli.progress"] = "lua/kombo/cli/progress.lua",
      ["kombo.cli.settle"] = "lua/kombo/cli/settle.lua",
      ["kombo.cli.report"] = "lua/kombo/cli/report.lua",
      -- LuaLS editor types (a ---@meta file, never required at run time).
      ["kombo.types"] = "lua/kombo/types.lua",
      -- Generated from Kombo's description (tools/generate.lua, make generate):
      -- the operations as Lua data, the webhook event types, and their LuaLS
      -- types (---@meta).
      ["kombo.gen.operations"] = "lua/kombo/gen/operations.lua",
      ["kombo.gen.webhook_events"] = "lua/kombo/gen/webhook_events.lua",
      ["kombo.gen.types"] = "lua/kombo/gen/types.lua",
      ["kombo.gen.webhook_types"] = "lua/kombo/gen/webhook_types.lua",
      ["kombo.core"] = {
         -- The folders csrc/core, csrc/gen, csrc/curl and csrc/lua, every .c file
         -- (the Makefile derives the same list from them; spec/unit/rockspec_spec.lua).
         sources = {
            "csrc/core/body.c", "csrc/core/buf.c", "csrc/core/call.c", "csrc/core/classify.c",
            "csrc/core/client.c", "csrc/core/clock.c", "csrc/core/codec.c", "csrc/core/content_type.c",
            "csrc/core/file.c", "csrc/core/file_object.c", "csrc/core/headers.c", "csrc/core/json.c",
            "csrc/core/operation.c", "csrc/core/problems.c", "csrc/core/redact.c", "csrc/core/regex.c",
            "csrc/core/request.c", "csrc/core/schema.c", "csrc/core/schema_types.c", "csrc/core/value.c",
            "csrc/core/value_json.c", "csrc/core/webhook.c", "csrc/core/write.c", "csrc/gen/operations.c",
            "csrc/curl/easy.c", "csrc/curl/multi.c", "csrc/curl/pool.c", "csrc/lua/lkombo.c",
            "csrc/lua/lua_call.c", "csrc/lua/lua_compat.c", "csrc/lua/lua_config.c", "csrc/lua/lua_digest.c",
            "csrc/lua/lua_json.c", "csrc/lua/lua_lock.c", "csrc/lua/lua_method.c", "csrc/lua/lua_multi.c",
            "csrc/lua/lua_request.c", "csrc/lua/lua_signal.c", "csrc/lua/lua_source.c", "csrc/lua/lua_value.c",
            "csrc/lua/lua_webhook.c",
         },
         defines = { "_DEFAULT_SOURCE" },
         libraries = { "curl", "crypto" },
         incdirs = { "csrc", "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
         libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
      },
   },
   -- A Lua script: LuaRocks installs it behind a wrapper that runs it with
   -- the Lua it was installed for (README "Install": two Lua versions in
   -- one tree share that one bin/kombo-attach, the last install's).
   install = {
      bin = { ["kombo-attach"] = "bin/kombo-attach", kombo = "bin/kombo" },
   },
   -- No copy_directories: the examples (and the C sources) stay in the
   -- repository; copying examples/ shipped whatever an example run had
   -- left there (examples/openresty/logs/) into the rock.
   copy_directories = {},
}
test = {
   type = "command",
   command = "make test",
}
