---@meta kombo
-- Editor types for kombo-lua: LuaLS (lua-language-server) annotations of the
-- whole public surface, so that an editor completes `kombo.new{` options and
-- call arguments and flags a misspelt field.  A definitions ("meta") file:
-- it is never loaded at run time (`require "kombo"` loads lua/kombo/init.lua);
-- `---@meta kombo` makes the language server take this file's `kombo` for
-- `require "kombo"`.  Installed by the rockspec as kombo.types; README.md
-- ("Editor types") says how to point an editor at it.  The reference
-- (`make docs`, LDoc comments in lua/kombo/ and doc/) documents the same tables.

-- ------------------------------------------------------------------ options

---@alias kombo.Server "eu"|"us"
---@alias kombo.Transport "auto"|"curl"|"cosocket"
---@alias kombo.AttachmentType "CV"|"COVER_LETTER"|"OTHER"

---The options of `kombo.new` and `kombo.configure`; all optional.  Checked
---once, when the client is made: an unknown option, one of the wrong type or
---a bad value raises there, naming it.
---@class kombo.ClientOptions
---The API key; default `$KOMBO_API_KEY`.  Never shown in an error, `tostring` or a `debug` line.
---@field api_key? string
---Sent as `X-Integration-Id`; default `$KOMBO_INTEGRATION_ID`; a call may override it.
---@field integration_id? string
---`"eu"`: https://api.kombo.dev/v1 (default), `"us"`: https://api.us.kombo.dev/v1.
---@field server? kombo.Server
---An absolute http(s) URL; overrides `server`; default `$KOMBO_SERVER_URL`.
---@field server_url? string
---Seconds for one attempt, upload included (default 300; > 0, finite).
---@field timeout? number
---Seconds for the TCP connect and TLS handshake (default 10; > 0, finite).
---@field connect_timeout? number
---The retry policy, or `false` for one attempt.
---@field retries? kombo.RetryOptions|false
---A PEM bundle to trust instead of libcurl's default one (a regular file holding `-----BEGIN CERTIFICATE-----`).
---@field ca_file? string
---An HTTP proxy, `"http://[user:password@]host[:port]"` (port default 1080), every call tunnelled through it
---with CONNECT; `false`: none, whatever the environment says; nil: the environment's (`https_proxy`, `no_proxy`, ...).
---Its credentials never appear in an error, a result, `tostring` or a `debug` line.
---@field proxy? string|false
---Larger answers are an `http` error (default, or 0: 1048576, and 16777216 for a page of a list).
---@field max_response_bytes? integer
---How bytes move: `"auto"` (default: cosockets inside nginx, else libcurl), `"curl"`, `"cosocket"`.
---@field transport? kombo.Transport
---Replaces the User-Agent header, not empty (default `kombo-lua/<version> (<Lua>; libcurl/<version>)`).
---@field user_agent? string
---One line per step of a call, `Authorization` redacted.
---@field debug? fun(line: string)
---Functions called at each attempt of every call: logging, metrics, tracing.
---@field hooks? kombo.Hooks
---Check every upload, and every create's attachments, against the integration's restrictions first (default false).
---@field preflight? boolean
---Seconds the restrictions are cached per client, integration and target (default 300; >= 0).
---@field preflight_ttl? number

---The `retries` option; all optional.
---@class kombo.RetryOptions
---Attempts in all (default 3; a whole number >= 1).
---@field max_attempts? integer
---Seconds before the first retry (default 0.5).
---@field initial_interval? number
---The longest wait in seconds (> 0, default 30); a longer `Retry-After` ends the call at once.
---@field max_interval? number
---Backoff growth per attempt (default 1.5).
---@field exponent? number
---No attempt starts once this many seconds would be exceeded (default 120).
---@field max_elapsed? number
---Also retry uploads whose outcome is `unknown` (default false: they may have landed).
---@field retry_unsafe? boolean

