/*
 * kombo.h - the public C API of kombo-lua's core: what a C program needs
 * to make a call (examples/attach.c is its user, and includes nothing else).
 *
 * The core is "sans I/O" at its centre: it validates a request, renders the
 * URL, headers and a streaming body, decides what every answer means and when
 * to try again, but it never moves bytes itself.  A transport does that:
 * csrc/curl drives a call with libcurl (blocking, for scripts and C
 * programs, or many at once on a multi handle); the Lua layer drives the
 * very same call over OpenResty cosockets.
 *
 * A call, in this header's order: a client from a configuration
 * (kombo_config_defaults, kombo_client_new), a request (an operation from
 * kombo_operation_find, its path parameters, a body built as a value tree
 * in an arena), kombo_call_new (every problem at once), then
 * kombo_curl_perform, or the driver loop (kombo_call_next, an attempt,
 * kombo_call_complete), and the result: its kind, outcome and response.
 *
 * The rest of the core is internal, in headers beside this one (csrc/core):
 *
 *   buf.h          growable buffers (buf.c)
 *   codec.h        UTF-8, base64, JSON strings, percent-encoding, SHA-256,
 *                  hex (codec.c)
 *   file.h         opening a regular file for streaming (file.c)
 *   body.h         the streaming body writer: segments and streams (body.c)
 *   json.h         the strict JSON scanner (json.c)
 *   classify.h     responses, the header block parser, Retry-After, the
 *                  limit headers (headers.c); what an answer means
 *                  (classify.c)
 *   content_type.h content type inference (content_type.c)
 *   redact.h       redaction of echoed secrets: API keys, webhook secrets (redact.c)
 *   schema.h       descriptors, patterns, validation, the body and query
 *                  writer (schema.c, schema_types.c, regex.c,
 *                  file_object.c, write.c); the value tree they
 *                  check is this header's (value.c, value_json.c)
 *   request.h      request validation, ids, operation rules (request.c,
 *                  operation.c)
 *   client.h       the client's insides and its options table (client.c)
 *   call.h         what transports and bindings ask of a call (call.c)
 *   webhook.h      Kombo's webhook signature: checked and verified
 *                  (webhook.c)
 *   internal.h     small helpers the core's files share (problems.c,
 *                  schema_types.c)
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

/* ---------------------------------------------------------------- strings */

typedef struct kombo_str {
    const char *ptr; /* NULL: absent */
    size_t len;
} kombo_str;

#define KOMBO_STR_NULL ((kombo_str){NULL, 0})
kombo_str kombo_str_c(const char *s); /* from a C string; NULL stays absent */

/* A growable byte buffer: a response's header block and body are two.
 * Appends after an allocation failure are no-ops and leave `failed` set,
 * so a caller checks once at the end (lua-cjson's strbuf habit, without
 * its abort()); the functions are internal (buf.h). */
typedef struct kombo_buf {
    char *data; /* always NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    size_t limit; /* 0: unlimited; appends beyond it set `failed` */
    int failed;
} kombo_buf;

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
    int list;                /* a page of a list: data.results an array, data.next a string or null */
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
    int page_size_max;               /* a list's largest page_size (the description's maximum), or 0 */
} kombo_operation;

/* The table, generated into csrc/gen/operations.c (make generate) from
 * Kombo's description and spec/contract/operations.lua; operation.c reads
 * it (csrc/gen/operations.h declares the same). */
extern const kombo_operation kombo_operations[];
extern const size_t kombo_operation_count;

const kombo_operation *kombo_operation_find(const char *name); /* NULL when unknown */
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

typedef struct kombo_value kombo_value; /* below: a request value tree */

/* A request: the operation, its path parameters, and its query and body
 * as value trees (below), which the operation's descriptors check. */
typedef struct kombo_request {
    const kombo_operation *op;
    kombo_str params[KOMBO_MAX_PARAMS]; /* values of op->params, in order */
    kombo_str integration_id; /* X-Integration-Id; the client's when absent */
    kombo_value *query;       /* an object of query parameters, or NULL */
    kombo_value *body;        /* the request body, or NULL when none was given */
    struct kombo_arena *arena; /* the arena the trees were built in: a check adds defaults from it */
    kombo_progress_fn on_progress; /* optional */
    void *progress_ud;
    /* This call's own settings (timeout, connect_timeout, server_url,
     * max_response_bytes, retry), checked by kombo_config_check_call; NULL:
     * the client's.  Its other fields are not used (the client's key,
     * integration, User-Agent and CA bundle stay).  Copied by the call. */
    const struct kombo_config *config;
} kombo_request;

/* ---------------------------------------------------------- value tree */

