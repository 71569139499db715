-- attachment.file naming something that is not a regular file: a FIFO
-- (named pipe), a character device (/dev/zero, /dev/urandom), a socket, a
-- directory.  Each is a validation problem at body.attachment.file naming
-- the path and what it is, found before any byte is read and without an
-- open() that waits, and nothing is sent (README "Calls": "a file that ...
-- is not a regular file is a validation error").
--
-- A FIFO nobody writes to blocks a plain open() for reading forever, so the
-- FIFO cases run first in a child process under timeout(1): a regression
-- fails there instead of hanging the suite.  Only once that passed do they
-- run in this process too (where valgrind and ASan watch the C core); the
-- other kinds never block an open() and run here directly.
local servers = require "support.servers"
local files = require "support.files"
local sys = require "support.sys"
local cjson = require "cjson"

local q = files.sh_quote
local CHILD_SECONDS = 10 -- the hard limit: the child needs well under 1 s

-- The child: uploads arg[2] (a path) in the way arg[3] names, on a client
-- for integration arg[1]; prints the outcome as one JSON line.
local CHILD = [[
local cjson = require "cjson"
local servers = require "support.servers"
local integ, path, how = arg[1], arg[2], arg[3]
local client = servers.client { integration_id = integ }
local function outcome(res, err)
  if res then return { ok = true } end
  local problems = {}
  for i, p in ipairs(err.problems or {}) do problems[i] = { path = p.path, message = p.message } end
  return { kind = err.kind, outcome = err.outcome, problems = problems, message = err.message }
end
local function job(i, file)
  local a = file and { file = file, type = "CV" } or { bytes = "good " .. i, name = ("good-%d.txt"):format(i), type = "CV" }
  return { candidate_id = "cand-special", body = { attachment = a } }
end
local out
if how == "candidate" then
  out = outcome(client:attach_to_candidate { candidate_id = "cand-special", body = { attachment = { file = path, type = "CV" } } })
elseif how == "application" then
  out = outcome(client:attach_to_application { application_id = "app-special",
    body = { attachment = { file = path, type = "COVER_LETTER" } } })
else -- attach_many: the special file between two good jobs
  local summary = client:attach_many({ job(1), job(2, path), job(3) }, { concurrency = 2 })
  out = { succeeded = summary.succeeded, failed = summary.failed, results = {} }
  for i = 1, 3 do
    local r = summary.results[i]
    local kombo = require "kombo"
    out.results[i] = kombo.is_error(r) and outcome(nil, r) or outcome(r)
  end
end
client:close()
io.write("RESULT ", cjson.encode(out), "\n")
]]

local function in_child(integ, path, how)
  local rc, out = sys.run_lua(CHILD, { integ, path, how }, CHILD_SECONDS)
  assert(rc ~= 124 and rc ~= 137, ("the child was stopped after %d s (blocked on the file?): %s")
    :format(CHILD_SECONDS, out))
  assert(rc == 0, "the child failed (exit " .. tostring(rc) .. "): " .. out)
  local json = assert(out:match("RESULT ([^\n]+)"), "the child printed: " .. out)
  return cjson.decode(json)
end

local function the_problem(o, path, what)
  assert.equals("validation", o.kind, cjson.encode(o))
  assert.equals("not_sent", o.outcome)
  assert.equals(1, #o.problems, cjson.encode(o.problems))
  local p = o.problems[1]
  assert.equals("body.attachment.file", p.path)
  assert.truthy(p.message:find(path, 1, true), p.message)
  assert.truthy(p.message:find(what, 1, true), p.message)
  return p
end

local function nothing_sent(integ)
  local recs = servers.requests(integ)
  assert.equals(0, #recs, "the stand-in saw: " .. servers.dump(recs))
end

local FIFO = "is a FIFO (named pipe), not a regular file"

describe("attachment.file that is not a regular file #integration #streaming", function()
  local dir, fifo, sock, sock_obj
  local fifo_safe = false -- the child runs showed that a FIFO does not block

  setup(function()
    dir = files.tmpdir()
    fifo = dir .. "/pipe.pdf"
    assert(files.run("mkfifo " .. q(fifo)), "mkfifo failed")
    local unix = require "socket.unix"
    sock_obj = assert((unix.stream or unix)())
    sock = dir .. "/socket.pdf"
    assert(sock_obj:bind(sock))
  end)

  teardown(function()
    if sock_obj then sock_obj:close() end
    files.rmtree(dir)
  end)

  describe("a FIFO, in a child process with a hard time limit", function()
    it("attach_to_candidate: a validation problem naming the path and the kind, at once", function()
      local integ = servers.unique("fifo")
      the_problem(in_child(integ, fifo, "candidate"), fifo, FIFO)
      nothing_sent(integ)
    end)

    it("attach_to_application: the same", function()
      local integ = servers.unique("fifo")
      the_problem(in_child(integ, fifo, "application"), fifo, FIFO)
      nothing_sent(integ)
    end)

    it("attach_many: the FIFO job fails validation, the good jobs around it land", function()
      local integ = servers.unique("fifo")
      local o = in_child(integ, fifo, "many")
      assert.equals(2, o.succeeded, cjson.encode(o))
      assert.equals(1, o.failed)
      assert.is_true(o.results[1].ok)
      assert.is_true(o.results[3].ok)
      the_problem(o.results[2], fifo, FIFO)
      local posts = 0
      for _, rec in ipairs(servers.requests(integ)) do
        if rec.method == "POST" then posts = posts + 1 end
      end
      assert.equals(2, posts)
      fifo_safe = true
    end)
  end)

  describe("in this process", function()
    local function upload(path, how)
      local client, integ = servers.client()
      local res, err
      if how == "application" then
        res, err = client:attach_to_application { application_id = "app-special",
          body = { attachment = { file = path, type = "CV" } } }
      else
        res, err = client:attach_to_candidate { candidate_id = "cand-special",
          body = { attachment = { file = path, type = "CV" } } }
      end
      client:close()
      assert.is_nil(res)
      local o = { kind = err.kind, outcome = err.outcome, problems = {} }
      for i, p in ipairs(err.problems or {}) do o.problems[i] = { path = p.path, message = p.message } end
      return o, integ
    end

    it("a FIFO (once the child runs showed it does not block)", function()
      assert(fifo_safe, "not run: the FIFO cases in a child process failed")
      local o, integ = upload(fifo)
      the_problem(o, fifo, FIFO)
      nothing_sent(integ)
    end)

    it("/dev/zero and /dev/urandom: character devices, refused before any byte is read", function()
      for _, path in ipairs { "/dev/zero", "/dev/urandom" } do
        for _, how in ipairs { "candidate", "application" } do
          local o, integ = upload(path, how)
          the_problem(o, path, "is a character device, not a regular file")
          nothing_sent(integ)
        end
      end
    end)

    it("a Unix-domain socket", function()
      local o, integ = upload(sock)
      the_problem(o, sock, "is a socket, not a regular file")
      nothing_sent(integ)
    end)

    it("a directory", function()
      local o, integ = upload(dir)
      the_problem(o, dir, "is a directory, not a regular file")
      nothing_sent(integ)
    end)

    it("a symlink to a FIFO is what it points to", function()
      assert(fifo_safe, "not run: the FIFO cases in a child process failed")
      local link = dir .. "/link.pdf"
      assert(files.run("ln -sf " .. q(fifo) .. " " .. q(link)))
      local o, integ = upload(link)
      the_problem(o, link, FIFO)
      nothing_sent(integ)
    end)

    it("a regular file still uploads (the descriptor is back to blocking reads)", function()
      local path = files.write(dir .. "/cv.pdf", "%PDF-1.4\n" .. ("x"):rep(200 * 1024))
      local client = servers.client()
      local res, err = client:attach_to_candidate { candidate_id = "cand-special",
        body = { attachment = { file = path, type = "CV" } } }
      client:close()
      assert.truthy(res, tostring(err))
    end)
  end)
end)
