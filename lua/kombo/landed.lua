--- Whether an upload landed, from a listing of its target's attachments:
-- the evidence rules that `Client:attachment_exists` and kombo-attach's
-- settle share (README "Errors, retries and safety", "What a settle can
-- prove").  Only evidence counts:
--
--   * the content: an attachment with the upload's name and type whose
--     `data_url` downloads to the upload's SHA-256 (decisive either way);
--   * the time, when the content cannot be compared: exactly one such
--     attachment whose `remote_created_at` is no earlier than the time the
--     request was handed over whole (`since`) less CLOCK_SKEW.
--
-- An older file of the same name proves nothing; neither does an empty
-- listing (the ATS may still be processing the upload).
local core = require "kombo.core"

local landed = {}

local floor, format = math.floor, string.format

--- How far the ATS's clock may be behind ours, in seconds.
landed.CLOCK_SKEW = 120

-- Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
-- days_from_civil), so that no local time zone is involved.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Seconds since the epoch of an ISO 8601 date-time with a zone ("Z" or
-- ±hh:mm), as Kombo gives `remote_created_at`; nil for anything else.
function landed.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local frac, zone = rest:match("^(%.%d+)(.*)$")
  if not frac then frac, zone = "", rest end
  local offset
  if zone == "Z" or zone == "z" then
    offset = 0
  else
    local sign, oh, om = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then return nil end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + (tonumber("0" .. frac) or 0) - offset
end

--- A downloader of `data_url`s that remembers what it fetched:
-- `fetch(url) -> digest | false, why` (core.fetch_sha256: no Kombo header
-- is sent to that host, the body streams into the digest).
function landed.downloader(opts)
  local seen = {}
  return function(url)
    local d = seen[url]
    if d == nil then
      local why
      d, why = core.fetch_sha256(url, { timeout = opts and opts.timeout or 60, ca_file = opts and opts.ca_file })
      if not d then d = { why = why } end
      seen[url] = d
    end
    if type(d) == "table" then return false, d.why end
    return d
  end
end

--- Looks for the upload in a listing's `results`.
-- `doc = { name =, type =, digest = hex or nil, since = wall seconds or nil,
-- by_time = false when another upload of this name and type is being
-- settled (then only the content can decide) }`;
-- `claimed` = attachment ids already accounted for (never matched again);
-- `fetch` = landed.downloader().
-- @return `{ state = "found", attachment = the listed attachment, evidence = "content"|"time" }`
-- or `{ state = "unknown", reason = text }`
function landed.match(results, doc, claimed, fetch)
  local same, undecided, by_time = 0, nil, nil
  for _, att in ipairs(results) do
    if type(att) == "table" and att.file_name == doc.name and att.type == doc.type
      and not (att.id and claimed and claimed[att.id]) then
      same = same + 1
      local url = att.data_url
      local content -- true: the same bytes; false: other bytes; nil: not compared
      if doc.digest and type(url) == "string" and url:find("^[hH][tT][tT][pP][sS]?://") then
        local d, why = fetch(url)
        if d then
          content = d == doc.digest
        else
          undecided = "its file could not be downloaded to compare: " .. tostring(why)
        end
      end
      local created = landed.parse_time(att.remote_created_at)
      if content == true then
        return { state = "found", attachment = att, evidence = "content" }
      elseif content == nil and doc.since and created and created >= doc.since - landed.CLOCK_SKEW then
        -- Time evidence only when it points at one attachment, and no other
        -- upload of this name and type is being settled (doc.by_time).
        if by_time == nil and doc.by_time ~= false then
          by_time = att
        else
          by_time, undecided = false, "more than one could be it, and their files cannot be compared"
        end
      elseif content == nil and not created and not undecided then
        undecided = doc.since and "the listing gives no time and no file to compare"
          or "the listing gives no file to compare"
      end
    end
  end
  if by_time then return { state = "found", attachment = by_time, evidence = "time" } end
  if doc.by_time == false and not undecided and same > 0 then
    undecided = "another upload of this name and type is being settled, and the files cannot be compared"
  end
  local reason
  if same == 0 then
    reason = format("the listing shows no %s named %q yet", tostring(doc.type), tostring(doc.name))
  elseif undecided then
    reason = format("%d attachment(s) named %q, and %s", same, doc.name, undecided)
  else
    reason = format("%d attachment(s) named %q, none of them this upload", same, doc.name)
  end
  return { state = "unknown", reason = reason }
end

return landed
