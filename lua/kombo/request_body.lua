--- Streaming an OpenResty request's body on to Kombo:
-- @{request_body_source}, which init.lua puts on the module (a wrapper
-- that loads this file at its first call, outside nginx).  It needs
-- nothing of the rest of kombo but kombo.client's misuse (raised at the
-- caller's line, past init.lua's wrapper): the source it makes is an
-- attachment's `source`, read by the cosocket transport.  Its LDoc block is
-- on the `kombo` module's page (config.ld merges this file in).
-- @module kombo
local misuse = require("kombo.client").misuse
local M = {}

require("kombo.client").skip_frames_of(debug.getinfo(1, "S").source)

--- The request body being received, as an attachment `source` and `size`
-- (OpenResty: content, access or rewrite phase).  `size` is the request's
-- `Content-Length`; the source reads `ngx.req.socket()` in chunks, so the
-- upload goes on to Kombo as the client sends it, never held whole in
-- memory.  A client that disconnects or sends fewer bytes makes the source
-- fail, and the upload ends with kind `aborted` (nothing reported complete).
-- Use it before anything else reads the body (not with `ngx.req.read_body`
-- or `lua_need_request_body on`); a chunked request body (no
-- `Content-Length`) cannot be given an exact size and is refused.
-- @function request_body_source
-- @tparam[opt] table opts `chunk_size` (bytes per read, default 65536),
-- `timeout` (seconds a read may wait for the client; default nginx's
-- `lua_socket_read_timeout`)
-- @treturn[1] func the source (one upload: it cannot be read twice)
-- @treturn[1] integer its size
-- @return[2] nil
-- @treturn[2] string why the body cannot be streamed
-- @usage local source, size = kombo.request_body_source()
-- if not source then return ngx.exit(400) end
-- local res, err = client:attach_to_candidate{ candidate_id = id,
--   body = { attachment = { name = "cv.pdf", type = "CV", source = source, size = size } } }
function M.request_body_source(opts)
  local n = rawget(_G, "ngx")
  if type(n) ~= "table" or type(n.req) ~= "table" or type(n.req.socket) ~= "function" then
    return nil, "kombo.request_body_source needs nginx's Lua module (OpenResty)"
  end
  if opts ~= nil and type(opts) ~= "table" then
    misuse("request_body_source", "table expected, got " .. type(opts))
  end
  local chunk_size = opts and opts.chunk_size or 65536
  local timeout = opts and opts.timeout
  if type(chunk_size) ~= "number" or chunk_size < 1 or chunk_size ~= math.floor(chunk_size) then
    misuse("request_body_source", "chunk_size must be a whole number >= 1")
  end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout <= 0) then
    misuse("request_body_source", "timeout must be a number > 0")
  end
  local cl = n.var.http_content_length
  if cl == nil then
    if n.var.http_transfer_encoding then
      return nil, "the request body is chunked (no Content-Length): its size is not known up front"
    end
    cl = "0"
  end
  if not cl:find("^%d+$") or #cl > 15 then return nil, "invalid Content-Length in the request" end
  local size = tonumber(cl)
  if size == 0 then return function() return nil end, 0 end -- the upload's rules refuse it
  local sock, err = n.req.socket()
  if not sock then return nil, "cannot read the request body: " .. tostring(err) end
  if timeout then sock:settimeout(math.floor(timeout * 1000 + 0.5)) end
  local left = size
  return function()
    if left <= 0 then return nil end
    local data, rerr = sock:receiveany(left < chunk_size and left or chunk_size)
    if not data then
      return nil, ("the client's request body ended after %.0f of %.0f bytes (%s)")
        :format(size - left, size, tostring(rerr))
    end
    left = left - #data
    return data
  end, size
end

return M