typedef enum kombo_vtype {
    KOMBO_V_NULL = 0,
    KOMBO_V_BOOLEAN,
    KOMBO_V_INTEGER, /* i */
    KOMBO_V_NUMBER,  /* d, finite */
    KOMBO_V_STRING,  /* s: borrowed, kept alive by the caller until the call is freed */
    KOMBO_V_ARRAY,   /* children, in order */
    KOMBO_V_OBJECT,  /* children, each with its key */
    KOMBO_V_EMPTY,   /* an empty Lua table: [] or {}, as the descriptor has it */
    KOMBO_V_SOURCE,  /* raw content from a callback (a file object's source) */
    KOMBO_V_INVALID  /* the reader already reported it: present, unusable, not reported again */
} kombo_vtype;

struct kombo_value {
    kombo_vtype type;
    const char *given;   /* the caller's name of its type for messages ("table", "function"); NULL: the JSON name */
    kombo_str key;       /* a member's name */
    kombo_value *next;   /* the next member or element */
    kombo_value *child;  /* the first member or element */
    kombo_value *last;   /* the last one (kombo_value_append keeps it) */
    size_t n;            /* members or elements (kombo_value_append keeps it; the writer counts on it) */
    int b;
    int64_t i;
    double d;
    kombo_str s;
    const kombo_source *source; /* KOMBO_V_SOURCE */
    /* Set while a file object is checked: its open file (taken over by the
     * body writer, closed by kombo_value_close_files otherwise). */
    void *file;
};

/* Nodes are carved from an arena and freed together.  A caller may lend
 * it a first block (kombo_arena_init_with): a small request's tree then
 * costs no allocation at all. */
typedef struct kombo_arena {
    struct kombo_arena_block *blocks; /* malloc'd, freed by kombo_arena_free */
    char *cur;                        /* the block being carved: lent or blocks' */
    size_t used, cap;
    char *lent;                       /* the caller's first block (not freed) */
    size_t lent_cap;
    int failed;
} kombo_arena;

void kombo_arena_init(kombo_arena *a);
/* buf: 16-byte aligned, at least `n` bytes, alive until kombo_arena_free. */
void kombo_arena_init_with(kombo_arena *a, void *buf, size_t n);
void kombo_arena_free(kombo_arena *a);
void *kombo_arena_alloc(kombo_arena *a, size_t n); /* zeroed; NULL (and failed) when out of memory */

kombo_value *kombo_value_new(kombo_arena *a, kombo_vtype type);
/* Appends child to an array, or to an object under key (borrowed). */
void kombo_value_append(kombo_value *parent, kombo_value *child);
kombo_value *kombo_value_member(const kombo_value *object, const char *key); /* NULL when absent */
/* JSON text into a value tree (value_json.c): for C programs that have a
 * body as text, with a file object's "file" member naming a path like the
 * Lua layer's.  NULL with err set when the text is not JSON (or out of
 * memory).  Strings are decoded into the arena. */
kombo_value *kombo_value_parse_json(kombo_arena *a, const char *text, size_t n, char *err, size_t errsz);
/* Closes every file a check opened and did not hand to a body. */
void kombo_value_close_files(kombo_value *root);

/* ------------------------------------------------------------ results */

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
    /* Hooks' figures, filled by a transport only when want_timing is set
     * (nothing is measured otherwise); seconds from the attempt's start. */
    int want_timing;
    struct {
        double connect;    /* the connection (TCP, and TLS where there is one) was ready; 0: reused */
        double first_byte; /* the first byte of the answer arrived; 0: none did */
        double total;      /* the attempt ended */
        double bytes_sent; /* bytes of the request (head and body) handed to the connection */
    } timing;
} kombo_response;

/* First value of header `name` (case-insensitive) in r->headers, trimmed;
 * writes it to out (NUL-terminated, truncated to outsz) and returns 1, or 0. */
int kombo_response_header(const kombo_response *r, const char *name, char *out, size_t outsz);

/* What one attempt's answer means (classify.c decides). */
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
    /* Success: the positive response's span in the body (validated), and
     * its first containers as the scan that validated it recorded them
     * (where each opens, as an offset in the body, and its number of
     * members), so that a binding can make each container at its size
     * without reading it twice. */
    size_t json_off, json_len;
#define KOMBO_ANSWER_MARKS 16
    size_t mark_at[KOMBO_ANSWER_MARKS], mark_members[KOMBO_ANSWER_MARKS];
    unsigned nmarks;
    /* And every token of a small answer (json.h's tape: where each starts
     * in the body, where it ends or how many members it holds), so that a
     * binding builds the result without reading the text again; ntape >
     * KOMBO_ANSWER_TAPE: none. */
#define KOMBO_ANSWER_TAPE 64
    uint32_t tape_at[KOMBO_ANSWER_TAPE], tape_end[KOMBO_ANSWER_TAPE];
    unsigned ntape;
} kombo_classification;

