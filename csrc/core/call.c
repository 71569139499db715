/*
 * call.c - one logical API call: renders the request of an operation once
 * (URL from the operation's path, headers, body), then tells its driver
 * what to do next (send, sleep, stop).
 *
 * The call never touches a socket or a clock itself: the driver (libcurl in
 * csrc/curl, cosockets in lua/kombo/cosocket.lua) passes the time in
 * and reports each attempt, so both transports share one retry policy.
 */
#include "kombo.h"
#include "call.h"
#include "body.h"
#include "buf.h"
#include "classify.h"
#include "client.h"
#include "codec.h"
#include "internal.h"
#include "request.h"
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum call_state { CALL_READY, CALL_SENT, CALL_WAIT, CALL_DONE };

static unsigned calls_made; /* seeds jitter */

/* A call's own settings (kombo_request.config), when it has any. */
typedef struct call_own {
    kombo_config cfg;
    char *server_url;
} call_own;

/* Headers beyond the library's own (kombo_call_set_headers), when any:
 * "Name: value" strings, NUL-separated, in `text`. */
typedef struct call_extra {
    kombo_buf text;
    const char *line[KOMBO_MAX_EXTRA_HEADERS];
    size_t n;
} call_extra;

struct kombo_call {
    const kombo_client *client;
    const kombo_config *cfg; /* the client's, or own->cfg */
    call_own *own;           /* NULL: none (no allocation for the usual call) */
    call_extra *extra;       /* NULL: none */
    const kombo_operation *op;
    kombo_buf url;
    kombo_buf integration; /* "X-Integration-Id: ..." */
    const char *headers[KOMBO_MAX_HEADERS];
    size_t nheaders;
    kombo_body body;
    kombo_call_file *files; /* the body's file objects, what preflight checks: file1 or malloc'd */
    kombo_call_file file1;  /* an upload's one (no allocation) */
    size_t nfiles, capfiles;
    int files_listed;       /* made with list_files */
    enum call_state state;
    double started;
    double delay;
    uint64_t rng;
    /* Last: large, and initialised by their own code rather than zeroed
     * with the rest when a recycled call is made again (call_init). */
    kombo_response response;
    kombo_result result;
};

/* {server_url}{path}, each {param} replaced by its value percent-encoded
 * as one path segment. */
static int render_url(kombo_call *c, const kombo_request *req)
{
    const char *p = c->op->path;
    if (c->own == NULL) {
        kombo_buf_append(&c->url, c->client->server_url, c->client->prefix_len);
    } else { /* the call's own server_url, without trailing slashes */
        size_t n = strlen(c->own->server_url);
        while (n > 0 && c->own->server_url[n - 1] == '/')
            n--;
        kombo_buf_append(&c->url, c->own->server_url, n);
    }
    while (*p) {
        const char *open = strchr(p, '{'), *close;
        size_t i;
        if (open == NULL) {
            kombo_buf_puts(&c->url, p);
            break;
        }
        kombo_buf_append(&c->url, p, (size_t)(open - p));
        close = strchr(open, '}');
        if (close == NULL)
            return -1; /* a broken table entry */
        for (i = 0; i < KOMBO_MAX_PARAMS && c->op->params[i] != NULL; i++)
            if (strlen(c->op->params[i]) == (size_t)(close - open - 1) &&
                memcmp(c->op->params[i], open + 1, (size_t)(close - open - 1)) == 0)
                break;
        if (i == KOMBO_MAX_PARAMS || c->op->params[i] == NULL)
            return -1;
        kombo_percent_encode(&c->url, req->params[i].ptr, req->params[i].len);
        p = close + 1;
    }
    if (c->op->query != NULL && req->query != NULL)
        kombo_query_write(&c->url, c->op->query, req->query);
    return c->url.failed ? -1 : 0;
}

static int render_headers(kombo_call *c, kombo_str integration_id)
{
    const kombo_client *cl = c->client;
    c->headers[c->nheaders++] = cl->authorization.data;
    if (c->op->integration_scoped) {
        kombo_buf_append(&c->integration, "X-Integration-Id: ", sizeof "X-Integration-Id: " - 1);
        kombo_buf_append(&c->integration, integration_id.ptr, integration_id.len);
        if (c->integration.failed)
            return -1;
        c->headers[c->nheaders++] = c->integration.data;
    }
    if (c->op->body_schema != NULL)
        c->headers[c->nheaders++] = "Content-Type: application/json";
    c->headers[c->nheaders++] = "Accept: application/json";
    if (cl->user_agent_header.len > 0)
        c->headers[c->nheaders++] = cl->user_agent_header.data;
    return 0;
}

