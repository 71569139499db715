-- The small upload every kombo-lua small-call benchmark makes (small.lua,
-- calls.lua, interleaved.lua), so that they time the same call: a client
-- of the bench server and the arguments an application would pass, the 1
-- KiB CV's base64 done once, as the other clients do it once too.
--
--   local small = dofile(<bench dir> .. "/small_call.lua")
--   local client = small.client(server_url, { timeout =, variant = })
--   local args = small.upload_args(cv_file)
local kombo = require "kombo"

local small = {}

--- A client of the bench server.  variant (bench/hooks): "none" (the
-- default), "empty" (hooks that do nothing) or "debug" (a debug function
-- that drops its lines).
function small.client(server_url, opts)
  local variant = opts.variant or "none"
  local function nothing() end
  return kombo.new{
    api_key = "bench-key",
    integration_id = "workday:bench",
    server_url = server_url,
    timeout = opts.timeout,
    hooks = variant == "empty" and { before_request = nothing, after_response = nothing, on_retry = nothing } or nil,
    debug = variant == "debug" and nothing or nil,
  }
end

--- attach_to_candidate's arguments for the CV in cv_file.
function small.upload_args(cv_file)
  local f = assert(io.open(cv_file, "rb"))
  local cv = f:read("a")
  f:close()
  return {
    candidate_id = "cand_bench_1",
    body = {
      attachment = { name = "Resume.pdf", content_type = "application/pdf", data = kombo.base64(cv), type = "CV" },
    },
  }
end

return small
