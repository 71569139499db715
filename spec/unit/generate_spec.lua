-- tools/generate.lua: the committed output is what the generator makes from
-- the committed description and hand table; the pattern compiler makes the
-- node trees meant (csrc/core/regex.c matches them) and refuses what the
-- matcher cannot express; the include list is the expected one.
-- The generator is Lua 5.3+ (integer bit operations); on 5.1 and LuaJIT
-- only the stale check runs (it runs the generator with lua5.4).
package.path = "tools/?.lua;" .. package.path
local bitwise = (loadstring or load)("return 1 & 1") ~= nil
local generate = bitwise and require "generate" or nil

-- flag `bit` (a power of two) set in `flags`: arithmetic, for every Lua
local function has(flags, bit) return math.floor(flags / bit) % 2 == 1 end

local OUTPUTS = { "csrc/gen/operations.c", "lua/kombo/gen/operations.lua", "lua/kombo/gen/types.lua",
  "doc/operations.luadoc", "lua/kombo/gen/webhook_events.lua" }

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

describe("tools/generate.lua", function()
  it("the committed output is not stale (else: run make generate)", function()
    local dir = os.tmpname()
    os.remove(dir)
    local function ran(ok) return ok == true or ok == 0 end -- 5.1: a status number
    assert.is_true(ran(os.execute("mkdir -p '" .. dir .. "'")))
    assert.is_true(ran(os.execute("lua5.4 tools/generate.lua --out '" .. dir .. "' >/dev/null")),
      "the generator failed")
    local stale = {}
    for _, rel in ipairs(OUTPUTS) do
      local want = read(dir .. "/" .. rel)
      assert.is_string(want, rel .. " was not generated")
      if read(rel) ~= want then stale[#stale + 1] = rel .. ": run make generate" end
    end
    os.execute("rm -rf '" .. dir .. "'")
    assert.same({}, stale)
  end)

  if not generate then
    pending("the generator's own tests need Lua 5.3+ (bit operations)")
    return
  end

  it("is deterministic: two runs give the same bytes", function()
    local a = generate.generate(".")
    local b = generate.generate(".")
    for _, rel in ipairs(OUTPUTS) do assert.equals(a[rel], b[rel], rel) end
  end)

  it("includes the 33 operations the SDK promises", function()
    local _, model = generate.generate(".")
    local got = {}
    for _, op in ipairs(model.operations) do got[#got + 1] = op.name .. " " .. op.method .. " " .. op.path end
    local have = {}
    for _, g in ipairs(got) do have[g] = true end
    for _, want in ipairs({
      "add_application_note POST /ats/applications/{application_id}/notes",
      "add_application_result_link POST /ats/applications/{application_id}/result-links",
      "add_candidate_result_link POST /ats/candidates/{candidate_id}/result-links",
      "add_candidate_tag POST /ats/candidates/{candidate_id}/tags",
      "application_attachment_restrictions GET /ats/actions/ats_add_application_attachment",
      "attach_to_application POST /ats/applications/{application_id}/attachments",
      "attach_to_candidate POST /ats/candidates/{candidate_id}/attachments",
      "candidate_attachment_restrictions GET /ats/actions/ats_add_candidate_attachment",
      "check_api_key GET /check-api-key",
      "create_application POST /ats/jobs/{job_id}/applications",
      "create_application_restrictions GET /ats/actions/ats_create_application",
      "create_candidate POST /ats/candidates",
      "create_candidate_restrictions GET /ats/actions/ats_create_candidate",
      "create_interview POST /ats/applications/{application_id}/interviews",
      "force_sync POST /force-sync",
      "get_application_attachments GET /ats/applications/{application_id}/attachments",
      "get_application_stages GET /ats/application-stages",
      "get_applications GET /ats/applications",
      "get_candidate_attachments GET /ats/candidates/{candidate_id}/attachments",
      "get_candidates GET /ats/candidates",
      "get_interviews GET /ats/interviews",
      "get_jobs GET /ats/jobs",
      "get_offers GET /ats/offers",
      "get_rejection_reasons GET /ats/rejection-reasons",
      "get_roles GET /ats/roles",
      "get_tags GET /ats/tags",
      "get_users GET /ats/users",
      "import_tracked_application POST /ats/import-tracked-application",
      "move_application_to_stage PUT /ats/applications/{application_id}/stage",
      "passthrough POST /passthrough/{tool}/{api}",
      "reject_application POST /ats/applications/{application_id}/reject",
      "remove_candidate_tag DELETE /ats/candidates/{candidate_id}/tags",
      "update_interview PATCH /ats/applications/{application_id}/interviews",
    }) do
      assert.truthy(have[want], want .. " is not generated")
    end
  end)

  -- Adding an operation is its line in the hand table: one line, one
  -- operation, and nothing the table does not name.
  it("generates exactly the operations the hand table names", function()
    local _, model = generate.generate(".")
    local hand = dofile("spec/contract/operations.lua")
    local want, got = {}, {}
    for key, line in pairs(hand.operations) do want[#want + 1] = line.name .. " " .. key end
    for _, op in ipairs(model.operations) do got[#got + 1] = op.name .. " " .. op.method .. " " .. op.path end
    table.sort(want)
    table.sort(got)
    assert.same(want, got)
  end)

  it("keeps the response shapes of the seven hand-made operations", function()
    local _, model = generate.generate(".")
    local by = {}
    for _, op in ipairs(model.operations) do by[op.name] = op end
    local want = {
      attach_to_candidate = { true, nil, false, true },
      attach_to_application = { true, nil, false, true },
      get_candidate_attachments = { true, "results", true },
      get_application_attachments = { true, "results", true },
      candidate_attachment_restrictions = { false, "attachment_restrictions", true },
      application_attachment_restrictions = { false, "attachment_restrictions", true },
      check_api_key = { false, "environment_id", true },
    }
    for name, w in pairs(want) do
      local op = by[name]
      assert.equals(w[1], op.warnings, name)
      assert.equals(w[2], op.data_member, name)
      assert.equals(w[3], op.idempotent, name)
      -- an upload: its body's "attachment" is Kombo's file object (flag 1)
      local upload = false
      for _, p in ipairs(op.body_schema and op.body_schema.properties or {}) do
        if p.name == "attachment" and p.schema.flags % 2 == 1 then upload = true end
      end
      assert.equals(w[4] == true, upload, name)
      assert.equals(name ~= "check_api_key", op.integration_scoped, name)
    end
  end)

  it("makes structurally identical descriptors one object", function()
    local _, model = generate.generate(".")
    local by = {}
    for _, op in ipairs(model.operations) do by[op.name] = op end
    -- the uploads' bodies differ (the application's remote_fields knows
    -- Oracle's) but their attachment is one node
    local cand, app = by.attach_to_candidate.body_schema, by.attach_to_application.body_schema
    assert.are_not.equal(cand, app)
    assert.equals("attachment", cand.properties[1].name)
    assert.equals(cand.properties[1].schema, app.properties[1].schema)
    local seen = {}
    for _, d in ipairs(model.nodes) do
      assert.is_nil(seen[d.key], "two nodes with one key")
      seen[d.key] = true
    end
    -- and in C: one object per node
    local c = read("csrc/gen/operations.c")
    local n = 0
    for _ in c:gmatch("\nstatic const kombo_schema s%d+ = ") do n = n + 1 end
    assert.equals(#model.nodes, n)
  end)

  it("marks Kombo's file objects, opens remote_fields, flags list and boolean query parameters", function()
    local _, model = generate.generate(".")
    local by = {}
    for _, op in ipairs(model.operations) do by[op.name] = op end
    local body = by.attach_to_candidate.body_schema
    local members = {}
    for _, p in ipairs(body.properties) do members[p.name] = p end
    assert.is_true(has(members.attachment.schema.flags, 1)) -- KOMBO_S_FILE
    assert.is_true(has(members.remote_fields.schema.flags, 2)) -- KOMBO_S_OPEN
    assert.is_false(has(body.flags, 2)) -- the body itself is closed
    local query = {}
    for _, p in ipairs(by.get_jobs.query.properties) do query[p.name] = p.schema end
    assert.is_true(has(query.ids.flags, 4)) -- KOMBO_S_QUERY_LIST
    assert.is_true(has(query.include_deleted.flags, 8)) -- KOMBO_S_QUERY_BOOL
    assert.is_false(has(query.cursor.flags, 4) or has(query.cursor.flags, 8))
  end)

  it("derives Kombo's documentation URLs as the description's own links show them", function()
    assert.equals("https://docs.kombo.dev/ats/v1/get-jobs", generate.doc_url("GET", "/ats/jobs"))
    assert.equals("https://docs.kombo.dev/ats/v1/post-jobs-job-id-applications",
      generate.doc_url("POST", "/ats/jobs/{job_id}/applications"))
    assert.equals("https://docs.kombo.dev/general/v1/get-check-api-key", generate.doc_url("GET", "/check-api-key"))
  end)

  -- Derived here from the description on its own, to compare with what
  -- the generator wrote (the Lua data) and the C table says (core.operations).
  it("marks the lists: exactly the answers with data.results and data.next, page_size_max the maximum", function()
    local cjson = require "cjson"
    local api = cjson.decode(read("spec/contract/kombo-openapi.json"))
    local function deref(node)
      for _ = 1, 10 do
        if type(node) ~= "table" or not node["$ref"] then return node end
        local t = api
        for part in node["$ref"]:gmatch("[^/#]+") do t = t[part] end
        node = t
      end
      return node
    end
    local want, got, lists = {}, {}, {}
    for name, op in pairs(dofile("lua/kombo/gen/operations.lua").operations) do
      local o = api.paths[op.path][op.method:lower()]
      local ok = deref(o.responses["200"] or o.responses["201"])
      local data = deref(deref(ok.content["application/json"].schema).properties.data)
      local members = type(data) == "table" and data.properties or {}
      local max
      for _, p in ipairs(o.parameters or {}) do
        p = deref(p)
        if p.name == "page_size" then max = deref(p.schema).maximum end
      end
      local is_list = members.results ~= nil and members.next ~= nil
      want[name] = { is_list or nil, is_list and max or nil }
      got[name] = { op.list, op.page_size_max }
      if is_list then lists[#lists + 1] = name end
    end
    assert.same(want, got)
    for _, op in ipairs(require("kombo.core").operations) do
      assert.same(want[op.name], { op.list, op.page_size_max }, op.name)
    end
    table.sort(lists)
    assert.same({ "get_application_stages", "get_applications", "get_candidates", "get_interviews", "get_jobs",
      "get_offers", "get_rejection_reasons", "get_roles", "get_tags", "get_users" }, lists)
    assert.equals(250, want.get_jobs[2])
    assert.truthy(read("lua/kombo/gen/types.lua"):find("\n%-%-%-@alias kombo%.ListName 'get_application_stages'|"))
  end)

  it("lists the webhook event types with their data members", function()
    local events = dofile("lua/kombo/gen/webhook_events.lua")
    local types = {}
    for _, e in ipairs(events) do types[#types + 1] = e.type end
    assert.truthy(#types >= 10)
    local found
    for _, e in ipairs(events) do if e.type == "data-changed" then found = e end end
    assert.is_table(found)
    assert.truthy(#found.data > 0)
  end)
end)

describe("the pattern compiler", function()
  if not generate then
    pending("the generator's own tests need Lua 5.3+ (bit operations)")
    return
  end
  local S = generate.set_string
  local MANY = generate.MANY

  local function shape(nodes)
    local out = {}
    for _, n in ipairs(nodes) do
      local item = { n.kind, n.min, n.max }
      if n.kind == "class" then item[4] = S(n.set) end
      if n.kind == "group" then item[4] = shape(n.sub) end
      out[#out + 1] = item
    end
    return out
  end

  it("compiles the content type pattern", function()
    local re = generate.compile_pattern("^[\\w.-]+\\/[\\w.-]+$")
    assert.is_true(re.anchored_begin)
    assert.is_true(re.anchored_end)
    assert.same({
      { "class", 1, MANY, "\\x2d-.0-9A-Z_a-z" },
      { "class", 1, 1, "/" },
      { "class", 1, MANY, "\\x2d-.0-9A-Z_a-z" },
    }, shape(re.nodes))
  end)

  it("compiles the date pattern, nested optional groups included", function()
    local re = generate.compile_pattern("^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$")
    assert.is_true(re.anchored_begin and re.anchored_end)
    local d = "0-9"
    assert.same({
      { "class", 4, 4, d }, { "class", 1, 1, "\\x2d" }, { "class", 2, 2, d }, { "class", 1, 1, "\\x2d" },
      { "class", 2, 2, d },
      { "group", 0, 1, {
        { "class", 1, 1, "T" }, { "class", 2, 2, d }, { "class", 1, 1, ":" }, { "class", 2, 2, d },
        { "class", 1, 1, ":" }, { "class", 2, 2, d },
        { "group", 0, 1, { { "class", 1, 1, "." }, { "class", 1, MANY, d } } },
      } },
      { "class", 0, 1, "Z" },
    }, shape(re.nodes))
  end)

  it("compiles the country code pattern", function()
    local re = generate.compile_pattern("^[A-Z]{2}$")
    assert.same({ { "class", 2, 2, "A-Z" } }, shape(re.nodes))
  end)

  it("marks one_pass only where no backtracking can change the answer", function()
    local function one_pass(src) return generate.compile_pattern(src).one_pass end
    assert.is_true(one_pass("^[\\w.-]+\\/[\\w.-]+$"))
    assert.is_true(one_pass("^[A-Z]{2}$"))
    assert.is_true(one_pass("^[a-z]+[0-9]+"))
    assert.is_false(one_pass("[A-Z]{2}"))             -- a search
    assert.is_false(one_pass("^[a-z]+[a-z0-9]$"))     -- the next class overlaps
    assert.is_false(one_pass("^[a-z]+[0-9]?$"))       -- the next class may take nothing
    assert.is_false(one_pass("^\\d{4}(-\\d{2})?$"))  -- a group
  end)

  it("lays a class out as a 32-byte bitmap, LSB first", function()
    local re = generate.compile_pattern("[A]")
    local set = re.nodes[1].set
    assert.equals(32, #set)
    assert.equals(2, set[9]) -- "A" = 65: byte 65 // 8 = 8 (index 9), bit 65 % 8 = 1
    for i = 1, 32 do
      if i ~= 9 then assert.equals(0, set[i]) end
    end
    assert.is_false(re.anchored_begin)
    assert.is_false(re.anchored_end)
  end)

  it("reads . (not \\n, \\r), negated classes, shorthand negations, {n,} and {n,m}, (?:", function()
    assert.equals("\\x00-\\x09\\x0b-\\x0c\\x0e-\\xff", S(generate.compile_pattern(".").nodes[1].set))
    assert.equals("\\x00-`{-\\xff", S(generate.compile_pattern("[^a-z]").nodes[1].set))
    assert.equals("\\x00-/:-\\xff", S(generate.compile_pattern("\\D").nodes[1].set))
    local re = generate.compile_pattern("a{2,}b{1,3}(?:cd)*")
    assert.same({ { "class", 2, MANY, "a" }, { "class", 1, 3, "b" },
      { "group", 0, MANY, { { "class", 1, 1, "c" }, { "class", 1, 1, "d" } } } }, shape(re.nodes))
  end)

  it("keeps ^ and $ that are not at the ends as nodes", function()
    local re = generate.compile_pattern("a^b$c")
    assert.same({ { "class", 1, 1, "a" }, { "begin", 1, 1 }, { "class", 1, 1, "b" }, { "end", 1, 1 },
      { "class", 1, 1, "c" } }, shape(re.nodes))
  end)

  it("refuses what the matcher cannot express, naming pattern and position", function()
    local cases = {
      { "^a|b$", "alternation", 3 },
      { "(?=a)", "lookaround", 1 },
      { "(?!a)", "lookaround", 1 },
      { "(?<=a)b", "lookaround", 1 },
      { "(a)\\1", "backreference", 4 },
      { "a+?", "lazy", 3 },
      { "a*?", "lazy", 3 },
      { "caf\195\169", "non%-ASCII", 4 },
      { "[a-", "unterminated class", 1 },
      { "(ab", "unterminated group", 1 },
      { "*a", "nothing to repeat", 1 },
      { "\\bword", "word boundary", 1 },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(generate.compile_pattern, c[1])
      assert.is_false(ok, c[1])
      assert.matches(c[2], err, nil, false, c[1])
      assert.truthy(err:find(("%q"):format(c[1]), 1, true), err)
      assert.truthy(err:find("position " .. c[3], 1, true), c[1] .. ": " .. err)
    end
  end)

  it("compiled every pattern of the included operations into the C table", function()
    local c = read("csrc/gen/operations.c")
    local compiled = {}
    for src in c:gmatch("static const kombo_regex r%d+ = {(\"[^\n]-\"), n") do compiled[src] = true end
    local _, model = generate.generate(".")
    local seen, n = {}, 0
    local function walk(d)
      if d == nil or seen[d] then return end
      seen[d] = true
      if d.pattern then
        n = n + 1
        assert.truthy(compiled[generate.c_string(d.pattern.source)], d.pattern.source .. " is not in the C table")
      end
      for _, p in ipairs(d.properties or {}) do walk(p.schema) end
      for _, b in ipairs(d.branches or {}) do walk(b) end
      walk(d.items)
      walk(d.additional)
    end
    for _, op in ipairs(model.operations) do
      walk(op.body_schema)
      walk(op.query)
    end
    assert.truthy(n >= 3, "only " .. n .. " patterns found")
  end)
end)