size_t kombo_request_resolve(const kombo_client *client, kombo_request *req, kombo_problems *problems)
{
    if (req->integration_id.ptr == NULL)
        req->integration_id = kombo_str_c(client->cfg.integration_id);
    return kombo_request_validate(req, problems);
}

/* What the result says until an attempt is reported: no success (the
 * kind's zero value, KOMBO_KIND_NONE, named "internal"), not retryable. */
static void no_answer(kombo_call *c, kombo_outcome outcome, const char *why)
{
    kombo_classification *cls = &c->result.cls;
    kombo_classification_clear(cls);
    cls->outcome = outcome;
    kombo_copy_text(cls->message, sizeof cls->message, why);
}

/* note_file's: the call, and the arena the request was read into. */
typedef struct files_note {
    kombo_call *c;
    kombo_arena *arena;
} files_note;

/* A fact's string copied into the arena: a binding may lend the tree its
 * caller's strings only until the call is made (lua_value.c), and the
 * facts are read after.  Left as it is without an arena; -1 when out of
 * memory. */
static int own_fact(kombo_arena *a, kombo_str *s)
{
    char *copy;
    if (a == NULL || s->ptr == NULL)
        return 0;
    if ((copy = kombo_arena_alloc(a, s->len + 1)) == NULL)
        return -1;
    memcpy(copy, s->ptr, s->len);
    s->ptr = copy;
    return 0;
}

/* What preflight checks: each file object of the body, defaults applied. */
static void note_file(void *ud, const char *path, const kombo_value *v)
{
    files_note *note = ud;
    kombo_call *c = note->c;
    kombo_call_file *f;
    size_t n;

    if (c->nfiles == c->capfiles) {
        size_t cap = c->capfiles * 2;
        kombo_call_file *grown = c->files == &c->file1 ? malloc(cap * sizeof *grown)
                                                       : realloc(c->files, cap * sizeof *grown);
        if (grown == NULL) {
            c->capfiles = 0; /* out of memory: kombo_call_make gives up */
            return;
        }
        if (c->files == &c->file1)
            grown[0] = c->file1;
        c->files = grown;
        c->capfiles = cap;
    }
    if (c->capfiles == 0)
        return;
    f = &c->files[c->nfiles++];
    n = strlen(path); /* (the walk's paths fit: they are built in KOMBO_PATH_CAP) */
    if (n >= sizeof f->path)
        n = sizeof f->path - 1;
    memcpy(f->path, path, n);
    f->path[n] = '\0';
    kombo_file_object_facts(v, &f->facts);
    if (own_fact(note->arena, &f->facts.type) != 0 || own_fact(note->arena, &f->facts.content_type) != 0)
        c->capfiles = 0; /* out of memory: kombo_call_make gives up */
}

/* A call's memory, fresh or recycled (kombo_call_recycle): everything
 * before `response` zeroed, the URL and header buffers and the response's
 * two buffers keeping their storage, emptied.  Two text fields are only
 * emptied (the body's error, the first file's path: C strings, read up to
 * their NUL), and a recycled body's spare buffers stay where they are:
 * what is not zeroed is not written at all. */
#define ZERO_SPAN(c, from, to) \
    memset((char *)(c) + offsetof(kombo_call, from), 0, offsetof(kombo_call, to) - offsetof(kombo_call, from))