---The `hooks` option of `kombo.new` and of one call; all optional.  A call's
---hooks run after the client's.  A hook that raises ends the call, which
---returns `nil, err` with `err.kind == "hook"` (`before_request`: nothing was
---sent in that attempt; `after_response`: the attempt's outcome is kept, a
---write that went out is `err:may_have_landed()`).
---@class kombo.Hooks
---Before each attempt is sent; may return headers to add to that attempt.
---@field before_request? fun(info: kombo.HookInfo): table<string, string>?
---After each attempt, answered or not.
---@field after_response? fun(info: kombo.HookInfo)
---Before the wait for a retry (`info.delay`).
---@field on_retry? fun(info: kombo.HookInfo)

---What a hook gets: a new table per event.  Never holds the API key.
---@class kombo.HookInfo
---@field event "before_request"|"after_response"|"on_retry"
---@field operation string the method's name (`"get_jobs"`)
---@field method string `"GET"`, `"POST"`, ...
---@field url string the request's URL, query included
---@field path string its path (no host, no query)
---@field attempt integer from 1 (on_retry: the attempt that failed)
---@field headers? string[] before_request: the request's headers, `Authorization: Bearer <redacted>`
---@field status? integer the HTTP status, when one arrived
---@field kind? string `"ok"` or the error's kind
---@field outcome? kombo.Outcome the error's outcome
---@field code? string Kombo's error code
---@field connect_time? number seconds until the connection was ready (0: a kept-alive one)
---@field first_byte_time? number seconds until the answer's first byte (0: none)
---@field total_time? number seconds the attempt took
---@field bytes_sent? number bytes of the request handed to the connection
---@field delay? number on_retry: seconds before the next attempt

---A call's own options: the second argument of every operation's method and
---module function, and a batch job's `options`.  Checked like the client's.
---@class kombo.CallOptions
---@field timeout? number seconds for one attempt
---@field connect_timeout? number seconds for the connect and TLS handshake
---`false`: one attempt; a table: its fields over the client's policy.
---@field retries? kombo.RetryOptions|false
---@field server? kombo.Server
---An absolute http(s) URL; overrides `server`.
---@field server_url? string
---@field max_response_bytes? integer
---Extra request headers; the library's own (`Authorization`, `X-Integration-Id`, `Content-Type`,
---`Content-Length`, `Host`, `Accept`, `User-Agent`, `Connection`, `Transfer-Encoding`, `Expect`) cannot be set.
---@field headers? table<string, string>
---This call's hooks, run after the client's.
---@field hooks? kombo.Hooks

-- ------------------------------------------------------------ call arguments

---`body.attachment`.  Exactly one of `file`, `bytes`, `source` (with `size`),
---`data` and `data_url`.
---@class kombo.Attachment
---The file name (required; defaults to the base name of `file`).
---@field name? string
---`"CV"`, `"COVER_LETTER"` or `"OTHER"` (required).
---@field type kombo.AttachmentType
---A path to a regular file: streamed from disk and base64-encoded by the C core while it is sent
---(a FIFO, a device such as `/dev/zero`, a socket or a directory is a validation problem).
---@field file? string
---The raw bytes, base64-encoded in C.
---@field bytes? string
---A function (or ltn12 source) returning chunks, then nil; read once.  Inside nginx
---(cosocket transport) it may yield (e.g. read `ngx.req.socket()`: `kombo.request_body_source`);
---with libcurl it is called from C and must not.
---@field source? fun(): string?
---The exact total of `source`'s chunks (required with `source`).
---@field size? integer
---Base64 you encoded yourself (`kombo.base64`), sent verbatim.
---@field data? string
---An absolute http(s) URL Kombo downloads the file from.
---@field data_url? string
---`type/subtype`: required with `data`, optional with `data_url`, inferred otherwise.
---@field content_type? string

---Known `remote_fields` of Greenhouse.
---@class kombo.GreenhouseRemoteFields
---@field post_headers? { ["On-Behalf-Of"]: string|kombo.Null|nil }
---Alias of `post_headers["On-Behalf-Of"]`.
---@field on_behalf_of? string|kombo.Null
---@field [string] any

