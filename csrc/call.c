/*
 * call.c - one logical API call: checks the configuration, renders the
 * request once, then tells its driver what to do next (send, sleep, stop).
 *
 * The call never touches a socket or a clock itself: the driver (libcurl in
 * transport_curl.c, cosockets in lua/kombo/cosocket.lua) passes the time in
 * and reports each attempt, so both transports share one retry policy.
 */
#include "kombo.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum call_state { CALL_READY, CALL_SENT, CALL_WAIT, CALL_DONE };

static unsigned calls_made; /* seeds jitter */

struct kombo_call {
    kombo_config cfg;
    char *ca_file; /* cfg.ca_file points here: the transport reads it on every attempt */
    kombo_buf url;
    kombo_buf headers[KOMBO_MAX_HEADERS];
    size_t nheaders;
    kombo_body body;
    kombo_response response;
    kombo_result result;
    enum call_state state;
    double started;
    double delay;
    uint64_t rng;
};

void kombo_retry_policy_default(kombo_retry_policy *p)
{
    p->max_attempts = 3;
    p->initial_interval = 0.5;
    p->max_interval = 30;
    p->exponent = 1.5;
    p->max_elapsed = 120;
    p->retry_unsafe = 0;
}

void kombo_retry_policy_none(kombo_retry_policy *p)
{
    kombo_retry_policy_default(p);
    p->max_attempts = 1;
}

static int is_http_url(const char *s)
{
    size_t n;
    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n > 7 && strncmp(s, "http://", 7) == 0)
        return 1;
    return n > 8 && strncmp(s, "https://", 8) == 0;
}

static void check_config(const kombo_config *cfg, kombo_problems *p)
{
    kombo_check_header_value(p, "api_key", kombo_str_c(cfg->api_key));
    if (!is_http_url(cfg->server_url))
        kombo_problems_add(p, "server_url", "must be an absolute http(s) URL");
    else if (strpbrk(cfg->server_url, " \t\r\n?#") != NULL)
        kombo_problems_add(p, "server_url", "must not contain whitespace, '?' or '#'");
    if (cfg->user_agent != NULL && strpbrk(cfg->user_agent, "\r\n") != NULL)
        kombo_problems_add(p, "user_agent", "must not contain CR or LF");
    if (!(cfg->timeout > 0))
        kombo_problems_add(p, "timeout", "must be a positive number of seconds");
    if (!(cfg->connect_timeout > 0))
        kombo_problems_add(p, "connect_timeout", "must be a positive number of seconds");
    if (cfg->retry.max_attempts < 1)
        kombo_problems_add(p, "retries.max_attempts", "must be at least 1");
    if (!(cfg->retry.initial_interval >= 0) || !(cfg->retry.max_interval >= 0))
        kombo_problems_add(p, "retries", "intervals must be non-negative numbers");
    if (!(cfg->retry.exponent >= 1))
        kombo_problems_add(p, "retries.exponent", "must be at least 1");
    if (!(cfg->retry.max_elapsed >= 0))
        kombo_problems_add(p, "retries.max_elapsed", "must be a non-negative number");
}

static int render_url(kombo_call *c, const kombo_request *req)
{
    const char *base = c->cfg.server_url;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    kombo_buf_append(&c->url, base, n);
    kombo_buf_puts(&c->url, req->target == KOMBO_TARGET_APPLICATION ? "/ats/applications/"
                                                                   : "/ats/candidates/");
    kombo_percent_encode(&c->url, req->id.ptr, req->id.len);
    kombo_buf_puts(&c->url, "/attachments");
    return c->url.failed ? -1 : 0;
}

static int render_headers(kombo_call *c, kombo_str integration_id)
{
    static const char *fixed[] = {"Content-Type: application/json", "Accept: application/json"};
    size_t i;
    kombo_buf *h = c->headers;

    kombo_buf_puts(&h[0], "Authorization: Bearer ");
    kombo_buf_puts(&h[0], c->cfg.api_key);
    kombo_buf_puts(&h[1], "X-Integration-Id: ");
    kombo_buf_append(&h[1], integration_id.ptr, integration_id.len);
    c->nheaders = 2;
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        kombo_buf_puts(&h[c->nheaders++], fixed[i]);
    if (c->cfg.user_agent != NULL) {
        kombo_buf_puts(&h[c->nheaders], "User-Agent: ");
        kombo_buf_puts(&h[c->nheaders++], c->cfg.user_agent);
    }
    for (i = 0; i < c->nheaders; i++)
        if (h[i].failed)
            return -1;
    return 0;
}

static int has_nul(kombo_str s)
{
    return s.ptr != NULL && memchr(s.ptr, '\0', s.len) != NULL;
}

/* Opens attachment.file (a problem when it cannot be read) and fills in
 * what the content itself tells: the name from the path, the content type
 * from the leading bytes and the extension.  An explicit value always wins. */