static kombo_call *call_init(kombo_call *spare, size_t max_response)
{
    kombo_call *c = spare;
    kombo_buf url, integration, headers, body;
    size_t nsegments = 0;

    if (c == NULL) {
        if ((c = malloc(sizeof *c)) == NULL)
            return NULL;
        kombo_buf_init(&url);
        kombo_buf_init(&integration);
        kombo_buf_init(&headers);
        kombo_buf_init(&body);
        memset(c->body.spare, 0, sizeof c->body.spare);
    } else {
        url = c->url, integration = c->integration;
        headers = c->response.headers, body = c->response.body;
        nsegments = c->body.nspare;
    }
    ZERO_SPAN(c, client, body);
    memset(&c->body, 0, offsetof(kombo_body, error));
    c->body.error[0] = '\0';
    memset(&c->body.on_progress, 0, offsetof(kombo_body, spare) - offsetof(kombo_body, on_progress));
    c->body.nspare = nsegments;
    ZERO_SPAN(c, files, file1);
    c->file1.path[0] = '\0';
    memset(&c->file1.facts, 0, sizeof c->file1.facts);
    ZERO_SPAN(c, nfiles, response);
    kombo_response_init(&c->response, max_response);
    c->url = url;
    c->integration = integration;
    kombo_buf_reset(&c->url);
    kombo_buf_reset(&c->integration);
    c->response.headers.data = headers.data, c->response.headers.cap = headers.cap;
    c->response.body.data = body.data, c->response.body.cap = body.cap;
    kombo_buf_reset(&c->response.headers);
    kombo_buf_reset(&c->response.body);
    c->result.status = c->result.attempts = 0;
    c->result.elapsed = 0;
    return c;
}
#undef ZERO_SPAN

/* What a call holds beyond its memory, buffers and body (kombo_call_recycle
 * and kombo_call_free). */
static void free_held(kombo_call *c)
{
    if (c->files != &c->file1)
        free(c->files);
    c->files = &c->file1;
    if (c->own != NULL) {
        free(c->own->server_url);
        free(c->own);
        c->own = NULL;
    }
    if (c->extra != NULL) {
        kombo_buf_free(&c->extra->text);
        free(c->extra);
        c->extra = NULL;
    }
}

void kombo_call_recycle(kombo_call *c)
{
    kombo_body_recycle(&c->body);
    free_held(c);
    /* What the answer held goes now, not when the memory is next used. */
    if (c->response.body.data != NULL)
        memset(c->response.body.data, 0, c->response.body.len);
    if (c->response.headers.data != NULL)
        memset(c->response.headers.data, 0, c->response.headers.len);
    /* call_init only empties the body's error: a failed call's text (a
     * source's or a hook's message, the caller's words) is wiped here. */
    if (c->body.error[0] != '\0')
        memset(c->body.error, 0, sizeof c->body.error);
}

kombo_call *kombo_call_make(const kombo_client *client, kombo_request *req, int list_files,
                            kombo_problems *problems, kombo_call *spare)
{
    kombo_call *c = call_init(spare, kombo_max_response(&client->cfg, req->op));
    if (c == NULL) {
        kombo_value_close_files(req->body);
        return NULL;
    }
    c->client = client;
    c->cfg = &client->cfg;
    c->op = req->op;
    if (req->config != NULL) {
        /* The call's own settings; the rest stays the client's. */
        c->own = malloc(sizeof *c->own);
        if (c->own == NULL || (c->own->server_url = strdup(req->config->server_url)) == NULL) {
            free(c->own);
            c->own = NULL;
            kombo_value_close_files(req->body);
            kombo_call_free(c);
            return NULL;
        }
        c->own->cfg = client->cfg;
        c->own->cfg.server_url = c->own->server_url;
        c->own->cfg.timeout = req->config->timeout;
        c->own->cfg.connect_timeout = req->config->connect_timeout;
        c->own->cfg.max_response_bytes = req->config->max_response_bytes;
        c->own->cfg.retry = req->config->retry;
        c->cfg = &c->own->cfg;
        c->response.body.limit = kombo_max_response(c->cfg, c->op);
    }
    c->files = &c->file1;
    c->capfiles = 1;
    c->files_listed = list_files;
    if (c->op->body_schema != NULL && req->body != NULL) {
        if (list_files) {
            files_note note;
            note.c = c;
            note.arena = req->arena;
            kombo_schema_files(c->op->body_schema, req->body, "body", note_file, &note);
        }
        if (c->capfiles == 0) {
            kombo_value_close_files(req->body);
            kombo_call_free(c);
            return NULL;
        }
        /* The body takes over the open files, also when it fails. */
        if (kombo_schema_write(&c->body, c->op->body_schema, req->body) != 0 ||
            kombo_body_finish(&c->body) != 0) {
            if (c->body.error[0] != '\0')
                kombo_problems_add(problems, "body", "%s", c->body.error);
            kombo_value_close_files(req->body);
            kombo_call_free(c);
            return NULL;
        }
    } else if (kombo_body_finish(&c->body) != 0) {
        kombo_call_free(c);
        return NULL;
    }
    c->body.on_progress = req->on_progress;
    c->body.progress_ud = req->progress_ud;
    if (render_url(c, req) != 0 || render_headers(c, req->integration_id) != 0) {
        kombo_call_free(c);
        return NULL;
    }
    /* Jitter only needs to spread clients apart, not to be unpredictable. */
    c->rng = ((uint64_t)(uintptr_t)c ^ ((uint64_t)++calls_made << 32)) * 0x9E3779B97F4A7C15ull | 1;
    c->state = CALL_READY;
    c->result.response = &c->response;
    no_answer(c, KOMBO_OUTCOME_NOT_SENT, "no attempt was made (kombo_call_next never said send)");
    return c;
}

