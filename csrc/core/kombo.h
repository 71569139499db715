/*
 * kombo.h - public C API of kombo-lua's core.
 *
 * The core is "sans I/O" at its centre: it validates a request, renders the
 * URL, headers and a streaming body, decides what every answer means and when
 * to try again, but it never moves bytes itself.  A transport does that:
 * transport_curl.c drives a call with libcurl (blocking, for scripts and C
 * programs); the Lua layer drives the very same call over OpenResty cosockets.
 *
 *   request.c    request model and validation
 *   encode.c     growable buffers, JSON strings, base64, percent-encoding,
 *                UTF-8 checks and the streaming body writer
 *   json.c       the strict JSON scanner (internal header json.h)
 *   headers.c    response buffers, the header block parser, Retry-After
 *   classify.c   what an HTTP answer means: success, Kombo error, plain HTTP
 *                error, undecodable
 *   content_type.c     content type inference (magic bytes, extensions)
 *   call.c       one logical call: attempts, backoff, the final result
 *   transport_curl.c   moving bytes with libcurl, one call at a time
 *   transport_multi.c  many calls' attempts at once (a libcurl multi handle)
 *   lkombo.c     the Lua binding (module "kombo.core")
 *   lua_json.c   JSON text and header blocks into Lua tables (lua_json.h)
 *   ltesting.c   test-only helpers (module "kombo.testing", never installed)
 *
 * Strings are (pointer, length) pairs because Lua strings may hold NUL bytes
 * and validation must see them.  A NULL pointer means "absent".
 */
#ifndef KOMBO_H
#define KOMBO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KOMBO_VERSION "0.1.0"

/* The largest attachment (file, bytes or source size) whose base64 and
 * the JSON around it still fit a size_t: a limit on 32-bit builds only. */
#define KOMBO_MAX_CONTENT_BYTES ((SIZE_MAX - 65536) / 4 * 3)


/* ---------------------------------------------------------------- strings */

typedef struct kombo_str {
    const char *ptr; /* NULL: absent */
    size_t len;
} kombo_str;

#define KOMBO_STR_NULL ((kombo_str){NULL, 0})
kombo_str kombo_str_c(const char *s); /* from a C string; NULL stays absent */

/* A growable byte buffer.  Appends after an allocation failure are no-ops and
 * leave `failed` set, so a caller checks once at the end (lua-cjson's
 * strbuf habit, without its abort()). */
typedef struct kombo_buf {
    char *data; /* always NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    size_t limit; /* 0: unlimited; appends beyond it set `failed` */
    int failed;
} kombo_buf;

