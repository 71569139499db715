-- examples/apply.lua (what `make demo` runs) as a subprocess against the
-- stand-in: it applies to the seeded job with both documents, a second run
-- is told the application exists (exit 0, nothing created twice), and a CV
-- the integration cannot take is refused before anything is sent.
local servers = require "support.servers"
local files = require "support.files"
local cli = require "cli.support"

local q = files.sh_quote

-- Runs `lua examples/apply.lua args...` in the checkout: exit status, stdout, stderr.
local function apply(env, ...)
  local lua = type(jit) == "table" and "luajit" or "lua" .. _VERSION:match("%d%.%d")
  local build = type(jit) == "table" and "build/5.1" or "build/" .. _VERSION:match("%d%.%d")
  local parts = { "cd", q(cli.ROOT), "&& env -u KOMBO_JOB_ID" }
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = "LUA_PATH=" .. q("lua/?.lua;lua/?/init.lua;;")
  parts[#parts + 1] = "LUA_CPATH=" .. q(build .. "/?.so;;")
  parts[#parts + 1] = lua .. " examples/apply.lua"
  for _, a in ipairs { ... } do parts[#parts + 1] = q(a) end
  local out, err = os.tmpname(), os.tmpname()
  local p = assert(io.popen(table.concat(parts, " ") .. " >" .. q(out) .. " 2>" .. q(err) .. " </dev/null; echo $?"))
  local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local o, e = cli.read(out), cli.read(err)
  os.remove(out)
  os.remove(err)
  return rc, o, e
end

describe("examples/apply.lua #cli #apply", function()
  it("applies with the CV and the cover letter, lists them; run again, it is told the application exists", function()
    local env = cli.env()
    local rc, out, err = apply(env)
    assert.equals(0, rc, err)
    assert.matches("job: Stand%-in job 1 %(job%-1%)", out)
    assert.matches("created application (app_%d+) for candidate (cand_%d+): HTTP 200, 1 attempt%(s%)", out)
    assert.matches("has 2 attachment%(s%):\n  CV +Resume%.pdf +application/pdf\n  COVER_LETTER +Cover_letter%.pdf", out)
    rc, out, err = apply(env)
    assert.equals(0, rc, err)
    assert.matches("already applied: .*has already applied to job job%-1", out)
    local posts = 0
    for _, rec in ipairs(servers.requests(env.KOMBO_INTEGRATION_ID)) do
      if rec.method == "POST" then posts = posts + 1 end
    end
    assert.equals(2, posts) -- the second answered 409, once
  end)

  it("a CV the integration cannot take is refused before it is sent (preflight)", function()
    local env = cli.env()
    local dir = cli.dir { ["cv.txt"] = "Jane Doe, plain text\n" }
    local rc, _, err = apply(env, dir .. "/cv.txt")
    cli.rmtree(dir)
    assert.equals(1, rc)
    assert.matches("body%.attachments%[1%]%.content_type: text/plain is not among the integration's "
      .. "accepted_mime_types %(application/pdf, application/msword%)", err)
    for _, rec in ipairs(servers.requests(env.KOMBO_INTEGRATION_ID)) do
      assert.equals("GET", rec.method, rec.uri)
    end
  end)
end)
