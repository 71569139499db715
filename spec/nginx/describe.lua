-- Turns kombo's `res` / `nil, err` into a plain table (JSON-safe), the same
-- way in the test app (cosocket transport, inside nginx) and in the busted
-- process (curl transport), so that the two can be compared field by field.
return function(res, err)
  if res then
    return {
      ok = true, status = res.status, data = res.data, warnings = res.warnings,
      http = { status = res.http.status, attempts = res.http.attempts, elapsed = res.http.elapsed,
               content_type = res.http.headers["content-type"] },
    }
  end
  if type(err) ~= "table" then return { ok = false, raised = tostring(err) } end
  return {
    ok = false,
    err = {
      kind = err.kind, outcome = err.outcome, message = err.message, status = err.status,
      code = err.code, title = err.title, log_url = err.log_url, retry_after = err.retry_after,
      attempts = err.attempts, elapsed = err.elapsed, body = err.body,
      content_type = err.headers and err.headers["content-type"] or nil,
      tostring = tostring(err),
    },
  }
end