void kombo_buf_init(kombo_buf *b);
void kombo_buf_free(kombo_buf *b);
void kombo_buf_reset(kombo_buf *b); /* len = 0, keeps memory and limit, clears failed */
int kombo_buf_append(kombo_buf *b, const void *p, size_t n); /* 0 ok, -1 failed */
int kombo_buf_puts(kombo_buf *b, const char *s);
int kombo_buf_printf(kombo_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ----------------------------------------------------------- encoders */

int kombo_utf8_valid(const char *s, size_t n);     /* 1 when valid UTF-8 (no overlongs, no surrogates) */
int kombo_base64_valid(const char *s, size_t n);   /* 1 when canonical-alphabet base64 with correct padding; "" is valid */
size_t kombo_base64_encoded_len(size_t n);         /* 4 * ceil(n / 3) */
size_t kombo_base64_decoded_len(const char *s, size_t n); /* of valid padded base64 */
/* Encodes n bytes into out (room for kombo_base64_encoded_len(n)); returns bytes written. */
size_t kombo_base64_encode(char *out, const unsigned char *in, size_t n);
/* Appends s as a JSON string literal with quotes; escapes ", \ and every
 * control byte; passes UTF-8 through. */
int kombo_json_string(kombo_buf *b, const char *s, size_t n);
/* Appends s percent-encoded as one path segment: every byte outside RFC 3986
 * "unreserved" (A-Z a-z 0-9 - . _ ~) becomes %XX (upper-case hex). */
int kombo_percent_encode(kombo_buf *b, const char *s, size_t n);

/* SHA-256 (OpenSSL's libcrypto, EVP).  kombo_sha256_hex writes the digest
 * of n bytes as 64 lowercase hex digits and a NUL; 0, or -1 when libcrypto
 * failed.  kombo_hex_lower writes 2n lowercase hex digits and a NUL. */
#define KOMBO_SHA256_LEN 32
#define KOMBO_SHA256_HEX (2 * KOMBO_SHA256_LEN + 1)
int kombo_sha256_hex(const void *p, size_t n, char out[KOMBO_SHA256_HEX]);
void kombo_hex_lower(char *out, const unsigned char *p, size_t n);

/* Redaction of echoed API keys (redact.c): every run of >= 8 bytes equal,
 * folded (ASCII case; space, control bytes and "+" alike), to a run of the
 * key or of the key percent-encoded, the text read as it is, with JSON
 * escapes decoded, with JSON escapes and %XX decoded, and with JSON escapes
 * decoded twice; runs never end inside an escape or a UTF-8 sequence.
 * Keys shorter than 8 bytes are not looked for.  kombo_redact appends s
 * with each run replaced by "<redacted>" to out and returns 1, returns 0
 * with out untouched when nothing matched, -1 on allocation failure.  The
 * span API: init (extra = kombo_redactor_extra() bytes of memory, or NULL
 * when that is 0; returns 0 when there is nothing to look for), then
 * kombo_redactor_next finds the first run in s[*start..n) as
 * [*start, *end) and returns 1, or returns 0. */
#define KOMBO_REDACT_MIN 8
#define KOMBO_REDACT_INLINE 512
typedef struct kombo_redactor {
    uint64_t *slots; /* the key's folded 8-byte windows; 0 = empty slot */
    unsigned bits;   /* log2 of the slot count; 0: nothing to look for */
    uint64_t inline_slots[KOMBO_REDACT_INLINE];
} kombo_redactor;
size_t kombo_redactor_extra(const char *key, size_t keylen);
int kombo_redactor_init(kombo_redactor *r, const char *key, size_t keylen, void *extra);
int kombo_redactor_next(const kombo_redactor *r, const char *s, size_t n, size_t *start, size_t *end);
int kombo_redact(kombo_buf *out, const char *s, size_t n, const char *key, size_t keylen);
/* JSON text: the next string literal at or after s[*from] as its contents
 * s[*a..*b) (escapes as they stand); *from moves past its closing quote.
 * Returns 0 when there is none.  Redacting the contents of each, and
 * nothing else, keeps a JSON text valid whatever the key (core.redact_json). */
int kombo_json_next_string(const char *s, size_t n, size_t *from, size_t *a, size_t *b);

/* ---------------------------------------------------------- problems */

#define KOMBO_MAX_PROBLEMS 32

typedef struct kombo_problem {
    char path[128];    /* "body.attachment.type", "candidate_id", ... */
    char message[256];
} kombo_problem;

typedef struct kombo_problems {
    kombo_problem items[KOMBO_MAX_PROBLEMS];
    size_t count;   /* stored */
    size_t dropped; /* found beyond KOMBO_MAX_PROBLEMS */
} kombo_problems;

void kombo_problems_init(kombo_problems *p);
void kombo_problems_add(kombo_problems *p, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ----------------------------------------------------------- operations */

/* Every API operation is one entry of the table generated into
 * csrc/gen/operations.c (tools/generate.lua): its method, path, path
 * parameters, body and query descriptors, positive-response shape and
 * whether it may be resent after it may have been processed.  The Lua layer
 * makes one method per entry; adding an operation is a line in
 * spec/contract/operations.lua and `make generate` (see CONTRIBUTING.md). */

#define KOMBO_MAX_PARAMS 2


/* What a 2xx answer must look like: Kombo's envelope
 * {status:"success", data:{...}} plus, per operation, the rest. */
typedef struct kombo_response_shape {
    int warnings;            /* "warnings": [{message}, ...] is required */
    const char *data_member; /* data must hold this member, or NULL */
} kombo_response_shape;

typedef struct kombo_schema kombo_schema; /* schema.h: a generated descriptor */

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): the generated table (csrc/gen/operations.c) initializes by position */
typedef struct kombo_operation {
    const char *name;   /* the Lua method: "attach_to_candidate" */
    const char *method; /* "GET" | "POST" | "PUT" | "PATCH" | "DELETE" */
    const char *path;   /* "/ats/candidates/{candidate_id}/attachments" */
    const char *params[KOMBO_MAX_PARAMS + 1]; /* path parameters in order, NULL-terminated */
    kombo_response_shape response;
    int idempotent;         /* may be resent after it may have been processed (GET) */
    int integration_scoped; /* sends X-Integration-Id, required (every /ats operation) */
    const kombo_schema *body_schema; /* the request body's descriptor, or NULL: no body */
    int body_required;
    const kombo_schema *query;       /* an object whose members are the query parameters, or NULL */
    const char *doc_url;             /* Kombo's page for the operation */
} kombo_operation;

/* The table, generated into csrc/gen/operations.c (make generate) from
 * Kombo's description and spec/contract/operations.lua; operation.c reads
 * it (csrc/gen/operations.h declares the same). */
extern const kombo_operation kombo_operations[];
extern const size_t kombo_operation_count;

const kombo_operation *kombo_operation_find(const char *name); /* NULL when unknown */
/* An upload: the body's "attachment" is Kombo's file object (request.c). */
int kombo_operation_is_upload(const kombo_operation *op);
const kombo_operation *kombo_operation_at(size_t i);           /* NULL past the last */

/* ------------------------------------------------------- request model */

/* Raw attachment bytes that arrive in pieces (an object store, a request
 * body).  The core base64-encodes them while the request is sent. */
#define KOMBO_SOURCE_AGAIN (-2L)

typedef struct kombo_source {
    /* Reads up to cap bytes into buf: returns the count, 0 at the end, or -1
     * with a message in err (the upload is then aborted, never sent short);
     * a push-mode source may also return KOMBO_SOURCE_AGAIN: no bytes yet,
     * the driver feeds it more and reads on (kombo_body_read stops short
     * and sets body->want_input). */
    long (*read)(void *ud, char *buf, size_t cap, char *err, size_t errsz);
    /* Back to the first byte, for a retry; NULL when the source cannot. */
    int (*rewind)(void *ud);
    void *ud;
    size_t size; /* exact byte count, announced in Content-Length up front */
} kombo_source;

/* Called while the body is read out: at most about 100 times per upload,
 * and always once when the last byte has been handed to the transport. */
typedef void (*kombo_progress_fn)(void *ud, size_t sent, size_t total);

typedef struct kombo_value kombo_value; /* schema.h: a request value tree */

/* A request: the operation, its path parameters, and its query and body
 * as value trees (schema.h), which the operation's descriptors check. */
typedef struct kombo_request {
    const kombo_operation *op;
    kombo_str params[KOMBO_MAX_PARAMS]; /* values of op->params, in order */
    kombo_str integration_id; /* X-Integration-Id; the client's when absent */
    kombo_value *query;       /* an object of query parameters, or NULL */
    kombo_value *body;        /* the request body, or NULL when none was given */
    struct kombo_arena *arena; /* the arena the trees were built in: a check adds defaults from it */
    kombo_progress_fn on_progress; /* optional */
    void *progress_ud;
} kombo_request;

/* Validates every rule and records every problem (not just the first; one
 * per path): path parameters, the integration, the query and the body
 * against the operation's descriptors.  Applies the body's defaults on the
 * way (a file object's name and content type) and opens its files (see
 * schema.h), so it is the only pass.  Returns the number of problems found
 * (0: valid).  Paths name the API's fields: "candidate_id",
 * "integration_id", "page_size", "body.attachment.name", ... */
size_t kombo_request_validate(kombo_request *req, kombo_problems *out);

/* An identifier that ends up in the URL path or in a header (path-safe: no
 * "." or "..", no CR, LF or NUL, valid UTF-8, not empty, at most
 * KOMBO_MAX_ID_BYTES).  Adds a problem under `path` when bad.
 *
 * The limit: percent-encoded, an id grows up to three times, and servers
 * refuse a request line or header much over 8 KB (nginx's default buffer;
 * libcurl itself fails a request whose headers pass 1 MB, as "out of
 * memory").  1024 bytes keeps two ids' 3 KB each well inside; Kombo's ids
 * are tens of bytes. */
#define KOMBO_MAX_ID_BYTES 1024
void kombo_check_id(kombo_problems *out, const char *path, kombo_str s);

/* The operation that takes `key` (a path parameter `op` does not take) in
 * place of op's own, with the same method and body: "attach_to_application"
 * for application_id given to attach_to_candidate.  NULL when none. */
const kombo_operation *kombo_operation_sibling(const kombo_operation *op, const char *key);

/* Validates a header value that comes from configuration (API key):
 * non-empty, no CR, LF or NUL.  Adds a problem under `path` when bad. */
void kombo_check_header_value(kombo_problems *out, const char *path, kombo_str v);

/* The known key nearest to `key` (the same letters ignoring case, '_' and
 * '-', or at most two edits away), or NULL.  `table` holds entries of
 * `stride` bytes that each start with a `const char *` key; a NULL key ends it. */
const char *kombo_suggest_key(const char *key, size_t len, const void *table, size_t stride);

/* -------------------------------------------------------- body writer */

/* The JSON body as a sequence of segments, read out in chunks so that a
 * large payload is never copied or held twice. */
typedef enum kombo_segment_kind {
    KOMBO_SEG_OWNED = 0,    /* bytes in `owned` */
    KOMBO_SEG_BORROWED = 1, /* bytes at `borrowed` (kept alive by the caller) */
    KOMBO_SEG_BASE64 = 2    /* raw bytes from `stream`, base64-encoded on the way out */
} kombo_segment_kind;

typedef struct kombo_stream kombo_stream; /* encode.c: file, bytes or source */

typedef struct kombo_segment {
    kombo_segment_kind kind;
    kombo_buf owned;
    kombo_str borrowed;
    kombo_stream *stream;
} kombo_segment;

/* The first segments live in the body itself; more (a body with several
 * file leaves) go to allocated blocks, whose addresses never move. */
#define KOMBO_INLINE_SEGMENTS 4
#define KOMBO_SEGMENT_BLOCK 16

typedef struct kombo_body {
    kombo_segment seg[KOMBO_INLINE_SEGMENTS]; /* segments 0..3; use kombo_body_segment(body, i) */
    kombo_segment **more; /* segment i >= 4 is more[(i - 4) / 16][(i - 4) % 16] */
    size_t nmore;         /* blocks in more */
    size_t nseg;
    size_t length;   /* exact Content-Length */
    size_t seg_i;    /* read position: segment index */
    size_t seg_off;  /* and offset inside it */
    size_t sent;     /* bytes handed out so far */
    int failed;      /* a source failed: the request must be aborted */
    int want_input;  /* the last read stopped at a push-mode source that has no bytes yet */
    char error[256]; /* why, when failed */
    kombo_progress_fn on_progress;
    void *progress_ud;
    size_t next_progress; /* `sent` at which to report next */
    kombo_buf overflow;   /* handed out when no segment could be added (out of memory): always failed */
    /* Called once per attempt, just before kombo_body_read copies the bytes
     * that complete the body (sent is still below length); non-zero stops
     * them: the body fails (the hook may set failed and error itself) and
     * the transport aborts the attempt, which then never went out whole.
     * Not called for an empty body.  kombo_call_set_before_last sets it. */
    int (*before_last)(void *ud);
    void *before_last_ud;
    int before_last_done; /* called in this attempt (cleared by kombo_body_rewind) */
    int defer_last;       /* the transport hands the bytes over later: kombo_body_last_bytes then */
    double written_at;    /* wall clock when this attempt's last bytes were handed over; 0 before */
} kombo_body;

/* Building a body: segments are added in order, then kombo_body_finish
 * computes the exact length.  The writer (write.c) lays a checked value
 * tree out with these. */
kombo_buf *kombo_body_add_owned(kombo_body *body);            /* a new owned segment's buffer */
void kombo_body_add_borrowed(kombo_body *body, kombo_str s);  /* bytes the caller keeps alive */
/* Raw content, base64-encoded on the way out: a FILE * (taken over: closed
 * by kombo_body_free, also on failure), borrowed bytes, or a source. */
int kombo_body_add_file(kombo_body *body, void *file_handle);
int kombo_body_add_bytes(kombo_body *body, kombo_str bytes);
int kombo_body_add_source(kombo_body *body, const kombo_source *source);
int kombo_body_finish(kombo_body *body); /* 0, or -1 (error says why) */
size_t kombo_body_raw_size(const kombo_body *body); /* raw bytes of its streamed content (all of it) */
kombo_segment *kombo_body_segment(kombo_body *body, size_t i); /* i < body->nseg */
/* The SHA-256 of the (first) raw content (file, bytes or source) read out since the
 * last rewind, as hex: 1 when the content was read to its confirmed end and
 * the body has not failed; 0 (hex "") otherwise, and always for a body
 * without raw content (data, data_url, GET) or without a before_last hook
 * (the content is hashed only for a body that has one). */
int kombo_body_digest(const kombo_body *body, char hex[KOMBO_SHA256_HEX]);
void kombo_body_free(kombo_body *body);
/* Back to the first byte; -1 when a source cannot rewind (body->error says why). */
int kombo_body_rewind(kombo_body *body);
/* Copies up to cap bytes into dst; returns the count, 0 at the end or when
 * body->failed is set (then the transport aborts the request).  When a
 * push-mode source has no bytes yet it returns what it has (maybe 0) with
 * body->want_input set: feed the source, then read on. */
size_t kombo_body_read(kombo_body *body, char *dst, size_t cap);
/* The bytes that complete the body are being handed to the connection:
 * records written_at and asks the before_last hook (once per attempt).
 * kombo_body_read does it itself unless defer_last is set (a transport
 * that reads a small body out whole before connecting calls it when the
 * bytes really go).  0 to go on; -1 when the body failed (error says why). */
int kombo_body_last_bytes(kombo_body *body);

/* Opens a regular file for streaming: returns a handle (FILE *) and its size,
 * or NULL with a message ("cannot be opened: No such file or directory",
 * "is a FIFO (named pipe), not a regular file").  Anything but a regular
 * file is refused before a byte is read, and never waits: a FIFO, a device
 * or a socket is not opened for blocking reads (encode.c).  The one rule
 * for both the calls and kombo-attach's manifest check (core.file_info). */
void *kombo_file_open(const char *path, size_t *size, char *err, size_t errsz);
void kombo_file_close(void *handle);

/* ---------------------------------------------------- content types */

/* Guesses a content type from the first bytes of a file (PDF, PNG, JPEG,
 * GIF, RTF, ZIP-based Office documents by extension, plain text) and then
 * from the name's extension.  `truncated`: head is only the start of the
 * content.  Returns a static string, or NULL. */
const char *kombo_content_type_infer(const unsigned char *head, size_t n, int truncated,
                                     const char *name, size_t name_len);

/* ----------------------------------------------------- classification */

typedef enum kombo_kind {
    /* The zero value is no success: a result no attempt was reported to
     * (kombo_call_complete never called) has this kind, named "internal". */
    KOMBO_KIND_NONE = 0,
    KOMBO_OK,
    KOMBO_ERR_VALIDATION, /* nothing was sent */
    KOMBO_ERR_API,        /* Kombo answered with its error JSON */
    KOMBO_ERR_HTTP,       /* error status without Kombo's error JSON (or a 3xx) */
    KOMBO_ERR_NETWORK,
    KOMBO_ERR_TIMEOUT,
    KOMBO_ERR_DECODE,     /* 2xx whose body is not the positive response */
    KOMBO_ERR_INTERNAL,   /* out of memory, misuse */
    KOMBO_ERR_ABORTED     /* the attachment's source failed mid-upload; the request was cut off */
} kombo_kind;

const char *kombo_kind_name(kombo_kind k); /* "ok", "validation", "api", ... */

/* Whether the request may have been acted upon.  See README "Errors". */
typedef enum kombo_outcome {
    KOMBO_OUTCOME_NONE = 0,     /* success: not an error */
    KOMBO_OUTCOME_NOT_SENT,     /* nothing left this process, or never reached the server */
    KOMBO_OUTCOME_REJECTED,     /* the server answered and did not act */
    KOMBO_OUTCOME_UNKNOWN       /* the request may have been processed */
} kombo_outcome;

const char *kombo_outcome_name(kombo_outcome o); /* "", "not_sent", "rejected", "unknown" */

/* How far an attempt got before it ended, as the transport saw it. */
typedef enum kombo_phase {
    KOMBO_PHASE_CONNECT = 0, /* no byte of the request was written */
    KOMBO_PHASE_SENDING,     /* part of the request was written */
    KOMBO_PHASE_WAITING,     /* the whole request was written, no answer yet */
    KOMBO_PHASE_RECEIVING,   /* part of the answer arrived */
    KOMBO_PHASE_DONE         /* a complete answer arrived */
} kombo_phase;

typedef enum kombo_transport_error {
    KOMBO_TE_NONE = 0,
    KOMBO_TE_NETWORK,   /* refused, reset, DNS, TLS, ... */
    KOMBO_TE_TIMEOUT,
    KOMBO_TE_TOO_LARGE, /* answer exceeded max_response_bytes */
    KOMBO_TE_ABORTED,   /* the body source failed; the request was aborted */
    KOMBO_TE_RESOURCES, /* this process ran out of something (EMFILE, ENFILE): not sent, not retried */
    KOMBO_TE_HEADERS    /* the answer's header block broke KOMBO_MAX_HEADER_BYTES (or libcurl's line limit) */
} kombo_transport_error;

/* What one attempt produced, filled in by a transport. */
typedef struct kombo_response {
    kombo_transport_error error;
    kombo_phase phase;
    char error_message[256];   /* transport's words when error != NONE */
    int status;                /* 0 when no status line arrived */
    kombo_buf headers;         /* raw header block of the final response, "Name: value\r\n" lines */
    kombo_buf body;            /* capped at max_response_bytes (body.limit) */
} kombo_response;

void kombo_response_init(kombo_response *r, size_t max_body);
void kombo_response_reset(kombo_response *r); /* for the next attempt */
void kombo_response_free(kombo_response *r);
/* First value of header `name` (case-insensitive) in r->headers, trimmed;
 * writes it to out (NUL-terminated, truncated to outsz) and returns 1, or 0. */
int kombo_response_header(const kombo_response *r, const char *name, char *out, size_t outsz);

/* The fields of a raw header block, the one parser behind every lookup:
 *   const char *p = kombo_header_start(block, n), *end = block + n;
 *   while (kombo_header_next(&p, end, &name, &value)) ...
 * kombo_header_start skips to the final answer's block (past the last
 * status line: 100 Continue, redirects).  Each field gives its name as sent
 * and its value trimmed of spaces and tabs.  Lines that are no "Name: value"
 * field (status lines, obs-fold continuations, a blank in the name, no
 * colon) are skipped. */
const char *kombo_header_start(const char *block, size_t n);
int kombo_header_next(const char **p, const char *end, kombo_str *name, kombo_str *value);

/* Parses Retry-After: delta-seconds or an HTTP-date (libcurl's curl_getdate:
 * IMF-fixdate, RFC 850 with years 70-99 as 19xx, asctime, and the other
 * forms curl reads), relative to `now` (Unix seconds).  Returns seconds
 * >= 0 (capped at 1e9), or -1 when absent or unparseable.  A date in the
 * past gives 0. */
double kombo_parse_retry_after(const char *value, double now);

/* Kombo's limit headers, the one reading of them (the bulk scheduler's
 * call:limits() and res.http.limits / err.limits both use it). */
typedef enum kombo_limit_field {
    KOMBO_LIMIT_CONCURRENCY = 0,         /* Concurrency-Limit */
    KOMBO_LIMIT_CONCURRENCY_REMAINING,   /* Concurrency-Remaining */
    KOMBO_LIMIT_RATE,                    /* RateLimit-Limit */
    KOMBO_LIMIT_RATE_REMAINING,          /* RateLimit-Remaining */
    KOMBO_LIMIT_RATE_RESET,              /* RateLimit-Reset */
    KOMBO_LIMIT_COUNT
} kombo_limit_field;

#define KOMBO_LIMIT_MAX 2147483647L /* 2^31-1: a larger value is absent */

typedef struct kombo_limits {
    long value[KOMBO_LIMIT_COUNT]; /* by kombo_limit_field; -1 when absent */
} kombo_limits;

/* Reads the limit headers of the final answer in a raw header block (see
 * kombo_header_start; block may be NULL).  The rule, for each header:
 *   - a value is digits only, with optional spaces or tabs around them;
 *     leading zeros are allowed at any length ("000...005" is 5);
 *   - a value above KOMBO_LIMIT_MAX, or anything but digits ("", "-1",
 *     "+5", "1.5", "0x10", "5 5"), is no value;
 *   - every copy counts: a header sent more than once, or a line a proxy
 *     combined from several (RFC 9110 5.3: "5, 5"), gives its value only
 *     when every copy and every comma-separated element is a value and
 *     they are all equal; otherwise the header is absent.
 * Names are matched without regard to case. */
void kombo_parse_limits(const char *block, size_t n, kombo_limits *out);

typedef struct kombo_classification {
    kombo_kind kind;
    kombo_outcome outcome;
    int retryable_safe;   /* retry is safe: the server did not act (429, 503, not sent) */
    int retryable_unsafe; /* retry may duplicate: other 5xx, mid-flight failures */
    double retry_after;   /* seconds, -1 when none */
    char message[512];    /* human message; never contains request headers */
    /* From Kombo's error body ("" when absent or null). */
    char code[96];
    char title[256];
    char log_url[512];
    int has_code, has_title, has_log_url;
    /* Success: the positive response's span in the body (validated). */
    size_t json_off, json_len;
} kombo_classification;

/* Classifies one attempt's response.  `now` (Unix seconds) resolves
 * Retry-After dates.  For a 2xx, checks that the body is the operation's
 * positive response: {status:"success", data:{...}} and, as `shape` says,
 * warnings:[{message}...] and a member of data. */
void kombo_classify(const kombo_response *r, double now, const kombo_response_shape *shape,
                    kombo_classification *out);
/* The same for a read (a GET), whose messages say where it failed but not
 * that "it may have been processed", which means nothing for a read. */
void kombo_classify_read(const kombo_response *r, double now, const kombo_response_shape *shape,
                         kombo_classification *out);

/* --------------------------------------------------------- the call */

typedef struct kombo_retry_policy {
    int max_attempts;        /* 1: no retries */
    double initial_interval; /* seconds */
    double max_interval;     /* cap of one wait; a longer Retry-After ends the call */
    double exponent;
    double max_elapsed;      /* no new attempt starts after this many seconds */
    int retry_unsafe;        /* also retry other 5xx and mid-flight failures */
} kombo_retry_policy;

typedef struct kombo_config {
    const char *api_key;         /* required; never printed */
    const char *integration_id;  /* default for requests without one */
    const char *server_url;      /* e.g. "https://api.kombo.dev/v1"; no trailing slash needed */
    const char *user_agent;      /* full User-Agent value, or NULL */
    const char *ca_file;         /* extra CA bundle, or NULL */
    double timeout;              /* seconds for a whole attempt */
    double connect_timeout;
    size_t max_response_bytes;   /* 0: the default */
    kombo_retry_policy retry;
} kombo_config;

/* The defaults, in one place (the Lua layer reads them from here too):
 * timeout 300 s, connect_timeout 10 s, max_response_bytes 1 MiB, retries
 * 3 attempts, 0.5 s initial interval, 30 s max interval, exponent 1.5,
 * 120 s max elapsed, unsafe retries off. */
extern const kombo_config kombo_config_defaults;

/* The options the core owns, in one place (client.c): a binding reads a
 * configuration by this table (the Lua binding also tells its Lua layer
 * which options exist from it: core.options), so adding one is adding its
 * field, its default, its rule in kombo_client_new and its line here. */
typedef enum kombo_option_kind {
    KOMBO_OPTION_STRING = 0, /* const char * */
    KOMBO_OPTION_NUMBER,     /* double */
    KOMBO_OPTION_COUNT,      /* int */
    KOMBO_OPTION_BYTES,      /* size_t */
    KOMBO_OPTION_BOOLEAN     /* int, 0 or 1 */
} kombo_option_kind;

typedef struct kombo_option {
    const char *name; /* "timeout"; a retry policy field is "retries.max_attempts" */
    kombo_option_kind kind;
    size_t offset; /* of the field in kombo_config */
} kombo_option;

extern const kombo_option kombo_options[]; /* NULL-name terminated */
void kombo_retry_policy_none(kombo_retry_policy *p); /* the defaults with one attempt */

#define KOMBO_DEFAULT_MAX_RESPONSE (1024u * 1024u)
/* The status line and header block of an answer (each 1xx block, and all of
 * them together), on both transports: more is an `http` error saying so.
 * libcurl also refuses a single header line over 100 KiB, which this limit
 * covers anyway. */
#define KOMBO_MAX_HEADER_BYTES (64u * 1024u)
#define KOMBO_EU_URL "https://api.kombo.dev/v1"
#define KOMBO_US_URL "https://api.us.kombo.dev/v1"

/* Standard header set, shared by every transport. */
#define KOMBO_MAX_HEADERS 8

/* A client: the configuration, checked once, and what every call of it
 * shares, rendered once (the URL prefix, the fixed headers). */
typedef struct kombo_client kombo_client;

/* Checks every option (all problems at once, paths are option names:
 * "timeout", "retries.max_attempts", ...) and copies the strings.  Returns
 * NULL with `problems` filled, or NULL with no problem when out of memory. */
kombo_client *kombo_client_new(const kombo_config *cfg, kombo_problems *problems);
void kombo_client_free(kombo_client *client); /* wipes the key */
const kombo_config *kombo_client_config(const kombo_client *client);
unsigned long kombo_client_serial(const kombo_client *client); /* unique per client made */

typedef struct kombo_call kombo_call;

/* The request as it will be sent, decided in one place: the integration id
 * (the request's, else the client's: its option or KOMBO_INTEGRATION_ID as
 * read when it was made), then kombo_request_validate, once.  Adds the
 * problems to `problems` (not reset) and returns how many it added.  Files
 * it opened stay in the value tree (kombo_call_make takes them over;
 * kombo_value_close_files closes them when no call is made). */
size_t kombo_request_resolve(const kombo_client *client, kombo_request *req, kombo_problems *problems);

/* The call of a request kombo_request_resolve found no problem in: renders
 * URL, headers and body without validating again.  Returns NULL when out
 * of memory, or with a problem added when the body cannot be laid out.
 * The request's strings must outlive the call (the body borrows them). */
kombo_call *kombo_call_make(const kombo_client *client, kombo_request *req, kombo_problems *problems);

/* Prepares a call of `client` (which must outlive it): kombo_request_resolve
 * (all problems at once), then kombo_call_make.  Returns the call, or NULL
 * with `problems` filled (count 0: out of memory); files it opened are
 * closed when no call is made. */
kombo_call *kombo_call_new(const kombo_client *client, kombo_request *req, kombo_problems *problems);
void kombo_call_free(kombo_call *c);

const kombo_operation *kombo_call_operation(const kombo_call *c);

/* What an upload's attachment is, once defaults are applied: for checking
 * it against an integration's restrictions before sending (preflight). */
typedef struct kombo_attachment_facts {
    kombo_str type;         /* "CV", ... (absent for operations without an attachment) */
    kombo_str content_type; /* given or inferred; may be absent with data_url */
    size_t size;            /* raw (decoded) bytes */
    int has_size;           /* 0 for data_url: Kombo downloads it */
} kombo_attachment_facts;
const kombo_attachment_facts *kombo_call_attachment(const kombo_call *c);
const char *kombo_call_url(const kombo_call *c);
size_t kombo_call_header_count(const kombo_call *c);
const char *kombo_call_header(const kombo_call *c, size_t i); /* "Name: value" */
const char *kombo_call_integration_id(const kombo_call *c);   /* "" for unscoped operations */
unsigned long kombo_call_client_serial(const kombo_call *c);  /* its client's kombo_client_serial */
kombo_body *kombo_call_body(kombo_call *c);
/* A hook run once per attempt just before the bytes that complete the
 * request body are handed to the transport (kombo_body's before_last):
 * the last moment to record "this upload is about to go out whole" (a
 * journal) or to stop it.  Non-zero stops the bytes: the attempt is
 * aborted and classified aborted/not_sent, since the request never went
 * out whole.  With a small body (libcurl sends bodies up to 64 KiB in one
 * write) that moment comes before the connection is used at all.  Never
 * called for a GET or an empty body.  fn NULL removes it. */
void kombo_call_set_before_last(kombo_call *c, int (*fn)(void *ud), void *ud);
const kombo_config *kombo_call_config(const kombo_call *c);

typedef enum kombo_step {
    KOMBO_STEP_SEND = 0, /* run one attempt: rewind the body, send, then kombo_call_complete() */
    KOMBO_STEP_SLEEP,    /* wait *delay seconds, then ask again */
    KOMBO_STEP_DONE      /* kombo_call_result() holds the outcome */
} kombo_step;

/* The driver loop: `now` is a monotonic clock in seconds. */
kombo_step kombo_call_next(kombo_call *c, double now, double *delay);
/* Reports the attempt just made.  `wall_now` is Unix time (for Retry-After dates). */
void kombo_call_complete(kombo_call *c, const kombo_response *r, double now, double wall_now);

typedef struct kombo_result {
    kombo_classification cls; /* of the last attempt; kind KOMBO_OK on success */
    int status;               /* HTTP status of the last attempt, 0 when none */
    int attempts;
    double elapsed;           /* seconds from the first attempt to the end */
    const kombo_response *response; /* the last attempt's response (owned by the call) */
} kombo_result;

const kombo_result *kombo_call_result(const kombo_call *c);
/* The response buffer the transport fills for the current attempt. */
kombo_response *kombo_call_response(kombo_call *c);

/* ------------------------------------------------------ curl transport */

typedef struct kombo_curl kombo_curl;

/* One reusable easy handle: connections stay alive between calls. */
kombo_curl *kombo_curl_new(void);
void kombo_curl_free(kombo_curl *t);
/* The process-wide pool of handles (and so of kept-alive connections):
 * take one for a call, give it back after; thread-safe. */
kombo_curl *kombo_curl_acquire(void);
void kombo_curl_release(kombo_curl *t);
/* Frees the idle handles (and closes their connections), e.g. before the
 * library is unloaded; handles in use are not affected. */
void kombo_curl_pool_drain(void);
/* One attempt of the call's current request into kombo_call_response(c). */
void kombo_curl_attempt(kombo_curl *t, kombo_call *c);
/* Drives the whole call (attempts, sleeps) to KOMBO_STEP_DONE. */
const kombo_result *kombo_curl_perform(kombo_curl *t, kombo_call *c);
/* "libcurl/7.88.1" for the User-Agent. */
const char *kombo_curl_version(void);

/* Many calls' attempts at once in one thread (transport_multi.c): one
 * libcurl multi handle, whose connections stay alive between attempts.
 * The caller drives each call as with kombo_curl_perform, but instead of
 * running an attempt it adds it, and learns from kombo_multi_run which
 * attempts have ended (each already reported to its call with
 * kombo_call_complete); then it asks the call what is next. */
typedef struct kombo_multi kombo_multi;
kombo_multi *kombo_multi_new(void);
/* Transfers still running are cut off without being reported. */
void kombo_multi_free(kombo_multi *m);
/* Starts one attempt of c (kombo_call_next said SEND); `tag` identifies it
 * to kombo_multi_run.  An attempt that fails before any transfer (a
 * source that failed) ends at once and is reported by the next run.
 * Returns 0, or -1 (out of memory, or c already has an attempt here). */
int kombo_multi_add(kombo_multi *m, kombo_call *c, void *tag);
/* Moves bytes until an attempt ends or `timeout` seconds pass (with no
 * transfer, it just sleeps that long); writes the tags of the attempts
 * that ended (at most max) to done and returns how many. */
size_t kombo_multi_run(kombo_multi *m, double timeout, void **done, size_t max);
/* Cuts c's attempt off now as aborted (`why`, a static string), reports it
 * to c and sets *tag; its outcome says whether the whole request had gone
 * out.  -1 when c has no attempt here. */
int kombo_multi_abort(kombo_multi *m, kombo_call *c, const char *why, void **tag);
size_t kombo_multi_running(const kombo_multi *m); /* attempts in flight */

/* Monotonic and wall clocks, seconds. */
double kombo_monotonic_now(void);
double kombo_wall_now(void);
void kombo_sleep(double seconds);

#ifdef __cplusplus
}
#endif

#endif
