-- The kombo command (bin/kombo) against the stand-in: the dispatcher, `call`
-- (any operation by name), `check`, help made from the operation table,
-- `attach` as kombo-attach, exit codes, and no key in any output.
local cli = require "cli.support"
local servers = require "support.servers"
local cjson = servers.cjson
local _ -- the values a check does not look at

local function requests(env)
  return servers.requests(env.KOMBO_INTEGRATION_ID)
end

describe("kombo (the command) #cli", function()
  it("no command: usage on stderr, exit 2; --help on stdout, exit 0; an unknown command is named", function()
    local rc, out, err = cli.kombo({}, cli.env())  -- luacheck: ignore 311
    assert.equals(2, rc)
    assert.equals("", out)
    assert.truthy(err:find("Usage: kombo COMMAND", 1, true))
    rc, out = cli.kombo({ "--help" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("call OPERATION", 1, true))
    rc, _, err = cli.kombo({ "cal" }, cli.env())
    assert.equals(2, rc)
    assert.truthy(err:find("unknown command 'cal' (did you mean 'call'?)", 1, true), err)
    rc, out = cli.kombo({ "--version" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("^kombo %(kombo%-lua%) %d"), out)
  end)

  it("call --help lists every operation of the table; call OP --help gives its parameters", function()
    local rc, out = cli.kombo({ "call", "--help" }, cli.env())
    assert.equals(0, rc)
    local names = {}
    for name in out:gmatch("\n  ([%w_]+)%s+[A-Z]+%s+/") do names[#names + 1] = name end
    local gen = require("kombo.gen.operations").operations
    local want = {}
    for name in pairs(gen) do want[#want + 1] = name end
    table.sort(want)
    assert.same(want, names)
    rc, out = cli.kombo({ "call", "get_jobs", "--help" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("GET /ats/jobs", 1, true))
    assert.truthy(out:find("page_size%s+integer"), out)
    assert.truthy(out:find("status%s+string: OPEN, CLOSED, DRAFT, ARCHIVED"), out)
    rc, out = cli.kombo({ "help", "check" }, cli.env())
    assert.equals(0, rc)
    assert.truthy(out:find("Usage: kombo check", 1, true))
  end)

  it("call get_jobs with query parameters: Kombo's answer as JSON, the filters on the wire", function()
    local env = cli.env()
    local rc, out, err = cli.kombo({ "call", "get_jobs", "--arg", "page_size=50", "--arg", "ids=a,b",
                                     "--arg", "include_deleted=true" }, env)
    assert.equals(0, rc, err)
    local doc = assert(cjson.decode(out))
    assert.equals("success", doc.status)
    assert.is_table(doc.data.results)
    local recs = requests(env)
    assert.equals(1, #recs)
    assert.truthy(recs[1].uri:find("page_size=50", 1, true), recs[1].uri)
    assert.truthy(recs[1].uri:find("ids=a%2Cb", 1, true), recs[1].uri)
  end)

  it("call create_application with --body FILE streaming a local CV: one request, exit 0", function()
    local dir = cli.dir { ["cv.pdf"] = "%PDF-1.4 a CV\n", ["body.json"] = cjson.encode {
      candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada.cli@example.com" },
      attachments = { { file = "cv.pdf", type = "CV" } } } }
    local env = cli.env()
    local rc, out, err = cli.kombo({ "call", "create_application", "--arg", "job_id=job-cli-1",
                                     "--body", dir .. "/body.json" }, env, dir)
    cli.rmtree(dir)
    assert.equals(0, rc, err)
    assert.equals("success", cjson.decode(out).status)
    local recs = requests(env)
    assert.equals(1, #recs)
    assert.equals("/ats/jobs/job-cli-1/applications", recs[1].uri)
    local sent = cjson.decode(recs[1].body)
    assert.equals("cv.pdf", sent.attachments[1].name)
    assert.equals("application/pdf", sent.attachments[1].content_type)
  end)

  it("a bad argument is a validation error naming the path, nothing sent, exit 2", function()
    local env = cli.env()
    local rc, out, err = cli.kombo({ "call", "get_jobs", "--arg", "page_sise=5", "--arg", "status=OPENED" }, env)
    assert.equals(2, rc)
    assert.equals("", out)
    assert.truthy(err:find("page_sise is not a known field (did you mean page_size?)", 1, true), err)
    assert.truthy(err:find("status must be one of", 1, true), err)
    assert.equals(0, #requests(env))
    rc, _, err = cli.kombo({ "call", "get_jbos" }, env)
    assert.equals(2, rc)
    assert.truthy(err:find("unknown operation 'get_jbos' (did you mean 'get_jobs'?)", 1, true), err)
    rc, _, err = cli.kombo({ "call", "get_jobs", "--body", "-" }, env)
    assert.equals(2, rc)
    assert.truthy(err:find("get_jobs takes no body", 1, true), err)
    rc, _, err = cli.kombo({ "call", "get_jobs", "--arg", "x" }, env)
    assert.equals(2, rc)
    assert.truthy(err:find("--arg takes NAME=VALUE", 1, true), err)
  end)

  it("Kombo's error: its body on stdout, the error on stderr, exit 1; the key in no output", function()
    local env = cli.env { KOMBO_API_KEY = servers.LONG_KEY }
    local rc, out, err = cli.kombo({ "call", "get_candidate_attachments", "--arg", "candidate_id=x" }, env)
    assert.equals(1, rc)
    assert.truthy(err:find("PLATFORM.AUTHENTICATION_INVALID", 1, true), err)
    assert.equals("error", cjson.decode(out).status)
    assert.is_nil(out:find(servers.LONG_KEY, 1, true))
    assert.is_nil(err:find(servers.LONG_KEY, 1, true))
    -- a key given where an option value belongs is not echoed either
    rc, out, err = cli.kombo({ "call", "--" .. servers.LONG_KEY }, env)
    assert.equals(2, rc)
    assert.is_nil((out .. err):find(servers.LONG_KEY, 1, true), err)
  end)

  it("check: the key, and with --integration-id the restrictions; --json; a bad key exits 1", function()
    local env = cli.env()
    local rc, out, err = cli.kombo({ "check" }, env)
    assert.equals(0, rc, err)
    assert.truthy(out:find("api_key%s+ok %(environment"), out)
    rc, out, err = cli.kombo({ "check", "--json", "--integration-id", env.KOMBO_INTEGRATION_ID }, env)
    assert.equals(0, rc, err)
    local doc = assert(cjson.decode(out))
    assert.is_string(doc.api_key.environment_id)
    assert.equals(env.KOMBO_INTEGRATION_ID, doc.integration_id)
    assert.is_table(doc.candidate_attachments)
    assert.is_table(doc.create_application)
    rc, _, err = cli.kombo({ "check" }, cli.env { KOMBO_API_KEY = "wrong-key" })
    assert.equals(1, rc)
    assert.truthy(err:find("api_key%s+FAILED"), err)
    rc, _, err = cli.kombo({ "check" }, cli.env { KOMBO_API_KEY = servers.NONE })
    assert.equals(2, rc)
    assert.truthy(err:find("KOMBO_API_KEY", 1, true), err)
  end)

  it("attach is kombo-attach: the same help and the same upload", function()
    local rc1, out1 = cli.kombo({ "attach", "--help" }, cli.env())
    local rc2, out2 = cli.run({ "--help" }, cli.env())
    assert.equals(0, rc1)
    assert.equals(rc2, rc1)
    assert.equals(out2, out1)
    local dir = cli.dir { ["cv.pdf"] = "%PDF-1.4 x\n",
                          ["rows.csv"] = "candidate_id,file,type\ncand-kombo-attach,cv.pdf,CV\n" }
    local env = cli.env()
    local rc, _, err = cli.kombo({ "attach", "--quiet", dir .. "/rows.csv" }, env)
    cli.rmtree(dir)
    assert.equals(0, rc, err)
    assert.equals(1, #requests(env))
  end)
end)