---Known `remote_fields` of Workable.
---@class kombo.WorkableRemoteFields
---@field on_behalf_of_user_remote_id? string
---@field [string] any

---Known `remote_fields` of Oracle (applications only).
---@class kombo.OracleRemoteFields
---@field override_document_category? "IRC_CANDIDATE_RESUME"|"IRC_CANDIDATE_COVERLETTER"|"MISC"|"IRC_INTERNAL"
---@field multi_post_to_all_current_applications? boolean
---@field [string] any

---`body.remote_fields`: ATS-specific extras, passed through unchanged (the
---known ones are type-checked).
---@class kombo.RemoteFields
---@field greenhouse? kombo.GreenhouseRemoteFields
---@field workable? kombo.WorkableRemoteFields
---@field oracle? kombo.OracleRemoteFields
---@field [string] any

---An upload's `body`: the API's, exactly.
---@class kombo.AttachmentBody
---@field attachment kombo.Attachment
---@field remote_fields? kombo.RemoteFields

---The arguments of `attach_to_candidate`.
---@class kombo.AttachToCandidateArgs
---The candidate (one path segment; not empty, `.` or `..`, no CR, LF or NUL).
---@field candidate_id string
---Sent as `X-Integration-Id`; default: the client's.
---@field integration_id? string
---@field body kombo.AttachmentBody
---Bytes of the request body sent so far; the last call has `sent == total`.
---@field on_progress? fun(sent: integer, total: integer)
---Check against the integration's restrictions first (overrides the client's `preflight`).
---@field preflight? boolean

---The arguments of `attach_to_application`.
---@class kombo.AttachToApplicationArgs
---The application (one path segment).
---@field application_id string
---Sent as `X-Integration-Id`; default: the client's.
---@field integration_id? string
---@field body kombo.AttachmentBody
---Bytes of the request body sent so far; the last call has `sent == total`.
---@field on_progress? fun(sent: integer, total: integer)
---Check against the integration's restrictions first (overrides the client's `preflight`).
---@field preflight? boolean

---@alias kombo.UploadArgs kombo.AttachToCandidateArgs|kombo.AttachToApplicationArgs

---The arguments of `get_candidate_attachments`.
---@class kombo.GetCandidateAttachmentsArgs
---@field candidate_id string
---@field integration_id? string

---The arguments of `get_application_attachments`.
---@class kombo.GetApplicationAttachmentsArgs
---@field application_id string
---@field integration_id? string

---The arguments of the restriction operations (may be omitted).
---@class kombo.RestrictionsArgs
---@field integration_id? string

-- ------------------------------------------------------------------ results

---JSON `null` (`kombo.null`, lua-cjson's `cjson.null`).
---@class kombo.Null: lightuserdata

---Kombo's limits as the answer announced them (integers; absent when not sent, not
---digits, above 2^31-1, or repeated with different values).
---@class kombo.Limits
---@field concurrency_limit? integer from the Concurrency-Limit header
---@field concurrency_remaining? integer from the Concurrency-Remaining header
---@field rate_limit? integer from the RateLimit-Limit header
---@field rate_remaining? integer from the RateLimit-Remaining header
---@field rate_reset? integer from the RateLimit-Reset header

---`res.http`: what we know about the exchange.
---@class kombo.Http
---@field status integer the HTTP status
---Lower-case names; repeated headers joined with `, `.
---@field headers table<string, string>
---@field attempts integer how many attempts the call made
---@field elapsed number seconds, waits included
---@field limits kombo.Limits

---@class kombo.Warning
---@field message string

---What a call returns on success: the API's positive response, plus `http`
---(reached through the metatable: `kombo.encode_json(res)` gives back the answer's JSON value,
---not its bytes: object keys come in `pairs` order, which may differ between runs).
---@class kombo.Result
---@field status "success"
---@field data table
---@field warnings? kombo.Warning[]
---@field http kombo.Http

