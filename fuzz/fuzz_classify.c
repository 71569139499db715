/*
 * fuzz_classify.c - the response classifier, header lookup and the call's
 * retry decision, on arbitrary status, transport error, headers and body.
 *
 * Input layout (see fuzz/corpus/fuzz_classify/ for examples):
 *   bytes 0-1  status, big-endian (0..65535)
 *   byte 2     transport error (mod 5: none, network, timeout, too_large, aborted)
 *   byte 3     phase (mod 5: connect .. done)
 *   byte 4     body limit: 16 << (b & 7) bytes
 *   then       the transport's error message up to the first '\n'
 *   then       the header block up to and including the first "\r\n\r\n"
 *              (fed line by line, as libcurl does), the rest is the body
 *
 * Checks: kind and outcome in range; OK exactly when outcome is NONE and
 * then only for a complete 2xx; message non-empty and NUL-terminated, and
 * free of control bytes whenever the transport message is; code, title,
 * log_url NUL-terminated and empty unless flagged; retry_after -1 or in
 * [0, 1e9]; the safe and unsafe retry flags exclusive; header lookups
 * NUL-terminated within any buffer size; a call driven with this answer
 * retries at most max_attempts times with delays in [0, max_interval].
 */
#include "fuzz_common.h"
#include "core/kombo.h"
#include "core/buf.h"
#include "core/classify.h"

#include <math.h>

#define NOW 1700000000.0

/* The uploads' positive response: the envelope with warnings; and a list's
 * page (data.results an array, data.next a string or null), taken when the
 * fifth byte's top bit is set. */
static const kombo_response_shape SHAPE = {1, NULL, 0};
static const kombo_response_shape LIST_SHAPE = {1, "results", 1};

static const char *const lookups[] = {"Retry-After", "Content-Type", "Location", "retry-after", "X", ""};

static void check_cstr(const char *s, size_t cap, const char *what)
{
    CHECK(memchr(s, 0, cap) != NULL, "%s not NUL-terminated", what);
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static void check_header_lookups(const kombo_response *r, const char *fuzzname)
{
    static const size_t sizes[] = {1, 2, 7, 128, 300};
    size_t i, k;
    char out[300 + 16];

    for (i = 0; i < sizeof lookups / sizeof lookups[0] + 1; i++) {
        const char *name = i < sizeof lookups / sizeof lookups[0] ? lookups[i] : fuzzname;
        for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            /* A canary after the buffer: a write past outsz is a finding. */
            size_t sz = sizes[k];
            int found;
            memset(out, 'Z', sizeof out);
            found = kombo_response_header(r, name, out, sz);
            CHECK(memchr(out, 0, sz) != NULL, "lookup of %s (outsz %zu) not terminated", name, sz);
            CHECK(out[sz] == 'Z', "lookup of %s wrote past outsz %zu", name, sz);
            CHECK(!found || name[0], "empty name found");
            if (found) {
                CHECK(!strchr(out, '\n'), "value of %s contains LF", name);
                CHECK(out[0] != ' ' && out[0] != '\t', "value of %s not trimmed", name);
            }
        }
        (void)kombo_response_header(r, name, NULL, 0);
    }
}

