-- Small uploads, kombo-lua against the raw libcurl loop, in one process:
-- blocks of BLOCK calls of each, alternating (which goes first swaps every
-- pair), until each has made N timed calls.  This VM has a slow and a fast
-- mode that flip every few seconds; two processes run one after the other
-- can land in different modes (bench/run's separate runs' ratios went from
-- 0.81 to 0.94 between rounds), while blocks a few tens of milliseconds
-- apart share theirs.
--
--   lua5.4 bench/interleaved.lua SERVER_URL CV_FILE HEADERS_FILE BODY_FILE N BLOCK WARMUP [control]
--
-- HEADERS_FILE and BODY_FILE: kombo-lua's request as bench/run captured it;
-- the raw side (bench/raw_inproc.c, a C loop) sends exactly those bytes.
-- "control" times a second raw loop in kombo-lua's place: its distance from
-- 1 is a lower bound of the method's error (0.98-1.01 in most rounds, once
-- 1.06); two copies of the same kombo-lua in one process differ by up to
-- about 2.5 % (bench/README.md, "Eleventh step"), from where code and heap
-- happen to lie.
--
-- Prints "<kombo calls/s> <raw calls/s> <kombo/raw>".  kombo-lua's side is
-- bench/small_call.lua's call (the one bench/small.lua times); every call must succeed or the script fails.
local core = require "kombo.core"
local open_raw = require "raw_inproc"
local small = dofile((arg[0]:match("^(.*)/") or ".") .. "/small_call.lua")

local server_url, cv_file, headers_file, body_file = arg[1], arg[2], arg[3], arg[4]
local n, block, warmup, control = tonumber(arg[5]), tonumber(arg[6]), tonumber(arg[7]), arg[8] == "control"
assert(server_url and cv_file and headers_file and body_file and n and block and block >= 1 and warmup,
  "usage: interleaved.lua SERVER_URL CV_FILE HEADERS_FILE BODY_FILE N BLOCK WARMUP [control]")
local path = "/ats/candidates/cand_bench_1/attachments" -- small_call.lua's candidate

local raw = open_raw(server_url .. path, headers_file, body_file)
local other -- kombo-lua's side: n calls of bench/small.lua's loop
if control then
  other = open_raw(server_url .. path, headers_file, body_file)
else
  local client = small.client(server_url, { timeout = 30 })
  local args = small.upload_args(cv_file)
  other = function(count)
    for _ = 1, count do
      local res, err = client:attach_to_candidate(args)
      if not res then error("kombo-lua call failed: " .. tostring(err)) end
    end
  end
  local res = client:attach_to_candidate(args)
  assert(res and res.data.id == "att_1", "unexpected answer") -- (the server's, as bench/small.lua checks)
end

other(warmup); raw(warmup) -- connections open, caches and the allocator settled

local now = core.now
local t_other, t_raw, done, pair = 0, 0, 0, 0
while done < n do
  local count = math.min(block, n - done)
  local t0, t1, t2
  if pair % 2 == 0 then
    t0 = now(); other(count); t1 = now(); raw(count); t2 = now()
    t_other, t_raw = t_other + (t1 - t0), t_raw + (t2 - t1)
  else
    t0 = now(); raw(count); t1 = now(); other(count); t2 = now()
    t_raw, t_other = t_raw + (t1 - t0), t_other + (t2 - t1)
  end
  done, pair = done + count, pair + 1
end
io.write(("%.1f %.1f %.4f\n"):format(n / t_other, n / t_raw, t_raw / t_other))
