-- The hand-kept half of the operation table: only what Kombo's API
-- description (spec/contract/kombo-openapi.json, a verbatim copy, never
-- edited) does not say.  tools/generate.lua (`make generate`) reads both and
-- writes csrc/gen/operations.c, lua/kombo/gen/*.lua and doc/operations.luadoc.
--
-- Per operation (by method and path, both exactly as the description has
-- them):
--   name         the Lua method (and the C table's name)
--   data_member  a member `data` of the positive response must have (the
--                response check of kombo_response_shape), or nil
--   resend       true: may be resent after an unknown outcome although it is
--                no GET (an exception to "only GETs are resent"); none today
--   doc          what the reference says beyond the description, ours: a
--                summary, a note (semantics: how an unknown outcome is
--                settled), the LDoc type of the argument table and of
--                res.data where doc/reference.luadoc or doc/calls.luadoc
--                describe them, and a usage example
--
-- Everything else comes from the description: path parameters, query
-- parameters, request body, whether X-Integration-Id is required, whether
-- the positive response requires `warnings`.
--
-- doc_url: the operations carry no URL of their own in the description; the
-- two it links to (https://docs.kombo.dev/ats/v1/get-jobs,
-- https://docs.kombo.dev/ats/v1/post-jobs-job-id-applications) show the
-- convention, which the generator applies to every operation:
--   https://docs.kombo.dev/<section>/v1/<method>-<rest>
-- where <section> is "ats" for /ats/... paths (then <rest> is the path
-- without "/ats") and "general" otherwise, and <rest> is the path's segments
-- joined with "-", braces dropped, "_" as "-", lower case.  `doc_url` here
-- overrides it for one operation.
return {
  -- Members passed through open: unknown members allowed, listed ones still
  -- checked (by name, wherever they occur in an included request body).
  open = { "remote_fields" },

  -- Excluded although under /ats: customer-specific endpoints.
  exclude = {
    "POST /ats/custom/avionte/synced-jobs",
    "DELETE /ats/custom/avionte/synced-jobs/{job_remote_id}",
  },

  -- Included beyond /ats/...: these paths exactly.
  also = { "/check-api-key", "/force-sync", "/passthrough/{tool}/{api}" },

  operations = {
    -- uploads and their listings
    ["POST /ats/candidates/{candidate_id}/attachments"] = {
      name = "attach_to_candidate",
      doc = {
        summary = "Uploads a document to a candidate",
        note = "Not retried once it may have been processed (an upload is not idempotent):\n"
          .. "an @{Error} with outcome `unknown` is settled with @{Client:attachment_exists}.",
        args = "AttachToCandidateArgs", data = "UploadData",
        usage = 'local res, err = client:attach_to_candidate{\n'
          .. '  candidate_id = "8Xi6iZrwusZqJmDGXs49GBmJ",\n'
          .. '  body = { attachment = { file = "cv.pdf", type = "CV" } },\n}',
      },
    },
    ["POST /ats/applications/{application_id}/attachments"] = {
      name = "attach_to_application",
      doc = {
        summary = "Uploads a document to an application",
        note = "Not retried once it may have been processed, as @{Client:attach_to_candidate}.",
        args = "AttachToApplicationArgs", data = "UploadData",
        usage = 'local res, err = client:attach_to_application{\n'
          .. '  application_id = "7Xi6iZrwusZqJmDGXs49GBmJ",\n'
          .. '  body = { attachment = { bytes = pdf, name = "letter.pdf", type = "COVER_LETTER" } },\n}',
      },
    },
    ["GET /ats/candidates/{candidate_id}/attachments"] = {
      name = "get_candidate_attachments", data_member = "results",
      doc = {
        summary = "Lists a candidate's attachments", args = "GetCandidateAttachmentsArgs", data = "AttachmentList",
        usage = 'local res = assert(client:get_candidate_attachments{ candidate_id = "8Xi6iZrwusZqJmDGXs49GBmJ" })\n'
          .. "for _, a in ipairs(res.data.results) do print(a.id, a.type, a.file_name) end",
      },
    },
    ["GET /ats/applications/{application_id}/attachments"] = {
      name = "get_application_attachments", data_member = "results",
      doc = {
        summary = "Lists an application's attachments", args = "GetApplicationAttachmentsArgs",
        data = "AttachmentList",
        usage = 'local res = assert(client:get_application_attachments{ application_id = "7Xi6iZrwusZqJmDGXs49GBmJ" })',
      },
    },
    ["GET /ats/actions/ats_add_candidate_attachment"] = {
      name = "candidate_attachment_restrictions", data_member = "attachment_restrictions",
      doc = {
        summary = "The integration's rules for candidate uploads",
        note = "Supported types, maximum size and accepted MIME types; also\n"
          .. "@{Client:attachment_restrictions}`(\"candidate\")`.  Retried like every read (idempotent).",
        args = "RestrictionsArgs", data = "RestrictionsData",
        usage = "local res = assert(client:candidate_attachment_restrictions())",
      },
    },
    ["GET /ats/actions/ats_add_application_attachment"] = {
      name = "application_attachment_restrictions", data_member = "attachment_restrictions",
      doc = {
        summary = "The integration's rules for application uploads",
        note = "As @{Client:candidate_attachment_restrictions}, for applications.",
        args = "RestrictionsArgs", data = "RestrictionsData",
        usage = 'local res = assert(client:application_attachment_restrictions{ integration_id = "workday:..." })',
      },
    },
    ["GET /ats/actions/ats_create_candidate"] = {
      name = "create_candidate_restrictions", data_member = "attachment_restrictions" },
    ["GET /ats/actions/ats_create_application"] = {
      name = "create_application_restrictions", data_member = "attachment_restrictions" },
    ["GET /check-api-key"] = {
      name = "check_api_key", data_member = "environment_id",
      doc = {
        summary = "Checks the API key (no `X-Integration-Id`)",
        note = "A wrong key is an `api` @{Error}, status 401, code `PLATFORM.AUTHENTICATION_INVALID`.",
        data = "ApiKeyData",
        usage = "local res, err = client:check_api_key()   --> res.data.environment_id, res.data.customer_id",
      },
    },

    -- the lists (data.results, paged by data.next)
    ["GET /ats/applications"] = { name = "get_applications", data_member = "results" },
    ["GET /ats/candidates"] = { name = "get_candidates", data_member = "results" },
    ["GET /ats/jobs"] = { name = "get_jobs", data_member = "results" },
    ["GET /ats/tags"] = { name = "get_tags", data_member = "results" },
    ["GET /ats/application-stages"] = { name = "get_application_stages", data_member = "results" },
    ["GET /ats/users"] = { name = "get_users", data_member = "results" },
    ["GET /ats/roles"] = { name = "get_roles", data_member = "results" },
    ["GET /ats/offers"] = { name = "get_offers", data_member = "results" },
    ["GET /ats/rejection-reasons"] = { name = "get_rejection_reasons", data_member = "results" },
    ["GET /ats/interviews"] = { name = "get_interviews", data_member = "results" },

    -- writes
    ["POST /ats/jobs/{job_id}/applications"] = {
      name = "create_application",
      doc = {
        summary = "Creates an application, and its candidate, with their documents inline (Kombo's route for a CV)",
        note = "Every file object (`attachments`, a `FILE` screening answer) streams at constant memory.\n"
          .. "With `preflight`, the attachments are checked against `create_application_restrictions` first.\n"
          .. "`ATS.APPLICATION_ALREADY_EXISTS` is an @{Error} with `already_exists = true`: look the\n"
          .. "application up, do not create it again.  Not retried once it may have been processed:\n"
          .. "after an outcome `unknown`, look it up before sending it again.",
        usage = 'local res, err = client:create_application{\n'
          .. '  job_id = "job-1", preflight = true,\n'
          .. '  body = { candidate = { first_name = "Ada", last_name = "Lovelace", email_address = "ada@example.com" },\n'
          .. '           attachments = { { file = "cv.pdf", type = "CV" }, { file = "letter.pdf", type = "COVER_LETTER" } } },\n}',
      },
    },
    ["POST /ats/candidates"] = {
      name = "create_candidate",
      doc = {
        summary = "Creates a candidate, and an application, with their documents inline",
        note = "As @{Client:create_application}: file objects streamed, `preflight` against\n"
          .. "`create_candidate_restrictions`; not retried once it may have been processed.",
      },
    },
    ["PUT /ats/applications/{application_id}/stage"] = { name = "move_application_to_stage" },
    ["POST /ats/applications/{application_id}/reject"] = { name = "reject_application" },
    ["POST /ats/applications/{application_id}/notes"] = { name = "add_application_note" },
    ["POST /ats/applications/{application_id}/result-links"] = { name = "add_application_result_link" },
    ["POST /ats/candidates/{candidate_id}/result-links"] = { name = "add_candidate_result_link" },
    ["POST /ats/candidates/{candidate_id}/tags"] = { name = "add_candidate_tag" },
    ["DELETE /ats/candidates/{candidate_id}/tags"] = { name = "remove_candidate_tag" },
    ["POST /ats/applications/{application_id}/interviews"] = { name = "create_interview" },
    ["PATCH /ats/applications/{application_id}/interviews"] = { name = "update_interview" },
    ["POST /ats/import-tracked-application"] = { name = "import_tracked_application" },
    ["POST /force-sync"] = { name = "force_sync" },
    ["POST /passthrough/{tool}/{api}"] = { name = "passthrough" },
  },
}