---`res.data` of an upload: the API's `data` object (its fields are open);
---Kombo's answer describes the new attachment.
---@class kombo.UploadData
---@field id? string
---@field [string] any

---@class kombo.UploadResult: kombo.Result
---@field data kombo.UploadData

---One of `res.data.results`.
---@class kombo.ListedAttachment
---@field id string
---`kombo.null` for a candidate's attachment; absent from `get_application_attachments`'s results.
---@field application_id? string|kombo.Null
---Absent from `get_application_attachments`'s results.
---@field candidate_id? string
---@field type kombo.AttachmentType
---@field remote_id string
---@field data_url string
---@field file_name string
---@field content_type string
---ISO 8601 date-time, or `kombo.null`.
---@field remote_created_at string|kombo.Null
---ISO 8601 date-time, or `kombo.null`.
---@field remote_updated_at string|kombo.Null

---`res.data` of the listings.
---@class kombo.AttachmentList
---@field results kombo.ListedAttachment[]

---@class kombo.AttachmentListResult: kombo.Result
---@field data kombo.AttachmentList

---`attachment_restrictions.types[type]`.
---@class kombo.TypeRestriction
---@field is_supported boolean
---The largest decoded size, or `kombo.null` (none stated); absent when not supported.
---@field max_file_size_bytes? number|kombo.Null
---The MIME types it takes, or `kombo.null` (any); absent when not supported.
---@field accepted_mime_types? string[]|kombo.Null

---@class kombo.AttachmentRestrictions
---@field types { CV: kombo.TypeRestriction, COVER_LETTER: kombo.TypeRestriction, OTHER: kombo.TypeRestriction }

---`res.data` of the restriction operations.
---@class kombo.RestrictionsData
---`kombo.null` when the integration publishes none.
---@field attachment_restrictions kombo.AttachmentRestrictions|kombo.Null

---@class kombo.RestrictionsResult: kombo.Result
---@field data kombo.RestrictionsData

---`res.data` of `check_api_key`.
---@class kombo.ApiKeyData
---@field environment_id string
---@field customer_id string

---@class kombo.ApiKeyResult: kombo.Result
---@field data kombo.ApiKeyData

---`res.data` of a list's page (`get_jobs`, `get_candidates`, ...).
---@class kombo.Page
---The records of this page.
---@field results table[]
---The cursor of the next page, or `kombo.null` on the last.
---@field next string|kombo.Null

---A page of a list, as `client:pages` gives it.
---@class kombo.PageResult: kombo.Result
---@field data kombo.Page

-- ------------------------------------------------------------------- errors

---@alias kombo.ErrorKind "validation"|"api"|"http"|"network"|"timeout"|"decode"|"aborted"|"hook"
---@alias kombo.Outcome "not_sent"|"rejected"|"unknown"

---One of `err.problems`.
---@class kombo.Problem
---@field path string where: `"body.attachment.type"`, `"candidate_id"`, ...
---@field message string what is wrong there

