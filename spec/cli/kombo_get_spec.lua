-- kombo get LIST against the stand-in's stored lists: pages followed with
-- --all and the filters sent with every page, the four formats, CSV columns
-- from the description's record, a failed page (exit 1, the cursor to
-- resume from), filters validated (exit 2, nothing sent), and memory that
-- does not grow with the number of pages.
local cli = require "cli.support"
local servers = require "support.servers"
local cjson = servers.cjson
local gen = require("kombo.gen.operations").operations
local _

local function list_requests(env)
  local out = {}
  for _, rec in ipairs(servers.requests(env.KOMBO_INTEGRATION_ID)) do
    if rec.method == "GET" then out[#out + 1] = rec end
  end
  return out
end

local function control(path)
  local status, body = servers.http("POST", servers.standin_url() .. path, {}, "")
  assert(status == 200, path .. ": " .. tostring(status) .. " " .. tostring(body))
end

-- A CSV text into rows of cells (quoted cells with "" and newlines inside).
local function parse_csv(text)
  local rows, row, cell, i, quoted = {}, {}, {}, 1, false
  while i <= #text do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' and text:sub(i + 1, i + 1) == '"' then cell[#cell + 1] = '"'; i = i + 1
      elseif c == '"' then quoted = false
      else cell[#cell + 1] = c end
    elseif c == '"' then quoted = true
    elseif c == "," then row[#row + 1] = table.concat(cell); cell = {}
    elseif c == "\n" then row[#row + 1] = table.concat(cell); rows[#rows + 1] = row; row, cell = {}, {}
    else cell[#cell + 1] = c end
    i = i + 1
  end
  return rows
end

describe("kombo get #cli", function()
  it("jobs --all --format csv: every page followed, the header the description's record, one row a job", function()
    local env = cli.env()
    local rc, out, err = cli.kombo({ "get", "jobs", "--all", "--format", "csv", "--page-size", "2",
                                     "--statuses", "OPEN,CLOSED,DRAFT,ARCHIVED" }, env)
    assert.equals(0, rc, err)
    local rows = parse_csv(out)
    assert.same(gen.get_jobs.fields, rows[1])
    local ids = {}
    for i = 2, #rows do
      assert.equals(#rows[1], #rows[i], "row " .. i)
      ids[#ids + 1] = rows[i][1]
    end
    -- the stand-in's 6 jobs not deleted, in order, over 3 pages
    assert.same({ "job-1", "job-2", "job-3", "job-4", "job-5", "job-6" }, ids)
    local reqs = list_requests(env)
    assert.equals(3, #reqs)
    for i, rec in ipairs(reqs) do
      assert.truthy(rec.uri:find("statuses=OPEN%2CCLOSED%2CDRAFT%2CARCHIVED", 1, true), "page " .. i .. ": " .. rec.uri)
      assert.truthy(rec.uri:find("page_size=2", 1, true), rec.uri)
      assert.equals(i > 1, rec.uri:find("cursor=", 1, true) ~= nil, rec.uri)
    end
    -- off a terminal, a progress line per page on stderr
    assert.truthy(err:find("kombo get jobs: 6 records, 3 page%(s%)"), err)
    -- nested objects flattened with dots, arrays as JSON in one cell
    local col = {}
    for i, f in ipairs(rows[1]) do col[f] = i end
    assert.is_number(col["location.city"])
    assert.equals("Berlin", rows[2][col["location.city"]])
    assert.is_table(cjson.decode(rows[2][col.stages]))
  end)

  it("without --all only the first page; json an array, jsonl a record per line", function()
    local env = cli.env()
    local rc, out = cli.kombo({ "get", "jobs", "--page-size", "2", "--quiet" }, env)
    assert.equals(0, rc)
    local doc = cjson.decode(out)
    assert.equals(2, #doc)
    assert.equals("job-1", doc[1].id)
    assert.equals(1, #list_requests(env))
    rc, out = cli.kombo({ "get", "candidates", "--email", "cand2@standin.example", "--format", "jsonl" }, env)
    assert.equals(0, rc)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = cjson.decode(line) end
    assert.equals(1, #lines)
    assert.equals("cand-2", lines[1].id)
    rc, out = cli.kombo({ "get", "jobs", "--ids", "none", "--quiet" }, env)
    assert.equals(0, rc)
    assert.same({}, cjson.decode(out))
    rc, out = cli.kombo({ "get", "jobs", "--format", "table", "--page-size", "3" }, env)
    assert.equals(0, rc)
    assert.truthy(out:find("^id%s+remote_id%s+name"), out)
    assert.truthy(out:find("\njob%-3%s"), out)
  end)

  it("a page that fails: the records before it written, exit 1, the cursor to resume from; the rest with --cursor",
    function()
      local env = cli.env()
      control(("/_lists?integration=%s&page=2&scenario=error-404"):format(env.KOMBO_INTEGRATION_ID))
      local rc, out, err = cli.kombo({ "get", "jobs", "--all", "--format", "jsonl", "--page-size", "4" }, env)
      assert.equals(1, rc)
      local first = {}
      for line in out:gmatch("[^\n]+") do first[#first + 1] = cjson.decode(line).id end
      assert.same({ "job-1", "job-2", "job-3", "job-4" }, first)
      assert.truthy(err:find("PLATFORM.INTEGRATION_NOT_FOUND", 1, true), err)
      local cursor = err:match("resume with %-%-cursor (%S+)")
      assert.is_string(cursor, err)
      rc, out, err = cli.kombo({ "get", "jobs", "--all", "--format", "jsonl", "--page-size", "4",
                                 "--cursor", cursor }, env)
      assert.equals(0, rc, err)
      local rest = {}
      for line in out:gmatch("[^\n]+") do rest[#rest + 1] = cjson.decode(line).id end
      assert.same({ "job-5", "job-6" }, rest)
    end)

  it("filters validated like the library's: exit 2, the problems named, nothing sent", function()
    local env = cli.env()
    local rc, out, err = cli.kombo({ "get", "jobs", "--page-size", "500", "--status", "OPENED" }, env)
    assert.equals(2, rc)
    assert.equals("[]\n", out)
    assert.truthy(err:find("page_size must be at most 250", 1, true), err)
    assert.truthy(err:find("status must be one of", 1, true), err)
    assert.equals(0, #list_requests(env))
    rc, _, err = cli.kombo({ "get", "jobz" }, env)
    assert.equals(2, rc)
    assert.truthy(err:find("unknown list 'jobz' (did you mean 'jobs'?)", 1, true), err)
    rc, _, err = cli.kombo({ "get", "jobs", "--format", "xml" }, env)
    assert.equals(2, rc)
    assert.truthy(err:find("json, jsonl, csv or table", 1, true), err)
    rc, out = cli.kombo({ "get", "--help" }, env)
    assert.equals(0, rc)
    for name, op in pairs(gen) do
      if op.list then assert.truthy(out:find("\n  " .. name:gsub("^get_", ""):gsub("_", "-") .. "\n", 1, true), name) end
    end
  end)

  it("jobs --all over 10,000 jobs in pages of 250 streams: peak memory as for 500 jobs #slow #once", function()
    local function peak(n)
      local env = cli.env()
      control(("/_lists?integration=%s&jobs=%d"):format(env.KOMBO_INTEGRATION_ID, n))
      -- the command in a process of its own that reports its peak RSS (VmHWM) at the end
      local dir = cli.dir { ["peak.lua"] = [[
        local rc = require("kombo.cli.kombo").run(arg)
        local f = io.open("/proc/self/status")
        local hwm = f:read("*a"):match("VmHWM:%s*(%d+)")
        f:close()
        io.stderr:write("VmHWM " .. hwm .. "\n")
        os.exit(rc)
      ]] }
      local out = os.tmpname()
      local lua = type(jit) == "table" and "luajit" or "lua" .. _VERSION:match("%d%.%d")
      local build = type(jit) == "table" and "build/5.1" or "build/" .. _VERSION:match("%d%.%d")
      local cmd = ("cd %s && env KOMBO_API_KEY=%s KOMBO_SERVER_URL=%s KOMBO_INTEGRATION_ID=%s LUA_PATH=%s LUA_CPATH=%s "
        .. "%s %s get jobs --all --format csv --quiet > %s 2>&1; echo $?"):format(cli.q(cli.ROOT),
        cli.q(env.KOMBO_API_KEY), cli.q(env.KOMBO_SERVER_URL), cli.q(env.KOMBO_INTEGRATION_ID),
        cli.q(cli.ROOT .. "/lua/?.lua;" .. cli.ROOT .. "/lua/?/init.lua;;"), cli.q(cli.ROOT .. "/" .. build .. "/?.so;;"),
        lua, cli.q(dir .. "/peak.lua"), cli.q(out))
      local p = assert(io.popen(cmd))
      local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
      p:close()
      local text = cli.read(out)
      os.remove(out)
      cli.rmtree(dir)
      assert.equals(0, rc, text:sub(-2000))
      local rows = select(2, text:gsub("\nsynth%-", ""))
      assert.equals(n, rows)
      return tonumber(text:match("VmHWM (%d+)"))
    end
    local small, large = peak(500), peak(10000)
    print(("kombo get --all: peak RSS %d KiB for 500 jobs, %d KiB for 10,000"):format(small, large))
    -- 40 pages against 2: within 2 MiB of each other
    assert.is_true(large - small < 2048, ("peak RSS %d KiB for 10,000 jobs, %d KiB for 500"):format(large, small))
  end)
end)
