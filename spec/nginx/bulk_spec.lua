-- attach_many inside nginx: light threads over cosockets, under the
-- stand-in's concurrency limit; the worker keeps answering meanwhile; an
-- abort reports the uploads cut off as unknown.
local S = require "nginx.support"

local STANDIN, APP
local run_id = ("%d"):format(math.floor(S.now() * 1000) % 1000000000)
local function integration(name) return ("ngx-bulk-%s-%s"):format(name, run_id) end

describe("attach_many in nginx #bulk", function()
  setup(function()
    S.ensure_lib51()
    STANDIN = S.standin()
    local ok, inst = pcall(S.start_app, STANDIN)
    if not ok then S.stop_standin(); error(inst, 0) end
    APP = inst
  end)

  teardown(function()
    S.stop_nginx(APP)
    S.stop_standin()
  end)

  it("lands every job once under a limit lower than the concurrency, and the worker stays responsive", function()
    local integ = integration("limit")
    S.request("POST", ("%s/_concurrency?integration=%s&limit=3"):format(STANDIN, integ), "")
    local seq = S.standin_seq(STANDIN)
    -- The batch runs in the background (curl), /ping is timed meanwhile:
    -- the same worker serves both.
    local host, port = APP.url:match("^http://([^:/]+):(%d+)")
    local out = os.tmpname()
    local body = S.cjson.encode { integration = integ, n = 20, concurrency = 8, candidate = "scenario-hold-150" }
    os.execute(("curl -s -m 60 -X POST --data-binary '%s' '%s/bulk' > '%s' &"):format(body, APP.url, out))
    local worst, pings = 0, 0
    local text
    local deadline = S.now() + 60
    repeat
      local ms = S.timed_get(host, tonumber(port), "/ping")
      worst, pings = math.max(worst, ms), pings + 1
      S.sleep(0.02)
      local f = io.open(out, "rb")
      text = f and f:read("*a") or ""
      if f then f:close() end
    until text:find("}%s*$") or S.now() > deadline
    os.remove(out)
    local ok, r = pcall(S.cjson.decode, text)
    assert(ok, "no answer from /bulk: " .. text .. "\n" .. S.error_log(APP):sub(-3000))
    assert.equals(20, r.succeeded, S.cjson.encode(r.results))
    assert.equals(0, r.failed)
    assert.is_true(r.peak <= 8)
    local names, n429 = {}, 0
    for _, rec in ipairs(S.standin_records(STANDIN, seq, integ)) do
      if rec.method == "POST" then
        if rec.response and rec.response.status == 429 then n429 = n429 + 1
        else
          local sent = S.cjson.decode(rec.body)
          names[sent.attachment.name] = (names[sent.attachment.name] or 0) + 1
        end
      end
    end
    for i = 1, 20 do assert.equals(1, names[("bulk-%03d.txt"):format(i)], "job " .. i) end
    assert.is_true(n429 <= 2, "429s " .. n429)
    assert.equals(n429, r.retries)
    assert.is_true(pings >= 5, pings .. " pings")
    assert.is_true(worst < 0.1, ("/ping took %.3f s during the batch"):format(worst))
  end)

  it("abort cuts the uploads in flight off: kind aborted, outcome unknown; jobs never taken are not reported", function()
    local integ = integration("abort")
    local r = S.json("POST", APP.url .. "/bulk", { integration = integ, n = 6, concurrency = 2,
      candidate = "scenario-hold-3000", abort_after = 0.4 }, 60)
    assert.equals("abort", r.stopped)
    assert.equals(2, r.failed)
    for i = 1, 2 do
      assert.equals("aborted", r.results[i].err.kind)
      assert.equals("unknown", r.results[i].err.outcome)
    end
    for i = 3, 6 do assert.equals(S.cjson.null, r.results[i]) end
    assert.is_true(r.elapsed < 2.5, "elapsed " .. r.elapsed)
  end)
end)