---The error object of `nil, err`.  `tostring(err)` and `"failed: " .. err`
---read `kombo <kind> error: <message>`.  No field ever holds the API key.
---@class kombo.Error
---@field kind kombo.ErrorKind
---May the upload have landed?  `unknown`: check with `attachment_exists` before sending again.
---@field outcome kombo.Outcome
---For people; does not repeat the kind.
---@field message string
---The HTTP status, when an answer arrived.
---@field status? integer
---Kombo's error code: the field to branch on (`PLATFORM.RATE_LIMIT_EXCEEDED`, ...).
---@field code? string
---`true` when Kombo answered `ATS.APPLICATION_ALREADY_EXISTS`: the application is in the ATS already; look it up.
---@field already_exists? boolean
---@field title? string
---@field log_url? string
---The response headers (lower-case names).
---@field headers? table<string, string>
---The response body, capped by `max_response_bytes`.
---@field body? string
---Seconds, from `Retry-After`.
---@field retry_after? number
---How many attempts were made (0 for `validation`).
---@field attempts integer
---@field elapsed? number
---`validation`: every problem found, at once.
---@field problems? kombo.Problem[]
---@field limits? kombo.Limits
---`client:pages` and `client:each`: the cursor of the page that failed (nil: the first);
---the same arguments with `cursor = err.cursor` resume there.
---@field cursor? string
---kind `"hook"`: which hook failed.
---@field hook? "before_request"|"after_response"|"on_retry"
---kind `"hook"`: the value it raised.
---@field cause? any
---kind `"hook"`: the answer of an attempt that succeeded before `after_response` raised.
---@field result? kombo.Result
---True exactly when the operation writes and the outcome is `unknown`: settle before sending again.
---@field may_have_landed fun(self: kombo.Error): boolean
---Whether trying later may succeed: the rule of the library's own retries.
---@field retryable fun(self: kombo.Error): boolean

-- ------------------------------------------------------------------- client

---The options of `client:attach_many` and `client:run_many`; all optional.
---@class kombo.BulkOptions
---@field concurrency? integer calls in flight at once, 1 to 30 (default 8)
---@field on_result? fun(index: integer, res: kombo.UploadResult?, err: kombo.Error?) once per job as it finishes
---@field on_progress? fun(stats: kombo.BulkStats) at most every `progress_interval` s, and once at the end
---@field progress_interval? number seconds (default 0.25)
---@field stop? fun(): ("drain"|"abort"|false|nil) polled at least every 0.1 s; any other value raises
---@field on_attempt? fun(index: integer, event: "sending"|"written", info: kombo.AttemptInfo) a journal's hook

---What `on_attempt` gets: before an attempt starts ("sending"), and just
---before its last bytes ("written"; it must not yield, and raising stops them).
---@class kombo.AttemptInfo
---@field attempt integer
---@field digest? string the SHA-256 of the content as read ("written")

---What `on_progress` gets.
---@class kombo.BulkStats
---@field done integer
---@field succeeded integer
---@field failed integer
---@field in_flight integer
---@field waiting integer jobs backing off before a retry
---@field bytes_sent integer request-body bytes handed to the network, every attempt
---@field retries integer attempts after a job's first
---@field concurrency integer uploads now allowed in flight
---@field elapsed number seconds

---What `client:attach_many` returns.
---@class kombo.BulkSummary
---@field succeeded integer
---@field failed integer
---@field retries integer
---@field elapsed number
---@field stopped? "drain"|"abort"
---@field results? table<integer, kombo.UploadResult|kombo.Error> absent when `on_result` is given

---What `client:attach_many` raises when `on_result`, `on_progress`, `stop` or
---the jobs iterator raised, after it finished the uploads in flight;
---`tostring(err)` gives the message.
---@class kombo.BatchError
---@field kind "callback"
---@field where "on_result"|"on_progress"|"stop"|"jobs" what raised
---@field cause any the value it raised, as it was
---@field index? integer `where == "on_result"`: the job whose result it was given
---@field message string
---the outcome of every job taken that `on_result` did not get
---@field results table<integer, kombo.UploadResult|kombo.Error>
---@field summary kombo.BulkSummary the totals

---A client: options checked once; connections come from a process-wide
---pool.  `client:close()` frees it (Lua 5.4: `local client <close> = kombo.new{...}`).
---@class kombo.Client
local Client = {}

---Frees the connection.  Using the client afterwards raises.
function Client:close() end

---`POST /ats/candidates/{candidate_id}/attachments`.  Not retried once it may have been processed.
---@param args kombo.AttachToCandidateArgs
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.UploadResult? res
---@return kombo.Error? err
function Client:attach_to_candidate(args, opts) end

---`POST /ats/applications/{application_id}/attachments`.  Not retried once it may have been processed.
---@param args kombo.AttachToApplicationArgs
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.UploadResult? res
---@return kombo.Error? err
function Client:attach_to_application(args, opts) end