static void *apply_content_defaults(kombo_attachment *a, kombo_problems *problems)
{
    unsigned char head[512];
    size_t n = 0, size = 0, total = 0;
    void *file = NULL;
    const char *type;

    if (a->file.ptr != NULL && a->file.len > 0 && !has_nul(a->file)) {
        char err[200];
        file = kombo_file_open(a->file.ptr, &size, err, sizeof err);
        if (file == NULL) {
            kombo_problems_add(problems, "body.attachment.file", "%.120s: %s", a->file.ptr, err);
            return NULL;
        }
        n = fread(head, 1, sizeof head, (FILE *)file);
        total = size;
        rewind((FILE *)file);
        if (a->name.ptr == NULL) {
            const char *slash = memchr(a->file.ptr, '/', a->file.len) ? strrchr(a->file.ptr, '/') : NULL;
            a->name = kombo_str_c(slash != NULL ? slash + 1 : a->file.ptr);
        }
    } else if (a->bytes.ptr != NULL) {
        n = a->bytes.len < sizeof head ? a->bytes.len : sizeof head;
        memcpy(head, a->bytes.ptr, n);
        total = a->bytes.len;
    } else if (a->source == NULL) {
        return NULL; /* data and data_url: the caller says what it is */
    }
    if (a->content_type.ptr == NULL) {
        type = kombo_content_type_infer(head, n, total > n, a->name.ptr, a->name.len);
        a->content_type = kombo_str_c(type != NULL ? type : "application/octet-stream");
    }
    return file;
}

kombo_call *kombo_call_new(const kombo_config *cfg, const kombo_request *req,
                           kombo_problems *problems)
{
    kombo_request effective = *req;
    void *file;
    kombo_call *c;
    size_t i;

    kombo_problems_init(problems);
    if (effective.integration_id.ptr == NULL)
        effective.integration_id = kombo_str_c(cfg->integration_id);
    check_config(cfg, problems);
    file = apply_content_defaults(&effective.attachment, problems);
    kombo_request_validate(&effective, problems);
    if (problems->count > 0) {
        kombo_file_close(file);
        return NULL;
    }

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        kombo_file_close(file);
        return NULL;
    }
    c->cfg = *cfg;
    if (cfg->ca_file != NULL) {
        c->ca_file = strdup(cfg->ca_file);
        if (c->ca_file == NULL) {
            kombo_file_close(file);
            free(c);
            return NULL;
        }
        c->cfg.ca_file = c->ca_file;
    }
    if (c->cfg.max_response_bytes == 0)
        c->cfg.max_response_bytes = KOMBO_DEFAULT_MAX_RESPONSE;
    kombo_buf_init(&c->url);
    for (i = 0; i < KOMBO_MAX_HEADERS; i++)
        kombo_buf_init(&c->headers[i]);
    kombo_response_init(&c->response, c->cfg.max_response_bytes);
    /* The body first: it takes over the open file, also when it fails. */
    if (kombo_body_build(&c->body, &effective, file) != 0 || render_url(c, &effective) != 0 ||
        render_headers(c, effective.integration_id) != 0) {
        kombo_call_free(c);
        return NULL;
    }
    /* Jitter only needs to spread clients apart, not to be unpredictable. */
    c->rng = ((uint64_t)(uintptr_t)c ^ ((uint64_t)++calls_made << 32)) * 0x9E3779B97F4A7C15ull | 1;
    c->state = CALL_READY;
    c->result.response = &c->response;
    return c;
}

void kombo_call_free(kombo_call *c)
{
    size_t i;
    if (c == NULL)
        return;
    kombo_buf_free(&c->url);
    for (i = 0; i < KOMBO_MAX_HEADERS; i++) {
        /* The Authorization header holds the key: do not leave it in freed memory. */
        if (c->headers[i].data != NULL)
            memset(c->headers[i].data, 0, c->headers[i].len);
        kombo_buf_free(&c->headers[i]);
    }
    kombo_body_free(&c->body);
    kombo_response_free(&c->response);
    free(c->ca_file);
    free(c);
}

const char *kombo_call_url(const kombo_call *c) { return c->url.data; }
size_t kombo_call_header_count(const kombo_call *c) { return c->nheaders; }
const char *kombo_call_header(const kombo_call *c, size_t i)
{
    return i < c->nheaders ? c->headers[i].data : NULL;
}
kombo_body *kombo_call_body(kombo_call *c) { return &c->body; }
const kombo_config *kombo_call_config(const kombo_call *c) { return &c->cfg; }
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
    const kombo_retry_policy *p = &c->cfg.retry;
    double d = p->initial_interval * pow(p->exponent, attempts - 1);
    if (d > p->max_interval)
        d = p->max_interval;
    return d * (0.5 + 0.5 * next_random(c));
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

void kombo_call_complete(kombo_call *c, const kombo_response *r, double now, double wall_now)
{
    const kombo_retry_policy *p = &c->cfg.retry;
    kombo_classification *cls = &c->result.cls;
    int retryable;
    double delay;

    if (c->state != CALL_SENT)
        return;
    kombo_classify(r, wall_now, cls);
    c->result.status = r->status;
    c->result.attempts++;
    c->result.elapsed = now - c->started;
    c->state = CALL_DONE;

    retryable = cls->retryable_safe || (p->retry_unsafe && cls->retryable_unsafe);
    if (cls->kind == KOMBO_OK || !retryable || c->result.attempts >= p->max_attempts)
        return;
    delay = cls->retry_after >= 0 ? cls->retry_after : backoff(c, c->result.attempts);
    if (delay > p->max_interval)
        delay = p->max_interval;
    if (!isfinite(delay) || c->result.elapsed + delay > p->max_elapsed)
        return;
    c->delay = delay;
    c->state = CALL_WAIT;
}
