-- TLS verification with the curl transport: a test CA, a server
-- certificate for 127.0.0.1/localhost and one for another host name, both
-- generated with openssl; a small nginx TLS front (its own config, in a
-- temp dir) proxies to the local Kombo stand-in.  Verification can only be
-- switched off by an option with "insecure" in its name (there is none).
local servers = require "support.servers"
local S = require "nginx.support"
local kombo = require "kombo"

local function upload(client, candidate_id)
  return client:attach_to_candidate {
    candidate_id = candidate_id or "cand-tls", body = { attachment = servers.attachment() },
  }
end

local CONF = [[
@USER_DIRECTIVE@
daemon on;
master_process on;
worker_processes 1;
pid "@PREFIX@/nginx.pid";
error_log "@PREFIX@/error.log" warn;
worker_shutdown_timeout 2s;
events { worker_connections 64; }
http {
    access_log "@PREFIX@/access.log";
    client_body_temp_path "@PREFIX@/tmp/client_body";
    proxy_temp_path "@PREFIX@/tmp/proxy";
    fastcgi_temp_path "@PREFIX@/tmp/fastcgi";
    uwsgi_temp_path "@PREFIX@/tmp/uwsgi";
    scgi_temp_path "@PREFIX@/tmp/scgi";
    client_max_body_size 20m;
    server {
        listen 127.0.0.1:@PLAIN@;
        location = /health { return 200 "ok"; }
    }
    # the test CA's certificate for 127.0.0.1 and localhost
    server {
        listen 127.0.0.1:@GOOD@ ssl;
        ssl_certificate "@PREFIX@/certs/server.pem";
        ssl_certificate_key "@PREFIX@/certs/server.key";
        location / { proxy_pass @STANDIN@; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    # the test CA's certificate for another host name (kombo-other.example)
    server {
        listen 127.0.0.1:@WRONG@ ssl;
        ssl_certificate "@PREFIX@/certs/other.pem";
        ssl_certificate_key "@PREFIX@/certs/other.key";
        location / { proxy_pass @STANDIN@; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
]]

describe("TLS, curl transport #integration #tls", function()
  local inst, ca, good_url, wrong_url

  setup(function()
    local standin = servers.standin_url()
    local dir = S.tmpdir("tls-spec")
    -- Like spec/nginx/support.lua's make_certs, with the extension files
    -- written from Lua (a SAN for 127.0.0.1 and localhost must really be there).
    local certs = dir .. "/certs"
    assert(S.sh(("mkdir -p '%s'"):format(certs)))
    S.write_file(certs .. "/server.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    S.write_file(certs .. "/other.cnf", "subjectAltName=DNS:kombo-other.example\n")
    local function signed(name, cn)
      return {
        ("timeout 30 openssl req -newkey rsa:2048 -nodes -subj '/CN=%s' -keyout '%s/%s.key' -out '%s/%s.csr'")
          :format(cn, certs, name, certs, name),
        ("timeout 30 openssl x509 -req -in '%s/%s.csr' -CA '%s/ca.pem' -CAkey '%s/ca.key' -CAcreateserial "
          .. "-days 2 -extfile '%s/%s.cnf' -out '%s/%s.pem'"):format(certs, name, certs, certs, certs, name, certs, name),
      }
    end
    local cmds = {
      ("timeout 30 openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=kombo-lua tls_spec CA' "
        .. "-keyout '%s/ca.key' -out '%s/ca.pem'"):format(certs, certs),
    }
    for _, c in ipairs(signed("server", "kombo-lua test server")) do cmds[#cmds + 1] = c end
    for _, c in ipairs(signed("other", "kombo-other.example")) do cmds[#cmds + 1] = c end
    for _, cmd in ipairs(cmds) do
      assert(S.sh(cmd .. " >/dev/null 2>&1"), "failed: " .. cmd)
    end
    local text = io.popen(("openssl x509 -in '%s/server.pem' -noout -text"):format(certs)):read("*a")
    assert(text:find("DNS:localhost", 1, true), "no SAN in the server certificate:\n" .. text)
    local ports = { PLAIN = S.free_port(), GOOD = S.free_port(), WRONG = S.free_port() }
    local subst = { PREFIX = dir, STANDIN = standin, USER_DIRECTIVE = S.is_root() and "user root root;" or "",
                    PLAIN = ports.PLAIN, GOOD = ports.GOOD, WRONG = ports.WRONG }
    local conf = CONF:gsub("@([A-Z_]+)@", function(k) return subst[k] and tostring(subst[k]) end)
    S.write_file(dir .. "/nginx.conf", conf)
    inst = S.start_nginx(dir, dir .. "/nginx.conf", ("http://127.0.0.1:%d/health"):format(ports.PLAIN))
    ca = certs .. "/ca.pem"
    good_url = ("https://127.0.0.1:%d"):format(ports.GOOD)
    wrong_url = ("https://127.0.0.1:%d"):format(ports.WRONG)
  end)

  teardown(function()
    S.stop_nginx(inst)
  end)

  it("without ca_file (system CAs only): network error, not_sent, the message names the certificate", function()
    local client, integ = servers.client { server_url = good_url, retries = false }
    local res, err = upload(client)
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.equals(1, err.attempts)
    assert.is_nil(err.status)
    assert.truthy(err.message:lower():find("certificate", 1, true), err.message)
    assert.truthy(err.message:find("before the request was sent", 1, true), err.message)
    assert.equals(0, #servers.requests(integ))
  end)

  it("a verification failure is retried like any failure before sending (nothing sent each time)", function()
    local client, integ = servers.client { server_url = good_url, retries = servers.fast_retries { max_attempts = 2 } }
    local _, err = upload(client)
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    assert.equals(2, err.attempts)
    assert.equals(0, #servers.requests(integ))
  end)

  it("with ca_file = the test CA: success, and the stand-in got the request", function()
    local client, integ = servers.client { server_url = good_url, ca_file = ca, retries = false }
    local res, err = upload(client)
    assert.is_nil(err, err and tostring(err))
    assert.equals("success", res.status)
    assert.equals(1, #servers.requests(integ))
    -- and again on the same (kept-alive, TLS) connection
    local res2, err2 = upload(client)
    assert.is_nil(err2, err2 and tostring(err2))
    assert.equals("success", res2.status)
  end)

  it("with ca_file and the host name localhost (in the certificate's SAN): success", function()
    local url = good_url:gsub("127%.0%.0%.1", "localhost")
    local client = servers.client { server_url = url, ca_file = ca, retries = false }
    local res, err = upload(client)
    assert.is_nil(err, err and tostring(err))
    assert.equals("success", res.status)
  end)

  it("a certificate of the test CA for another host name: verification failure (name mismatch)", function()
    local client, integ = servers.client { server_url = wrong_url, ca_file = ca, retries = false }
    local res, err = upload(client)
    assert.is_nil(res)
    assert.equals("network", err.kind)
    assert.equals("not_sent", err.outcome)
    local m = err.message:lower()
    assert.truthy(m:find("certificate", 1, true) or m:find("ssl", 1, true), err.message)
    assert.truthy(m:find("name", 1, true) or m:find("match", 1, true), err.message)
    assert.truthy(err.message:find("127.0.0.1", 1, true), err.message)
    assert.equals(0, #servers.requests(integ))
  end)

  it("a ca_file that does not exist: kombo.new raises, naming the option", function()
    local ok, msg = pcall(servers.client, { server_url = good_url, ca_file = "/nonexistent/ca.pem", retries = false })
    assert.is_false(ok)
    assert.matches("option 'ca_file' cannot be read", tostring(msg), 1, true)
  end)

  it("plain http to the TLS port fails and is not mistaken for success", function()
    local client = servers.client { server_url = good_url:gsub("^https", "http"), retries = false }
    local res, err = upload(client)
    assert.is_nil(res)
    assert.is_true(kombo.is_error(err))
    assert.is_truthy(err.kind == "http" or err.kind == "network" or err.kind == "decode", tostring(err))
  end)
end)

describe("no option disables TLS verification silently #tls", function()
  -- The live lists: the core's options (kombo_options, csrc/core/client.c)
  -- and the Lua layer's own (lua/kombo/client.lua's OPTIONS).
  local options = require("kombo.client").OPTIONS

  it("OPTIONS has no key about verify/ssl/tls/cert other than ca_file (and none named insecure)", function()
    local keys = {}
    for k in pairs(options) do keys[#keys + 1] = k end
    assert.truthy(#keys >= 10, "only " .. #keys .. " options")
    assert.truthy(options.ca_file)
    assert.truthy(options.api_key)
    for _, k in ipairs(keys) do
      local lk = k:lower()
      if k ~= "ca_file" and not lk:find("insecure", 1, true) then
        for _, word in ipairs { "verify", "ssl", "tls", "cert", "peer", "host_check" } do
          assert.is_nil(lk:find(word, 1, true), "option '" .. k .. "' may touch TLS verification")
        end
      end
    end
  end)

  it("RETRY_OPTIONS has none either", function()
    for k in pairs(require("kombo.core").options.retries) do
      for _, word in ipairs { "verify", "ssl", "tls", "cert", "insecure" } do
        assert.is_nil(k:lower():find(word, 1, true), k)
      end
    end
  end)

  for _, name in ipairs { "ssl_verify", "verify", "verify_peer", "tls_verify", "ssl_verifypeer" } do
    it(("kombo.new{ %s = false } raises (unknown option)"):format(name), function()
      local ok, err = pcall(kombo.new, { api_key = "k", [name] = false })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("unknown option '" .. name .. "'", 1, true), tostring(err))
    end)
  end

  it("the C transport never turns verification off", function()
    local f = assert(io.open("csrc/curl/easy.c", "rb"))
    local c = f:read("*a")
    f:close()
    assert.truthy(c:find("CURLOPT_SSL_VERIFYPEER, 1L", 1, true))
    assert.truthy(c:find("CURLOPT_SSL_VERIFYHOST, 2L", 1, true))
    assert.is_nil(c:find("CURLOPT_SSL_VERIFYPEER, 0", 1, true))
    assert.is_nil(c:find("CURLOPT_SSL_VERIFYHOST, 0", 1, true))
    local count = 0
    for _ in c:gmatch("CURLOPT_SSL_VERIFY%u+") do count = count + 1 end
    assert.equals(2, count) -- set once each, in set_fixed_options
  end)
end)