static void check_classification(const kombo_response *r, const kombo_classification *c, int msg_has_ctl)
{
    check_cstr(c->message, sizeof c->message, "message");
    check_cstr(c->code, sizeof c->code, "code");
    check_cstr(c->title, sizeof c->title, "title");
    check_cstr(c->log_url, sizeof c->log_url, "log_url");
    CHECK((int)c->kind >= KOMBO_OK && c->kind <= KOMBO_ERR_ABORTED && c->kind != KOMBO_ERR_VALIDATION,
          "kind %d", (int)c->kind);
    CHECK((int)c->outcome >= KOMBO_OUTCOME_NONE && c->outcome <= KOMBO_OUTCOME_UNKNOWN, "outcome %d",
          (int)c->outcome);
    CHECK((c->kind == KOMBO_OK) == (c->outcome == KOMBO_OUTCOME_NONE), "kind %s with outcome %s",
          kombo_kind_name(c->kind), kombo_outcome_name(c->outcome));
    CHECK(strcmp(kombo_kind_name(c->kind), "internal") != 0 || c->kind == KOMBO_ERR_INTERNAL, "name");
    if (c->kind == KOMBO_OK) {
        CHECK(r->error == KOMBO_TE_NONE && r->status >= 200 && r->status < 300 && !r->body.failed,
              "OK for status %d error %d", r->status, (int)r->error);
        CHECK(!c->retryable_safe && !c->retryable_unsafe, "OK but retryable");
    } else {
        CHECK(c->message[0], "error %s without a message", kombo_kind_name(c->kind));
    }
    if (c->outcome == KOMBO_OUTCOME_NOT_SENT)
        CHECK(r->error != KOMBO_TE_NONE && (r->phase == KOMBO_PHASE_CONNECT || r->error == KOMBO_TE_ABORTED),
              "not_sent with error %d phase %d", (int)r->error, (int)r->phase);
    if (r->error == KOMBO_TE_NONE && !r->body.failed && r->status >= 300 && r->status < 400)
        CHECK(c->kind == KOMBO_ERR_HTTP && c->outcome == KOMBO_OUTCOME_REJECTED, "3xx");
    CHECK(!(c->retryable_safe && c->retryable_unsafe), "both retry flags");
    CHECK(c->retry_after == -1 || (c->retry_after >= 0 && c->retry_after <= 1e9), "retry_after %g",
          c->retry_after);
    CHECK(c->has_code || !c->code[0], "code without has_code");
    CHECK(c->has_title || !c->title[0], "title without has_title");
    CHECK(c->has_log_url || !c->log_url[0], "log_url without has_log_url");
    if (c->kind == KOMBO_ERR_API)
        CHECK(!has_ctl(c->message) && !has_ctl(c->code) && !has_ctl(c->title) && !has_ctl(c->log_url),
              "control byte in Kombo's error texts");
    if (!msg_has_ctl)
        CHECK(!has_ctl(c->message), "control byte in message: %s", c->message);
}