kombo_call *kombo_call_new(const kombo_client *client, kombo_request *req, kombo_problems *problems)
{
    kombo_problems_init(problems);
    if (kombo_request_resolve(client, req, problems) > 0) {
        kombo_value_close_files(req->body);
        return NULL;
    }
    return kombo_call_make(client, req, 0, problems, NULL);
}

void kombo_call_free(kombo_call *c)
{
    if (c == NULL)
        return;
    kombo_buf_free(&c->url);
    kombo_buf_free(&c->integration);
    kombo_response_free(&c->response);
    kombo_body_free(&c->body);
    free_held(c);
    free(c);
}

const kombo_operation *kombo_call_operation(const kombo_call *c) { return c->op; }
unsigned long kombo_call_client_serial(const kombo_call *c) { return c->client->serial; }
int kombo_call_has_own_config(const kombo_call *c) { return c->own != NULL; }
const kombo_call_file *kombo_call_files(const kombo_call *c, size_t *n)
{
    *n = c->nfiles;
    return c->files_listed ? c->files : NULL;
}
const char *kombo_call_integration_id(const kombo_call *c)
{
    /* after "X-Integration-Id: " */
    return c->integration.data != NULL ? c->integration.data + 18 : "";
}
const char *kombo_call_url(const kombo_call *c) { return c->url.data; }
size_t kombo_call_header_count(const kombo_call *c)
{
    return c->extra == NULL ? c->nheaders : c->nheaders + c->extra->n;
}
size_t kombo_call_extra_header_count(const kombo_call *c) { return c->extra == NULL ? 0 : c->extra->n; }
const char *kombo_call_header(const kombo_call *c, size_t i)
{
    if (i < c->nheaders)
        return c->headers[i];
    if (c->extra != NULL && i - c->nheaders < c->extra->n)
        return c->extra->line[i - c->nheaders];
    return NULL;
}

/* The headers the library writes itself, or that would break the framing
 * of the request: a call cannot set them. */
static const char *const owned_headers[] = {
    "Authorization", "X-Integration-Id", "Content-Type", "Content-Length", "Host",
    "Accept", "User-Agent", "Connection", "Transfer-Encoding", "Expect", NULL};

static int is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

