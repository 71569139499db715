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

  it("curl's default form content type is not taken for the file's: it is inferred", function()
    -- curl --data-binary without -H 'Content-Type: ...' says application/x-www-form-urlencoded
    local code, r = curl_upload("/candidates/cand-form/cv", S.ROOT .. "/examples/Resume.pdf",
      { "X-File-Name: Resume.pdf", "X-Integration-Id: example-form" })
    assert.equals(200, code)
    assert.equals("application/pdf", r.attachment.content_type)
    -- a multipart form (curl -F) is not the file: refused before anything is sent
    local p = assert(io.popen(("curl -sS -m 10 -o - -w '\\n%%{http_code}' -H 'X-File-Name: a.pdf' "
      .. "-F 'file=@%s' 'http://127.0.0.1:%d/candidates/c1/cv'"):format(S.ROOT .. "/examples/Resume.pdf", port)))
    local out = p:read("*a")
    p:close()
    assert.matches("\n415$", out)
    assert.matches("not a form", out)
  end)

  it("passes Kombo's 429 on as 429 with its Retry-After, and a refused key as 502", function()
    local p = assert(io.popen(("curl -sS -m 30 -D - -o /dev/null -H 'X-File-Name: Resume.pdf' "
      .. "-H 'Content-Type: application/pdf' --data-binary @'%s' 'http://127.0.0.1:%d/candidates/scenario-429/cv'")
      :format(S.ROOT .. "/examples/Resume.pdf", port)))
    local head = p:read("*a")
    p:close()
    assert.matches("^HTTP/1%.1 429", head)
    assert.matches("\n[Rr]etry%-[Aa]fter: 1\r", head)
    local code = curl_upload("/candidates/scenario-error-401/cv", S.ROOT .. "/examples/Resume.pdf",
      { "Content-Type: application/pdf", "X-File-Name: Resume.pdf" })
    assert.equals(502, code)
  end)

  it("loads kombo when nginx starts: a build for another Lua stops nginx with the reason", function()
    -- (nginx -t does not run init_by_lua*: start it for real, on a free port)
    local dir = S.tmpdir("example-bad")
    assert(S.sh(("mkdir -p '%s/logs' && cp '%s/examples/openresty/cv_upload.lua' '%s/'"):format(dir, S.ROOT, dir)))
    local conf = assert(S.read_file(S.ROOT .. "/examples/openresty/nginx.conf"))
    local n1, n2
    conf, n1 = conf:gsub("%$prefix/%.%./%.%./build/5%.1/", S.ROOT .. "/build/5.4/")
    conf, n2 = conf:gsub("listen 127%.0%.0%.1:8080;", ("listen 127.0.0.1:%d;"):format(S.free_port()))
    assert.equals(1, n1)
    assert.equals(1, n2)
    S.write_file(dir .. "/nginx.conf", conf)
    local user = S.is_root() and "-g 'user root root;'" or ""
    local log = dir .. "/start.log"
    local ok = S.sh(("env KOMBO_API_KEY=test-key '%s' -p '%s/' -c nginx.conf %s >'%s' 2>&1"):format(
      S.NGINX, dir, user, log))
    local out = S.read_file(log) or ""
    if ok then -- it should not have started; stop it all the same
      S.stop_nginx({ dir = dir, pid = tonumber((S.read_file(dir .. "/logs/nginx.pid") or ""):match("%d+")) })
    end
    S.sh(("rm -rf '%s'"):format(dir))
    assert.is_falsy(ok, out)
    assert.matches("init_by_lua error", out)
    assert.matches("kombo%.core", out)
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