---`GET /ats/candidates/{candidate_id}/attachments`.
---@param args kombo.GetCandidateAttachmentsArgs
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.AttachmentListResult? res
---@return kombo.Error? err
function Client:get_candidate_attachments(args, opts) end

---`GET /ats/applications/{application_id}/attachments`.
---@param args kombo.GetApplicationAttachmentsArgs
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.AttachmentListResult? res
---@return kombo.Error? err
function Client:get_application_attachments(args, opts) end

---`GET /ats/actions/ats_add_candidate_attachment`.
---@param args? kombo.RestrictionsArgs
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.RestrictionsResult? res
---@return kombo.Error? err
function Client:candidate_attachment_restrictions(args, opts) end

---`GET /ats/actions/ats_add_application_attachment`.
---@param args? kombo.RestrictionsArgs
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.RestrictionsResult? res
---@return kombo.Error? err
function Client:application_attachment_restrictions(args, opts) end

---`GET /check-api-key` (no `X-Integration-Id`).
---@param args? table nothing, or an empty table
---@param opts? kombo.CallOptions this call's own options: timeout, retries, headers, hooks, ...
---@return kombo.ApiKeyResult? res
---@return kombo.Error? err
function Client:check_api_key(args, opts) end

---The integration's upload rules for a target.
---@param target "candidate"|"application"
---@param opts? kombo.RestrictionsArgs
---@return kombo.RestrictionsResult? res
---@return kombo.Error? err
function Client:attachment_restrictions(target, opts) end

---Whether an upload landed: a listed attachment with its name and type, and
---evidence that it is this upload (the same bytes behind its data_url, or
---created after `opts.since`).  `false`: no evidence (it may still come).
---@param args kombo.UploadArgs exactly as for the upload
---@param opts? { since?: number } `since = err.written_at`
---@return boolean? found
---@return table|string|kombo.Error? what the listed attachment, why not proved, or the error
function Client:attachment_exists(args, opts) end

---Checks an upload's arguments as the upload would, without sending anything.
---@param args kombo.UploadArgs
---@return true? ok
---@return kombo.Error? err `validation`, every problem in `err.problems`
function Client:validate_upload(args) end

---Uploads many documents at once, within Kombo's concurrency limit.
---@param jobs kombo.UploadArgs[]|fun(): kombo.UploadArgs? an array of jobs, or an iterator (nil ends it)
---@param opts? kombo.BulkOptions
---@return kombo.BulkSummary summary
function Client:attach_many(jobs, opts) end

---Runs many calls of one operation at once (attach_many for any operation).
---@param name string the operation, as its method is named
---@param jobs table[]|fun(): table? an array of argument tables, or an iterator (nil ends it)
---@param opts? kombo.BulkOptions
---@return kombo.BulkSummary summary
function Client:run_many(name, jobs, opts) end
---The pages of a list, for a generic `for`: each page (one call of the
---operation, the filters repeated, `page_size` 250 unless given), then nil;
---a failure gives `false, err` once (`err.cursor`: where to resume).
---@param name kombo.ListName
---@param args? table the operation's arguments: filters, `integration_id`, `page_size`, `cursor`
---@return fun(): (kombo.PageResult|false|nil), kombo.Error?
function Client:pages(name, args) end

---The records of a list across its pages, for a generic `for`: each record,
---then nil; a failure gives `false, err` once (`err.cursor`: where to resume).
---@param name kombo.ListName
---@param args? table the operation's arguments, as for `pages`
---@return fun(): (table|false|nil), kombo.Error?
function Client:each(name, args) end

-- ------------------------------------------------------------------- module

---@class kombo
local kombo = {}

---This release, as a string such as `"0.1.0"`.
---@type string
kombo.VERSION = ""

---JSON `null` for `body`; results hold it too.
---@type kombo.Null
kombo.null = nil