int kombo_call_set_headers(kombo_call *c, const kombo_str *names, const kombo_str *values, size_t n,
                           const char *path, kombo_problems *problems)
{
    size_t before = problems->count + problems->dropped, i, j, k, off[KOMBO_MAX_EXTRA_HEADERS];
    call_extra *x = c->extra;

    if (n > KOMBO_MAX_EXTRA_HEADERS) {
        kombo_problems_add(problems, path, "holds %zu headers, more than %d", n, KOMBO_MAX_EXTRA_HEADERS);
        return -1;
    }
    for (i = 0; i < n; i++) {
        kombo_str name = names[i], v = values[i];
        int token = name.ptr != NULL && name.len > 0 && name.len <= 256;
        for (k = 0; token && k < name.len; k++)
            token = is_token_char((unsigned char)name.ptr[k]);
        if (!token) {
            kombo_problems_add(problems, path, "has a header name that is not an HTTP token (%.40s%s)",
                               name.ptr != NULL ? name.ptr : "", name.len > 40 ? "..." : "");
            continue;
        }
        for (j = 0; owned_headers[j] != NULL; j++)
            if (kombo_header_name_is(name, owned_headers[j]))
                break;
        if (owned_headers[j] != NULL) {
            kombo_problems_add(problems, path,
                               "cannot set %s: the library writes that header itself (names compare without case)%s",
                               owned_headers[j],
                               j == 1 ? "; give integration_id in the call's arguments"
                               : j == 6 ? "; use the client option user_agent" : "");
            continue;
        }
        if (v.ptr == NULL || memchr(v.ptr, '\r', v.len) != NULL || memchr(v.ptr, '\n', v.len) != NULL ||
            memchr(v.ptr, '\0', v.len) != NULL)
            kombo_problems_add(problems, path, "%.*s must be a string without CR, LF or NUL", (int)name.len,
                               name.ptr);
        else if (v.len > 8192)
            kombo_problems_add(problems, path, "%.*s is longer than 8192 bytes", (int)name.len, name.ptr);
    }
    if (problems->count + problems->dropped > before)
        return -1;
    if (n == 0) {
        if (x != NULL)
            x->n = 0;
        return 0;
    }
    if (x == NULL) {
        x = calloc(1, sizeof *x);
        if (x == NULL) {
            kombo_problems_add(problems, path, "out of memory");
            return -1;
        }
        kombo_buf_init(&x->text);
        c->extra = x;
    }
    kombo_buf_reset(&x->text);
    for (i = 0; i < n; i++) {
        off[i] = x->text.len;
        kombo_buf_append(&x->text, names[i].ptr, names[i].len);
        kombo_buf_append(&x->text, ": ", 2);
        kombo_buf_append(&x->text, values[i].ptr, values[i].len);
        kombo_buf_append(&x->text, "", 1);
    }
    if (x->text.failed) {
        x->n = 0;
        kombo_problems_add(problems, path, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++)
        x->line[i] = x->text.data + off[i];
    x->n = n;
    return 0;
}
kombo_body *kombo_call_body(kombo_call *c) { return &c->body; }

void kombo_call_set_before_last(kombo_call *c, int (*fn)(void *ud), void *ud)
{
    c->body.before_last = fn;
    c->body.before_last_ud = fn != NULL ? ud : NULL;
}
const kombo_config *kombo_call_config(const kombo_call *c) { return c->cfg; }
const kombo_result *kombo_call_result(const kombo_call *c) { return &c->result; }
kombo_response *kombo_call_response(kombo_call *c) { return &c->response; }

static double next_random(kombo_call *c) /* xorshift64*, in [0, 1) */
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* Exponential backoff with jitter: initial * exponent^(n-1), scaled by a
 * random factor in [0.5, 1.0) so that many clients do not retry in step. */
static double backoff(kombo_call *c, int attempts)
{
    const kombo_retry_policy *p = &c->cfg->retry;
    double d = p->initial_interval * pow(p->exponent, attempts - 1);
    if (d > p->max_interval)
        d = p->max_interval;
    return d * (0.5 + 0.5 * next_random(c));
}

/* Over Kombo's in-flight limit for the integration: Kombo advises
 * exponential backoff starting at about a second, whatever the client's
 * initial_interval (a 10 ms retry would only meet the same limit). */
#define CONCURRENCY_FIRST_WAIT 1.0
static double concurrency_backoff(kombo_call *c, int attempts)
{
    const kombo_retry_policy *p = &c->cfg->retry;
    double d = CONCURRENCY_FIRST_WAIT * pow(p->exponent, attempts - 1);
    if (d > p->max_interval)
        d = p->max_interval;
    return d * (0.75 + 0.5 * next_random(c));
}

kombo_step kombo_call_next(kombo_call *c, double now, double *delay)
{
    *delay = 0;
    switch (c->state) {
    case CALL_READY:
        if (c->result.attempts == 0)
            c->started = now;
        if (kombo_body_rewind(&c->body) != 0 && c->result.attempts > 0) {
            /* A one-shot source was consumed: the last answer stands. */
            size_t len = strlen(c->result.cls.message);
            snprintf(c->result.cls.message + len, sizeof c->result.cls.message - len,
                     " (not retried: %s)", c->body.error);
            c->state = CALL_DONE;
            return KOMBO_STEP_DONE;
        }
        c->state = CALL_SENT;
        kombo_response_reset(&c->response);
        if (c->result.attempts == 0) /* the driver may send it and never report it */
            no_answer(c, KOMBO_OUTCOME_UNKNOWN,
                      "the attempt was never reported (kombo_call_complete): the request may have been sent");
        return KOMBO_STEP_SEND;
    case CALL_WAIT:
        c->state = CALL_READY;
        *delay = c->delay;
        return KOMBO_STEP_SLEEP;
    case CALL_SENT: /* the driver asked again without reporting: treat as lost */
    case CALL_DONE:
    default:
        c->state = CALL_DONE;
        return KOMBO_STEP_DONE;
    }
}

/* A Retry-After longer than the policy's longest wait, or than what is
 * left of max_elapsed: says so in the message and returns 1 (no retry). */
static int gave_up_on_retry_after(kombo_call *c, const kombo_retry_policy *p, kombo_classification *cls)
{
    size_t len = strlen(cls->message);
    double wait = cls->retry_after;
    if (wait <= p->max_interval && c->result.elapsed + wait <= p->max_elapsed)
        return 0;
    if (wait > p->max_interval)
        snprintf(cls->message + len, sizeof cls->message - len,
                 " (not retried: Retry-After asks for %g s, more than retries.max_interval (%g s))", wait,
                 p->max_interval);
    else
        snprintf(cls->message + len, sizeof cls->message - len,
                 " (not retried: Retry-After asks for %g s, more than retries.max_elapsed leaves (%g s))", wait,
                 p->max_elapsed - c->result.elapsed);
    return 1;
}

/* The one rule of what is sent again: safe retries always; those after
 * which the request may have been processed only for an idempotent
 * operation (a GET) or when the user opted in (retry_unsafe). */
static int retryable(const kombo_call *c)
{
    const kombo_classification *cls = &c->result.cls;
    return cls->retryable_safe || ((c->cfg->retry.retry_unsafe || c->op->idempotent) && cls->retryable_unsafe);
}

int kombo_call_retryable(const kombo_call *c)
{
    return c->result.attempts > 0 && c->result.cls.kind != KOMBO_OK && retryable(c);
}

void kombo_call_complete(kombo_call *c, const kombo_response *r, double now, double wall_now)
{
    const kombo_retry_policy *p = &c->cfg->retry;
    kombo_classification *cls = &c->result.cls;
    double delay;

    if (c->state != CALL_SENT)
        return;
    if (strcmp(c->op->method, "GET") == 0) /* a read: its messages say nothing of "processed" */
        kombo_classify_read(r, wall_now, &c->op->response, cls);
    else
        kombo_classify(r, wall_now, &c->op->response, cls);
    c->result.status = r->status;
    c->result.attempts++;
    c->result.elapsed = now - c->started;
    c->state = CALL_DONE;
    if (cls->outcome == KOMBO_OUTCOME_UNKNOWN && !c->op->idempotent &&
        (cls->kind == KOMBO_ERR_NETWORK || cls->kind == KOMBO_ERR_TIMEOUT || cls->kind == KOMBO_ERR_DECODE)) {
        /* How to settle it: the upload may be in the ATS already.  (Kombo's
         * own messages, kind api, are passed on unchanged.) */
        size_t len = strlen(cls->message);
        snprintf(cls->message + len, sizeof cls->message - len, "%s",
                 kombo_operation_is_upload(c->op)
                     ? "; the upload may have landed: check with attachment_exists before sending it again"
                     : "; it may have been carried out: check before sending it again");
    }

    /* An idempotent operation (a GET) may be resent after it may have been
     * processed; an upload only when the user opted in. */
    if (cls->kind == KOMBO_OK || !retryable(c) || c->result.attempts >= p->max_attempts)
        return;
    if (cls->retry_after >= 0) {
        /* The server's own wait is never shortened: retrying before it
         * would go against its instruction.  When the policy cannot wait
         * that long, the call ends now, retry_after set for the caller. */
        if (gave_up_on_retry_after(c, p, cls))
            return;
        delay = cls->retry_after;
    } else if (r->status == 429 && cls->has_code && strcmp(cls->code, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED") == 0) {
        delay = concurrency_backoff(c, c->result.attempts);
    } else {
        delay = backoff(c, c->result.attempts);
    }
    if (delay > p->max_interval)
        delay = p->max_interval;
    if (!isfinite(delay) || c->result.elapsed + delay > p->max_elapsed)
        return;
    c->delay = delay;
    c->state = CALL_WAIT;
}