/* ------------------------------------------------ configuration, client */

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
    /* The HTTP proxy: NULL follows the environment (https_proxy, no_proxy,
     * ... as libcurl reads them), "" uses none, "http://[user:password@]
     * host[:port]" tunnels every call through that one (CONNECT). */
    const char *proxy;
    double timeout;              /* seconds for a whole attempt */
    double connect_timeout;
    size_t max_response_bytes;   /* 0: the default for the answer (kombo_max_response) */
    kombo_retry_policy retry;
} kombo_config;

/* The defaults, in one place (the Lua layer reads them from here too):
 * timeout 300 s, connect_timeout 10 s, max_response_bytes 0 (the cap
 * below that fits the answer), retries 3 attempts, 0.5 s initial interval,
 * 30 s max interval, exponent 1.5, 120 s max elapsed, unsafe retries off. */
extern const kombo_config kombo_config_defaults;

/* The caps on an answer's body when max_response_bytes is 0.  A page of a
 * list holds up to 250 records with their nested data: the description's
 * example items are 1.5-2.3 KB (a candidate 1.5 KB, an application with
 * its candidate, interviews and offers 1.9 KB, a job 2.3 KB), and real
 * ones carry long HTML descriptions and remote_data, so a page gets about
 * 64 KiB per record, some 30 times the examples: 250 x 64 KiB is 15.6 MiB,
 * rounded up to 16 MiB.  Every other answer is one record or a short
 * list: 1 MiB. */
#define KOMBO_DEFAULT_MAX_RESPONSE (1024u * 1024u)
#define KOMBO_DEFAULT_MAX_LIST_RESPONSE (16u * 1024u * 1024u)

/* The cap on the body of an answer to op: cfg->max_response_bytes, or when
 * that is 0 the default above for the kind of answer (a list's page or any
 * other). */
size_t kombo_max_response(const kombo_config *cfg, const kombo_operation *op);

#define KOMBO_EU_URL "https://api.kombo.dev/v1"
#define KOMBO_US_URL "https://api.us.kombo.dev/v1"

/* A client: the configuration, checked once, and what every call of it
 * shares, rendered once (the URL prefix, the fixed headers). */
typedef struct kombo_client kombo_client;

/* Checks every option (all problems at once, paths are option names:
 * "timeout", "retries.max_attempts", ...) and copies the strings.  Returns
 * NULL with `problems` filled, or NULL with no problem when out of memory. */
kombo_client *kombo_client_new(const kombo_config *cfg, kombo_problems *problems);
void kombo_client_free(kombo_client *client); /* wipes the key */

/* Checks the settings a call may have of its own (kombo_request.config:
 * server_url, timeout, connect_timeout, retry) by the rules of
 * kombo_client_new, with the same option names; returns how many problems
 * it added (`problems` is not reset). */
size_t kombo_config_check_call(const kombo_config *cfg, kombo_problems *problems);

/* --------------------------------------------------------- the call */

typedef struct kombo_call kombo_call;

/* Prepares a call of `client` (which must outlive it): kombo_request_resolve
 * (all problems at once), then kombo_call_make (both in call.h).  Returns the call, or NULL
 * with `problems` filled (count 0: out of memory); files it opened are
 * closed when no call is made. */
kombo_call *kombo_call_new(const kombo_client *client, kombo_request *req, kombo_problems *problems);
void kombo_call_free(kombo_call *c);

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
/* Whether the last attempt's failure is one the call's retry policy sends
 * again (429, 503, not sent; for an idempotent operation, or with
 * retry_unsafe, also the failures after which it may have been processed),
 * whatever attempts and time are left: the rule kombo_call_complete
 * applies.  0 on success and before any attempt. */
int kombo_call_retryable(const kombo_call *c);
/* Headers of this call beyond the library's own: n "Name" / "value" pairs
 * replacing any set before (n 0 removes them), for the next attempts.  A
 * name must be an HTTP token, a value must hold no CR, LF or NUL, at most
 * KOMBO_MAX_EXTRA_HEADERS, and none may be one the library owns
 * (Authorization, X-Integration-Id, Content-Type, Content-Length, Host,
 * Accept, User-Agent, Connection, Transfer-Encoding, Expect; compared
 * without case).  On a problem (added to `problems` under `path`, e.g.
 * "headers") nothing changes and -1 is returned. */
#define KOMBO_MAX_EXTRA_HEADERS 32
int kombo_call_set_headers(kombo_call *c, const kombo_str *names, const kombo_str *values, size_t n,
                           const char *path, kombo_problems *problems);
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

/* Many calls' attempts at once in one thread (csrc/curl/multi.c): one
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
 * Returns 0, or -1 (out of memory, c already has an attempt here, or it
 * was called from a source's callback during another add on m). */
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