/* Drives a call whose every attempt gets this answer. */
static void check_call(const kombo_response *r, const kombo_classification *expect)
{
    static const char body[] =
        "{\"attachment\":{\"name\":\"cv.pdf\",\"type\":\"CV\",\"content_type\":\"application/pdf\","
        "\"data\":\"JVBERi0xLjQK\"}}";
    char err[128];
    kombo_arena arena;
    kombo_config cfg;
    kombo_client *client;
    kombo_request req;
    kombo_problems p;
    kombo_call *c;
    kombo_step step;
    double now = 100.0, delay;
    int sends = 0, steps = 0;
    const kombo_result *res;

    cfg = kombo_config_defaults;
    cfg.api_key = "k";
    cfg.server_url = "http://127.0.0.1:9/v1";
    cfg.timeout = 10;
    cfg.connect_timeout = 1;
    cfg.retry.max_attempts = 4;
    cfg.retry.retry_unsafe = r->status & 1;
    client = kombo_client_new(&cfg, &p);
    CHECK(client != NULL, "fixed options rejected");
    memset(&req, 0, sizeof req);
    req.op = kombo_operation_find("attach_to_candidate");
    req.params[0] = kombo_str_c("c1");
    req.integration_id = kombo_str_c("i1");
    kombo_arena_init(&arena);
    req.body = kombo_value_parse_json(&arena, body, sizeof body - 1, err, sizeof err);
    CHECK(req.body != NULL, "fixed body: %s", err);
    req.arena = &arena;
    c = kombo_call_new(client, &req, &p);
    CHECK(c != NULL, "fixed request rejected");

    while ((step = kombo_call_next(c, now, &delay)) != KOMBO_STEP_DONE) {
        CHECK(++steps < 100, "call does not end");
        if (step == KOMBO_STEP_SLEEP) {
            CHECK(isfinite(delay) && delay >= 0 && delay <= cfg.retry.max_interval, "delay %g", delay);
            now += delay;
            continue;
        }
        CHECK(step == KOMBO_STEP_SEND && delay == 0, "step %d", (int)step);
        sends++;
        now += 0.5;
        kombo_call_complete(c, r, now, NOW);
    }
    res = kombo_call_result(c);
    CHECK(res->attempts == sends && sends >= 1 && sends <= cfg.retry.max_attempts, "%d attempts, %d sends",
          res->attempts, sends);
    CHECK(res->cls.kind == expect->kind && res->cls.outcome == expect->outcome, "call result differs");
    CHECK(res->elapsed >= 0 && res->elapsed <= cfg.retry.max_elapsed + 1, "elapsed %g", res->elapsed);
    if (sends > 1)
        CHECK(expect->retryable_safe || (cfg.retry.retry_unsafe && expect->retryable_unsafe),
              "retried a non-retryable answer (%s)", expect->message);
    kombo_call_free(c);
    kombo_arena_free(&arena);
    kombo_client_free(client);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kombo_response r;
    kombo_classification cls;
    const char *p, *end, *nl, *hend;
    size_t elen;
    char fuzzname[32];
    int msg_ctl;
    const kombo_response_shape *shape;

    if (size < 5)
        return 0;
    shape = (data[4] & 0x80) ? &LIST_SHAPE : &SHAPE;
    kombo_response_init(&r, (size_t)16 << (data[4] & 7));
    r.status = data[0] << 8 | data[1];
    r.error = (kombo_transport_error)(data[2] % 5);
    r.phase = (kombo_phase)(data[3] % 5);
    p = (const char *)data + 5;
    end = (const char *)data + size;

    nl = memchr(p, '\n', (size_t)(end - p));
    elen = (size_t)((nl ? nl : end) - p);
    if (elen >= sizeof r.error_message)
        elen = sizeof r.error_message - 1;
    memcpy(r.error_message, p, elen);
    r.error_message[elen] = '\0';
    msg_ctl = has_ctl(r.error_message);
    p = nl ? nl + 1 : end;

    /* Header block, line by line, up to and including the blank line. */
    hend = p;
    while (hend < end) {
        const char *lf = memchr(hend, '\n', (size_t)(end - hend));
        const char *next = lf ? lf + 1 : end;
        size_t len = (size_t)(next - hend);
        int blank = (len == 1 && hend[0] == '\n') || (len == 2 && hend[0] == '\r' && hend[1] == '\n');
        kombo_buf_append(&r.headers, hend, len);
        hend = next;
        if (blank)
            break;
    }
    kombo_buf_append(&r.body, hend, (size_t)(end - hend));

    /* A header name taken from the input too: its first line, up to ':'. */
    {
        size_t k = 0;
        while (p + k < hend && k < sizeof fuzzname - 1 && p[k] != ':' && p[k] != '\n')
            k++;
        memcpy(fuzzname, p, k);
        fuzzname[k] = '\0';
    }
    check_header_lookups(&r, fuzzname);

    kombo_classify(&r, NOW, shape, &cls);
    check_classification(&r, &cls, msg_ctl);
    {
        /* Deterministic: the same answer classifies the same way. */
        kombo_classification again;
        kombo_classify(&r, NOW, shape, &again);
        CHECK(again.kind == cls.kind && again.outcome == cls.outcome &&
                  strcmp(again.message, cls.message) == 0,
              "not deterministic");
    }
    if (shape == &SHAPE) /* the call is an upload's: it classifies with the upload's shape */
        check_call(&r, &cls);

    /* A reset response is empty again and classifies as "no status". */
    kombo_response_reset(&r);
    CHECK(r.headers.len == 0 && r.body.len == 0 && !r.body.failed && r.error_message[0] == 0, "reset");
    kombo_classify(&r, NOW, &SHAPE, &cls);
    CHECK(cls.kind == KOMBO_ERR_NETWORK, "empty response kind %s", kombo_kind_name(cls.kind));
    kombo_response_free(&r);
    kombo_classify(NULL, NOW, &SHAPE, &cls);
    CHECK(cls.kind == KOMBO_ERR_INTERNAL, "NULL response");
    return 0;
}
