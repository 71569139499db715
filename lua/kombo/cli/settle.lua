--- kombo-attach's settle: did an upload whose request went out whole, and
-- whose answer never came, land?  Each target is listed once; each row is
-- looked for in its listing by the library's evidence rules (kombo.landed:
-- the same bytes behind a data_url, or else an attachment created after the
-- request was written).  What cannot be proved stays `unknown`.
local landed = require "kombo.landed"

local settle = {}

settle.CLOCK_SKEW = landed.CLOCK_SKEW

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

--- Settles rows.  Each row has `job`, `digest` (nil for data_url rows) and
-- `written` (the journal's "written" event, or nil).  `claimed` is the set
-- of attachment ids already accounted for (done or found rows): one never
-- settles two rows.  `opts.fetch_timeout`.
-- @return for each row (same order) `{ state = "found", attachment = id, evidence = "content"|"time" }`
-- or `{ state = "unknown", reason = text, error = err or nil }`
function settle.rows(client, rows, claimed, opts)
  opts = opts or {}
  local list = lister(client)
  local fetch = landed.downloader({ timeout = opts.fetch_timeout })
  local out = {}
  -- Rows of one target with the same name and type can be told apart only
  -- by their content: time evidence would credit one with the other's file.
  local same = {}
  for _, row in ipairs(rows) do
    local a = row.job.body.attachment
    local k = select(2, target_of(row)) .. "\0" .. tostring(a.name) .. "\0" .. tostring(a.type)
    same[k] = (same[k] or 0) + 1
    row.settle_key = k
  end
  for i, row in ipairs(rows) do
    local a = row.job.body.attachment
    local verdict
    if opts.stop and opts.stop() then
      verdict = { state = "stopped", reason = "stopped by a signal before it was settled" }
    else
      local results, err = list(row)
      if not results then
        verdict = { state = "unknown", error = err,
          reason = "its target could not be listed: " .. tostring(err and err.message or err) }
      else
        verdict = landed.match(results, { name = a.name, type = a.type, digest = row.digest,
          since = row.written and row.written.time, by_time = same[row.settle_key] == 1 }, claimed, fetch)
        if verdict.state == "found" then
          local id = verdict.attachment.id
          verdict.attachment = id
          if id then claimed[id] = true end
        end
      end
    end
    out[i] = verdict
  end
  return out
end

return settle
