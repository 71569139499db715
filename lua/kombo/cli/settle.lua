--- Settling: did an upload whose request went out whole, and whose answer
-- never came, land?  Only evidence counts (README "kombo-attach", "What a
-- settle can prove"):
--
--   * the content: an attachment of the target with the row's name and type
--     whose `data_url` downloads to the row's SHA-256 (decisive either way);
--   * the time, when the content cannot be compared: such an attachment
--     whose `remote_created_at` is no earlier than the attempt's "written"
--     time less CLOCK_SKEW.
--
-- An older file of the same name proves nothing; neither does an empty
-- listing (the ATS may still be processing the upload).  What cannot be
-- proved stays `unknown`.
local core = require "kombo.core"

local settle = {}

local floor, format = math.floor, string.format

--- How far the ATS's clock may be behind ours, in seconds.
settle.CLOCK_SKEW = 120

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
function settle.parse_time(s)
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

-- The target a row uploads to, as the listing's arguments and a key.
local function target_of(row)
  local job = row.job
  local id_key = job.application_id and "application_id" or "candidate_id"
  return { [id_key] = job[id_key], integration_id = job.integration_id },
    table.concat({ job.integration_id, id_key, job[id_key] }, "\0")
end

-- Lists a target's attachments once: results, or nil, err.
local function lister(client)
  local cache = {}
  return function(row)
    local args, key = target_of(row)
    local c = cache[key]
    if not c then
      local op = args.application_id and "get_application_attachments" or "get_candidate_attachments"
      local res, err = client[op](client, args)
      c = { results = res and res.data and res.data.results, err = err }
      if res and type(c.results) ~= "table" then
        c.results, c.err = nil, { message = "the listing has no results" }
      end
      cache[key] = c
    end
    return c.results, c.err
  end
end

--- Settles rows.  Each row has `job`, `id`, `digest` (nil for data_url
-- rows) and `written` (the journal's last "written" event, or nil).
-- `claimed` is the set of attachment ids already accounted for (done or
-- found rows): one never settles two rows.  `opts.fetch_timeout`.
-- @return for each row (same order) `{ state = "found", attachment = id, evidence = "content"|"time" }`
-- or `{ state = "unknown", reason = text, error = err or nil }`
function settle.rows(client, rows, claimed, opts)
  opts = opts or {}
  local list = lister(client)
  local downloaded = {} -- data_url -> digest or false
  local out = {}
  for i, row in ipairs(rows) do
    local a = row.job.body.attachment
    local results, err = list(row)
    local verdict
    if not results then
      verdict = { state = "unknown", error = err,
        reason = "its target could not be listed: " .. tostring(err and err.message or err) }
    else
      local since = row.written and row.written.time
      local same, undecided = 0, nil
      for _, att in ipairs(results) do
        local aid = att.id
        if type(att) == "table" and att.file_name == a.name and att.type == a.type
          and not (aid and claimed[aid]) then
          same = same + 1
          local url = att.data_url
          local content -- true: same bytes; false: other bytes; nil: not compared
          if row.digest and type(url) == "string" and url:find("^[hH][tT][tT][pP][sS]?://") then
            local d = downloaded[url]
            if d == nil then
              local why
              d, why = core.fetch_sha256(url, { timeout = opts.fetch_timeout or 60, ca_file = opts.ca_file })
              if not d then undecided, d = "its file could not be downloaded to compare: " .. tostring(why), false end
              downloaded[url] = d
            end
            if d then content = d == row.digest end
          end
          local created = settle.parse_time(att.remote_created_at)
          if content == true then
            verdict = { state = "found", attachment = aid, evidence = "content" }
          elseif content == nil and since and created and created >= since - settle.CLOCK_SKEW then
            verdict = { state = "found", attachment = aid, evidence = "time" }
          elseif content == nil and not undecided then
            undecided = since and "the listing gives no time and no file to compare"
              or "the listing gives no file to compare"
            if created then undecided = nil end -- older than the attempt: another file
          end
          if verdict then break end
        end
      end
      if not verdict then
        local reason
        if same == 0 then
          reason = format("the listing shows no %s named %q yet", a.type, a.name)
        elseif undecided then
          reason = format("%d attachment(s) named %q, and %s", same, a.name, undecided)
        else
          reason = format("%d attachment(s) named %q, none of them this upload", same, a.name)
        end
        verdict = { state = "unknown", reason = reason }
      end
    end
    if verdict.state == "found" and verdict.attachment then claimed[verdict.attachment] = true end
    out[i] = verdict
  end
  return out
end

return settle