---An empty JSON array (`[]`) for `body`.
---@type table
kombo.empty_array = {}

---The `server` option's URLs.
---@type { eu: string, us: string }
kombo.SERVERS = {}

---What this build supports.
---@type { file: boolean, bytes: boolean, source: boolean, on_progress: boolean }
kombo.features = {}

---Creates a client.
---@param opts? kombo.ClientOptions
---@return kombo.Client
function kombo.new(opts) end

---Replaces the default client (the one the module functions use); closes the previous one.
---@param opts? kombo.ClientOptions
---@return kombo.Client
function kombo.configure(opts) end

---The default client, built from the environment on first use.
---@return kombo.Client
function kombo.default_client() end

---`client:attach_to_candidate` on the default client.
---@param args kombo.AttachToCandidateArgs
---@param opts? kombo.CallOptions this call's own options
---@return kombo.UploadResult? res
---@return kombo.Error? err
function kombo.attach_to_candidate(args, opts) end

---`client:attach_to_application` on the default client.
---@param args kombo.AttachToApplicationArgs
---@param opts? kombo.CallOptions this call's own options
---@return kombo.UploadResult? res
---@return kombo.Error? err
function kombo.attach_to_application(args, opts) end

---`client:get_candidate_attachments` on the default client.
---@param args kombo.GetCandidateAttachmentsArgs
---@param opts? kombo.CallOptions this call's own options
---@return kombo.AttachmentListResult? res
---@return kombo.Error? err
function kombo.get_candidate_attachments(args, opts) end

---`client:get_application_attachments` on the default client.
---@param args kombo.GetApplicationAttachmentsArgs
---@param opts? kombo.CallOptions this call's own options
---@return kombo.AttachmentListResult? res
---@return kombo.Error? err
function kombo.get_application_attachments(args, opts) end

---`client:candidate_attachment_restrictions` on the default client.
---@param args? kombo.RestrictionsArgs
---@param opts? kombo.CallOptions this call's own options
---@return kombo.RestrictionsResult? res
---@return kombo.Error? err
function kombo.candidate_attachment_restrictions(args, opts) end

---`client:application_attachment_restrictions` on the default client.
---@param args? kombo.RestrictionsArgs
---@param opts? kombo.CallOptions this call's own options
---@return kombo.RestrictionsResult? res
---@return kombo.Error? err
function kombo.application_attachment_restrictions(args, opts) end

---`client:check_api_key` on the default client.
---@param args? table nothing, or an empty table
---@param opts? kombo.CallOptions this call's own options
---@return kombo.ApiKeyResult? res
---@return kombo.Error? err
function kombo.check_api_key(args, opts) end

---`client:attachment_restrictions` on the default client.
---@param target "candidate"|"application"
---@param opts? kombo.RestrictionsArgs
---@return kombo.RestrictionsResult? res
---@return kombo.Error? err
function kombo.attachment_restrictions(target, opts) end

---`client:attach_many` on the default client.
---@param jobs kombo.UploadArgs[]|fun(): kombo.UploadArgs?
---@param opts? kombo.BulkOptions
---@return kombo.BulkSummary summary
function kombo.attach_many(jobs, opts) end

---`client:run_many` on the default client.
---@param name string
---@param jobs table[]|fun(): table?
---@param opts? kombo.BulkOptions
---@return kombo.BulkSummary summary
function kombo.run_many(name, jobs, opts) end
---`client:pages` on the default client.
---@param name kombo.ListName
---@param args? table
---@return fun(): (kombo.PageResult|false|nil), kombo.Error?
function kombo.pages(name, args) end

---`client:each` on the default client.
---@param name kombo.ListName
---@param args? table
---@return fun(): (table|false|nil), kombo.Error?
function kombo.each(name, args) end

---`client:attachment_exists` on the default client.
---@param args kombo.UploadArgs
---@param opts? { since?: number }
---@return boolean? found
---@return table|string|kombo.Error? what
function kombo.attachment_exists(args, opts) end

