-- examples/openresty/ against the local Kombo stand-in: the example's
-- nginx.conf verbatim except for its listen port, run from a prefix two
-- levels below the repository root (so that its "$prefix/../../lua" path
-- finds this checkout), with KOMBO_SERVER_URL pointing at the stand-in.
local S = require "nginx.support"
local cjson = require "cjson"

describe("examples/openresty", function()
  local STANDIN, inst, port

  setup(function()
    S.ensure_lib51()
    STANDIN = S.standin()
    local dir = S.tmpdir("example") -- <root>/.tmp/example-...: $prefix/../.. is the root
    assert(S.sh(("mkdir -p '%s/logs' && cp '%s/examples/openresty/cv_upload.lua' '%s/'"):format(dir, S.ROOT, dir)))
    port = S.free_port()
    local conf = assert(S.read_file(S.ROOT .. "/examples/openresty/nginx.conf"))
    local n
    conf, n = conf:gsub("listen 127%.0%.0%.1:8080;", ("listen 127.0.0.1:%d;"):format(port))
    assert.equals(1, n)
    S.write_file(dir .. "/nginx.conf", conf)
    local env = ("env KOMBO_API_KEY=test-key KOMBO_INTEGRATION_ID=example-%d KOMBO_SERVER_URL='%s'")
      :format(os.time(), STANDIN)
    local user = S.is_root() and "-g 'user root root;'" or ""
    -- health: a GET answers 405 from the handler; use the status of a GET
    local ok, started = pcall(function()
      local i = { dir = dir }
      local log = dir .. "/start.log"
      assert(S.sh(("%s '%s' -p '%s/' -c nginx.conf %s >'%s' 2>&1"):format(env, S.NGINX, dir, user, log)),
        "nginx did not start: " .. tostring(S.read_file(log)))
      i.pid = tonumber((S.read_file(dir .. "/logs/nginx.pid") or ""):match("%d+"))
      for _ = 1, 100 do
        if S.request("GET", ("http://127.0.0.1:%d/candidates/x/cv"):format(port), nil, nil, 1) == 405 then
          return i
        end
        S.sleep(0.1)
      end
      S.stop_nginx(i)
      error("example nginx did not answer: " .. tostring(S.read_file(dir .. "/logs/error.log")))
    end)
    if not ok then S.stop_standin(); error(started, 0) end
    inst = started
  end)

  teardown(function()
    S.stop_nginx(inst)
    S.stop_standin()
  end)

  local function curl_upload(path, file, headers)
    local cmd = { "curl -sS -m 30 -o - -w '\\n%{http_code}'" }
    for _, h in ipairs(headers or {}) do cmd[#cmd + 1] = ("-H '%s'"):format(h) end
    cmd[#cmd + 1] = ("--data-binary @'%s' 'http://127.0.0.1:%d%s'"):format(file, port, path)
    local p = assert(io.popen(table.concat(cmd, " ")))
    local out = p:read("*a")
    p:close()
    local body, code = out:match("^(.*)\n(%d+)$")
    return tonumber(code), body and cjson.decode(body)
  end

  it("uploads a file with curl and forwards it to Kombo", function()
    local file = S.ROOT .. "/examples/Resume.pdf"
    local size = #assert(S.read_file(file))
    local seq = S.standin_seq(STANDIN)
    local code, r = curl_upload("/candidates/cand-42/cv", file,
      { "Content-Type: application/pdf", "X-File-Name: Resume.pdf", "X-Integration-Id: example-int" })
    assert.equals(200, code)
    assert.is_true(r.ok)
    assert.equals("cand-42", r.attachment.candidate_id)
    assert.equals("Resume.pdf", r.attachment.name)
    assert.equals("application/pdf", r.attachment.content_type)
    assert.equals(size, r.attachment.size_bytes)
    local recs = S.standin_records(STANDIN, seq, "example-int")
    assert.equals(1, #recs)
    assert.equals("Resume.pdf", recs[1].attachment.name)
    assert.equals("Bearer test-key", recs[1].headers.authorization)
  end)

  it("streams a 6 MiB file on as it arrives: no request body buffer, no temp file", function()
    local big = S.ROOT .. "/.tmp/example-big-" .. S.unique() .. ".bin"
    local chunk = string.rep("0123456789abcdef", 4096) -- 64 KiB
    S.write_file(big, string.rep(chunk, 96) .. "xy") -- 6 MiB + 2 bytes
    local seq = S.standin_seq(STANDIN)
    local code, r = curl_upload("/candidates/cand-big/cv?name=big.bin&type=OTHER", big,
      { "Content-Type: application/octet-stream", "X-Integration-Id: example-big" })
    os.remove(big)
    assert.equals(200, code)
    assert.equals(96 * 65536 + 2, r.attachment.size_bytes)
    assert.equals("OTHER", r.attachment.type)
    assert.equals(1, #S.standin_records(STANDIN, seq, "example-big"))
    -- nginx never spilled the body to a temp file (client_body_temp_path)
    local p = assert(io.popen(("find '%s/tmp' -type f | wc -l"):format(inst.dir)))
    assert.equals("0", p:read("*l"))
    p:close()
  end)

  it("a chunked request body is refused (411): its size is not known up front", function()
    local p = assert(io.popen(("printf 'hello' | curl -sS -m 10 -o - -w '\\n%%{http_code}' -H 'X-File-Name: a.txt' "
      .. "-H 'Transfer-Encoding: chunked' --data-binary @- 'http://127.0.0.1:%d/candidates/c1/cv'"):format(port)))
    local out = p:read("*a")
    p:close()
    assert.matches("\n411$", out)
    assert.matches("chunked", out)
  end)

  it("answers Kombo's errors as JSON", function()
    local code, r = curl_upload("/candidates/scenario-error-404/cv", S.ROOT .. "/examples/Resume.pdf",
      { "Content-Type: application/pdf", "X-File-Name: Resume.pdf" })
    assert.equals(422, code)
    assert.equals("api", r.error.kind)
    assert.equals("PLATFORM.INTEGRATION_NOT_FOUND", r.error.code)
    local code2, r2 = curl_upload("/candidates/c1/cv", S.ROOT .. "/examples/Resume.pdf",
      { "Content-Type: application/pdf" })
    assert.equals(400, code2)
    assert.matches("X%-File%-Name", r2.error)
  end)
end)
