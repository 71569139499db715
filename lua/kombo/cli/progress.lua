--- The progress of kombo-attach and kombo apply, on stderr (stdout is the
-- report's): on a terminal one bar, redrawn in place; elsewhere a plain
-- line every few seconds.  Fed with the batch's `on_progress` stats.
local progress = {}

local format, floor, rep = string.format, math.floor, string.rep

local function human_bytes(n)
  if n < 1024 then return format("%d B", floor(n)) end
  if n < 1048576 then return format("%.1f KiB", n / 1024) end
  if n < 1073741824 then return format("%.1f MiB", n / 1048576) end
  return format("%.2f GiB", n / 1073741824)
end
progress.human_bytes = human_bytes

local function clock(s)
  s = floor(s + 0.5)
  if s >= 3600 then return format("%d:%02d:%02d", floor(s / 3600), floor(s / 60) % 60, s % 60) end
  return format("%d:%02d", floor(s / 60), s % 60)
end

local P = {}
P.__index = P

--- `opts = { total = rows, out = io.stderr, tty = bool, now = fn, interval = s (plain lines), width = cols,
-- prefix = "kombo-attach", unit = "files" }`.
function progress.new(opts)
  return setmetatable({
    total = opts.total, out = opts.out or io.stderr, tty = opts.tty, now = opts.now,
    interval = opts.interval or 5, width = opts.width or 30, last = nil, drawn = false,
    prefix = opts.prefix or "kombo-attach", unit = opts.unit or "files",
  }, P)
end

-- "12/40 files  3.2 MiB  1.1 MiB/s  ETA 0:24  2 retries"
function P:text(stats)
  local done, elapsed = stats.done or 0, stats.elapsed or 0
  -- (no rate before half a second: a few bytes over a few microseconds is not one)
  local rate = elapsed >= 0.5 and (stats.bytes_sent or 0) / elapsed or nil
  local eta = "?"
  if done >= self.total then eta = "0:00"
  elseif done > 0 and elapsed > 0 then eta = clock(elapsed / done * (self.total - done)) end
  local failed = (stats.failed or 0) > 0 and format(", %d failed", stats.failed) or ""
  return format("%d/%d %s%s, %s, %s/s, ETA %s, %d retries", done, self.total, self.unit, failed,
    human_bytes(stats.bytes_sent or 0), rate and human_bytes(rate) or "?", eta, stats.retries or 0)
end

function P:update(stats, final)
  local t = self.now()
  if self.tty then
    local frac = self.total > 0 and (stats.done or 0) / self.total or 1
    local fill = floor(frac * self.width + 0.5)
    self.out:write("\r[", rep("#", fill), rep(".", self.width - fill), "] ", self:text(stats), "\027[K")
    if final then self.out:write("\n") end
    self.out:flush()
    self.drawn = not final
  elseif final or not self.last or t - self.last >= self.interval then
    local text = self:text(stats)
    if final and text == self.last_text then return end -- attach_many's last report was this one
    self.last, self.last_text = t, text
    self.out:write(self.prefix, ": ", text, "\n")
    self.out:flush()
  end
end

--- Ends the bar's line (before something else is printed on stderr).
function P:clear()
  if self.tty and self.drawn then
    self.out:write("\r\027[K")
    self.out:flush()
    self.drawn = false
  end
end

return progress