---Whether a value is an error object returned by a call.
---@param v any
---@return boolean
function kombo.is_error(v) end

---Standard padded base64 of raw bytes (for `attachment.data`).
---@param bytes string
---@return string
function kombo.base64(bytes) end

---JSON text of a value (a result re-encodes as the answer's JSON value).
---Not byte-exact: object keys come in `pairs` order, not Kombo's, and may differ between runs.
---@param value any
---@return string? json
---@return string? message
function kombo.encode_json(value) end

-- ------------------------------------------------------------------- webhooks

---A webhook event: the JSON body decoded, plus `known` (the types and their `data`:
---lua/kombo/gen/webhook_types.lua, generated from Kombo's description).
---@class kombo.WebhookEvent
---The same for every delivery of one event.
---@field id string
---@field type kombo.gen.WebhookEventType|string
---@field data kombo.gen.WebhookData
---Whether Kombo's description lists this type (Kombo adds types).
---@field known boolean

---Why `kombo.verify_webhook` refused a delivery; `tostring` reads `kombo webhook error: ...`.
---Never holds the secret, the body or the expected signature.
---@class kombo.WebhookError
---@field kind "webhook"
---`signature_missing`, `signature_repeated`, `signature_space`, `signature_standard`, `signature_padded`,
---`signature_hex`, `signature_length`, `signature_character`, `signature_noncanonical`, `signature_mismatch`,
---`secret_empty`, `secret_space`, `secret_long`, `body_missing`, `body_json`, `body_shape`, `crypto_failed`.
---@field code string
---@field message string

---The options of `kombo.webhook_handler`.
---@class kombo.WebhookHandlerOptions
---The account's Kombo Webhook Secret (never logged or shown).
---@field secret string
---Called with each verified event; may yield; returning answers 200, raising 500.
---@field on_event fun(event: kombo.WebhookEvent)
---A `lua_shared_dict` for the ids seen (none: every delivery calls `on_event`).
---@field dict? string
---Seconds an id is remembered (86400).
---@field window? number
---Call `on_event` for types Kombo's description does not list too (false).
---@field all_events? boolean
---A larger body is answered 413, unread (1048576).
---@field max_body_bytes? number
---Seconds a delivery being handled holds back another of the same id (60).
---@field handling_timeout? number
---More secrets to keep out of the log lines.
---@field redact? string[]

---A webhook handler for `content_by_lua_block`: call it.
---@class kombo.WebhookHandler
---@overload fun()
local WebhookHandler = {}

---Answers the delivery of the current request.
function WebhookHandler:handle() end

---The webhook event types Kombo's description lists, with their `data` members.
---@type table<kombo.gen.WebhookEventType, { data: string[], deprecated?: boolean }>
kombo.WEBHOOK_EVENTS = {}

---Verifies one delivery (`X-Kombo-Signature`: HMAC-SHA256 of the raw body, base64url without
---padding) and decodes its event.
---@param raw_body string? the body exactly as received
---@param signature string|string[]? the `X-Kombo-Signature` header
---@param secret string? the account's Kombo Webhook Secret
---@return kombo.WebhookEvent? event
---@return kombo.WebhookError? err
function kombo.verify_webhook(raw_body, signature, secret) end

---An OpenResty handler for Kombo's webhook deliveries (`content_by_lua_block`).
---@param opts kombo.WebhookHandlerOptions
---@return kombo.WebhookHandler
function kombo.webhook_handler(opts) end

---The request body being received (OpenResty) as an attachment `source` and `size`
---(`Content-Length`): read from `ngx.req.socket()` in chunks while the upload is sent.
---A client that disconnects or sends fewer bytes aborts the upload (kind `aborted`).
---@param opts? { chunk_size?: integer, timeout?: number } bytes per read (65536); seconds a read may wait
---@return (fun(): string?, string?)? source
---@return integer|string size_or_err the size, or why the body cannot be streamed
function kombo.request_body_source(opts) end

return kombo
