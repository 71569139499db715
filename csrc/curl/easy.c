/*
 * easy.c - moves a call's bytes with libcurl, one call at a time.
 *
 * An easy handle from the process-wide pool (pool.c) is reused for every
 * call, so libcurl keeps the connection (and TLS session) alive between
 * calls.  Everything a request
 * says comes from the call; this file only knows how to deliver it.
 */
#include "curl/curl_handle.h"
#include "core/buf.h"
#include "core/body.h"
#include "core/classify.h"
#include "core/call.h"
#include "core/client.h" /* kombo_proxy_refusal */

/* One floor instead of per-feature #ifs: CURLOPT_PROTOCOLS_STR needs 7.85,
 * and without CURLOPT_PREREQFUNCTION (7.80) libcurl's own resend of a small
 * upload could not be refused (the outcome rule). */
#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM < 0x075500 /* (cppcheck sees no curl.h) */
#error "kombo-lua needs libcurl 7.85.0 or later"
#endif
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>



/* Connections each handle keeps alive (the pool, pool.c, keeps handles). */
#define KEPT_PER_HANDLE 2

/* Bodies up to this size go out in the same write as the headers: one
 * packet and one server wake-up instead of two.  Larger ones stream. */
#define SMALL_BODY (64 * 1024)
#define SMALL_READ 4096 /* a small body's reads (on_progress is told after each) */

static int global_ready; /* curl_global_init is not thread-safe: done once, first use */

static void set_fixed_options(kombo_curl *t);
static void free_headers(kombo_curl *t);

kombo_curl *kombo_curl_new(void)
{
    kombo_curl *t;
    if (!global_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        global_ready = 1;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->easy = curl_easy_init();
    if (t->easy == NULL) {
        free(t);
        return NULL;
    }
    kombo_buf_init(&t->small);
    {
        char *ca = NULL;
        if (curl_easy_getinfo(t->easy, CURLINFO_CAINFO, &ca) == CURLE_OK && ca != NULL)
            t->default_ca = strdup(ca);
    }
    set_fixed_options(t);
    return t;
}

void kombo_curl_free(kombo_curl *t)
{
    if (t == NULL)
        return;
    curl_easy_cleanup(t->easy);
    free_headers(t);
    kombo_buf_free(&t->small);
    free(t->default_ca);
    free(t->ca_set);
    free(t);
}

const char *kombo_curl_version(void)
{
    static char v[64];
    if (v[0] == '\0')
        snprintf(v, sizeof v, "libcurl/%s", curl_version_info(CURLVERSION_NOW)->version);
    return v;
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    kombo_curl *t = ud;
    kombo_body *body = kombo_call_body(t->call);
    size_t n = kombo_body_read(body, dst, size * nitems);
    if (body->failed)
        return CURL_READFUNC_ABORT; /* never let a short body pass as complete */
    t->response->phase = n > 0 ? KOMBO_PHASE_SENDING : KOMBO_PHASE_WAITING;
    return n;
}

/* The outcome rule: once a request has been completely written it is
 * never sent again automatically.  libcurl resends a request on a fresh
 * connection, within one transfer, when a kept-alive connection fails: on a
 * send error (nothing or part went out: a resend is safe) and when it ends
 * without a byte of answer after the request went out (the server may have
 * read and acted on it: not safe).  Both hooks below refuse the second. */
#define MAY_HAVE_LANDED "the kept-alive connection closed without an answer, so the request was not sent again"

/* A streamed body is rewound before a resend: only a partly sent one may go. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    kombo_curl *t = ud;
    kombo_body *body = kombo_call_body(t->call);
    if (body->sent >= body->length) {
        t->no_resend = MAY_HAVE_LANDED;
        return CURL_SEEKFUNC_CANTSEEK;
    }
    if (offset != 0 || origin != SEEK_SET || kombo_body_rewind(body) != 0) {
        t->no_resend = "the connection was lost while the request was being sent, and the attachment's "
                       "source cannot be read a second time to send it again";
        return CURL_SEEKFUNC_CANTSEEK;
    }
    t->response->phase = KOMBO_PHASE_CONNECT;
    return CURL_SEEKFUNC_OK;
}

/* Called before each request libcurl sends in a transfer: a second one is
 * libcurl's resend.  A body handed over whole (CURLOPT_POSTFIELDS) goes out
 * with the headers in one send() and has no rewind to refuse, so it is
 * refused here when the first request went out: CURLINFO_REQUEST_SIZE
 * still counts it then (measured: 380 bytes for a 98-byte body; 0 when
 * send() failed, a resend that is safe), while the upload counter has
 * already been reset for the resend. */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    kombo_curl *t = ud;
    (void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
    if (++t->requests == 1) {
        /* A small body was read out before connecting; its bytes are handed
         * to the connection only now, so its before_last hook runs here
         * (a journal's "written" record then means what it says). */
        if (t->small_body && kombo_body_last_bytes(kombo_call_body(t->call)) != 0)
            return CURL_PREREQFUNC_ABORT;
        return CURL_PREREQFUNC_OK;
    }
    if (t->small_body) {
        long sent = 0;
        curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent);
        if (sent > 0) {
            t->no_resend = MAY_HAVE_LANDED;
            return CURL_PREREQFUNC_ABORT;
        }
    }
    return CURL_PREREQFUNC_OK; /* streamed bodies are decided in on_seek */
}

/* Our own socket(), to tell "out of descriptors" (EMFILE, ENFILE) from a
 * refused connection: libcurl reports both as "Couldn't connect". */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    kombo_curl *t = ud;
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    (void)purpose;
    if (s == CURL_SOCKET_BAD)
        t->open_errno = errno;
    return s;
}

static int has_chunked(const char *s, size_t n)
{
    size_t i, k;
    for (i = 0; i + 7 <= n; i++) {
        for (k = 0; k < 7; k++) {
            char c = s[i + k];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + ('a' - 'A'));
            if (c != "chunked"[k])
                break;
        }
        if (k == 7)
            return 1;
    }
    return 0;
}

/* One Content-Length value: trimmed, digits only, or "?". */
static void note_length(kombo_curl *t, const char *v, size_t n)
{
    char value[sizeof t->length];
    size_t i, o = 0;
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    for (i = 0; i < n && o + 1 < sizeof value; i++) {
        if (v[i] < '0' || v[i] > '9')
            break;
        value[o++] = v[i];
    }
    value[o] = '\0';
    if (n == 0 || i < n)
        strcpy(value, "?");
    if (t->length[0] == '\0')
        memcpy(t->length, value, sizeof value);
    else if (strcmp(t->length, value) != 0)
        t->length_conflict = 1;
}

/* Whether the line starts with the field name `lower` (with its colon; k
 * bytes) in any case: then it is that field, as headers.c's parser reads
 * one (the name ends at the first colon, no blank before it), and the rest
 * of the line is its value (blanks and line end still about it, which
 * note_length and has_chunked pass over).  One compare of the line's start
 * (headers.c's name compare), no parse of lines that are neither; the
 * colon, which has no case, is looked at first: Content-Type and
 * Connection share the first letter but not the colon's place. */
static int field_is(const char *line, size_t n, const char *lower, size_t k)
{
    kombo_str start;
    if (n < k || line[k - 1] != ':')
        return 0;
    start.ptr = line;
    start.len = k;
    return kombo_header_name_is(start, lower);
}

#define CONTENT_LENGTH "content-length:"
#define TRANSFER_ENCODING "transfer-encoding:"

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    kombo_curl *t = ud;
    size_t n = size * nitems;
    int first = n > 0 ? (unsigned char)line[0] | 0x20 : 0; /* (a letter in lower case) */
    /* Keep only the final response's block (a 100 Continue may come first). */
    if (first == 'h' && n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        kombo_buf_reset(&t->response->headers);
        t->length[0] = '\0';
        t->length_conflict = t->chunked = 0;
    } else if (first == 'c' && field_is(line, n, CONTENT_LENGTH, sizeof CONTENT_LENGTH - 1)) {
        note_length(t, line + (sizeof CONTENT_LENGTH - 1), n - (sizeof CONTENT_LENGTH - 1));
    } else if (first == 't' && field_is(line, n, TRANSFER_ENCODING, sizeof TRANSFER_ENCODING - 1)) {
        t->chunked = has_chunked(line + (sizeof TRANSFER_ENCODING - 1), n - (sizeof TRANSFER_ENCODING - 1));
    } else if ((n == 2 && line[0] == '\r') || (n == 1 && line[0] == '\n')) {
        /* (the status asked only of a block whose framing is refused) */
        long status = 0;
        if (!t->chunked && (t->length_conflict || strcmp(t->length, "?") == 0) &&
            curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 200) {
            t->headers_bad = t->length_conflict ? "conflicting Content-Length headers"
                                                : "invalid Content-Length (digits only)";
            return 0; /* aborts the transfer */
        }
    }
    t->response->phase = KOMBO_PHASE_RECEIVING;
    if (kombo_buf_append(&t->response->headers, line, n) != 0) {
        t->headers_too_large = 1; /* the same limit as the cosocket transport's */
        return 0;                 /* aborts the transfer */
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *ud)
{
    kombo_curl *t = ud;
    size_t n = size * nitems;
    if (kombo_buf_append(&t->response->body, data, n) != 0) {
        t->too_large = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

/* Errors libcurl reports before any request byte could have left. */
static int before_sending(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* "Expect:" stops libcurl from waiting for "100 Continue" before large bodies. */
static const char EXPECT_NONE[] = "Expect:";

/* Frees the kept header list, wiping it first: Authorization holds the key. */
static void free_headers(kombo_curl *t)
{
    struct curl_slist *h;
    for (h = t->headers; h != NULL; h = h->next)
        memset(h->data, 0, strlen(h->data));
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    free(t->headers_integration);
    t->headers_integration = NULL;
}

/* The call's headers as the handle's list.  Consecutive calls on a handle
 * mostly come from one client with one integration: the list is kept and
 * rebuilt only when the client, X-Integration-Id or the header count
 * changes, which saves two allocations per header per call. */
static int use_headers(kombo_curl *t, const kombo_call *c)
{
    struct curl_slist *list = NULL, *next;
    const char *integration = kombo_call_integration_id(c);
    size_t i, n = kombo_call_header_count(c);

    size_t own = kombo_call_extra_header_count(c);

    if (own == 0 && t->headers != NULL && t->headers_n == n && t->headers_client == kombo_call_client_serial(c) &&
        t->headers_integration != NULL && strcmp(t->headers_integration, integration) == 0)
        return 0;
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
    free_headers(t);
    for (i = 0; i <= n; i++) {
        next = curl_slist_append(list, i < n ? kombo_call_header(c, i) : EXPECT_NONE);
        if (next == NULL) {
            t->headers = list;
            free_headers(t);
            return -1;
        }
        list = next;
    }
    t->headers = list;
    t->headers_n = n;
    /* (a list with a call's own headers is not for the next call: serials start at 1) */
    t->headers_client = own == 0 ? kombo_call_client_serial(c) : 0;
    t->headers_integration = strdup(integration);
    if (t->headers_integration == NULL) {
        free_headers(t);
        return -1;
    }
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, list);
    return 0;
}

/* Seconds to libcurl milliseconds: at least 1 (0 means "no timeout" to
 * libcurl, so 0.0001 s must not become that), at most INT_MAX, and never an
 * undefined cast of a huge value (1e300 or inf pass check_config). */
static long timeout_ms(double seconds)
{
    double ms = seconds * 1000;
    if (!(ms >= 1))
        return 1;
    if (ms > 2147483647.0)
        return 2147483647L;
    return (long)ms;
}

static void fail_attempt(kombo_response *r, kombo_transport_error e, const char *msg)
{
    r->error = e;
    kombo_copy_text(r->error_message, sizeof r->error_message, msg);
}

/* The CA bundle for this call: the client's ca_file, else libcurl's own
 * default.  (Setting CURLOPT_CAINFO to NULL would not restore the default
 * but switch the bundle off, leaving only CAPATH, which not every build
 * has.)  Set only when it changes: a kept-alive TLS connection is reused
 * only while the handle's TLS settings stay the same. */
static int set_ca_file(kombo_curl *t, const char *ca_file)
{
    const char *want = ca_file != NULL ? ca_file : t->default_ca;
    char *copy;

    if (want == NULL ? t->ca_set == NULL : (t->ca_set != NULL && strcmp(want, t->ca_set) == 0))
        return 0;
    copy = want != NULL ? strdup(want) : NULL;
    if (want != NULL && copy == NULL)
        return -1;
    if (curl_easy_setopt(t->easy, CURLOPT_CAINFO, want) != CURLE_OK) {
        free(copy);
        return -1;
    }
    free(t->ca_set);
    t->ca_set = copy;
    return 0;
}

/* CURLOPT_POSTFIELDS, unless the handle has it already (fresh: the
 * method was set just now, so it is set too). */
static void set_fields(kombo_curl *t, const char *fields, int fresh)
{
    if (fresh || t->sent_fields != fields) {
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, fields);
        t->sent_fields = fields;
    }
}

int kombo_curl_begin(kombo_curl *t, kombo_call *c)
{
    const kombo_config *cfg = kombo_call_config(c);
    kombo_response *r = kombo_call_response(c);
    CURL *h = t->easy;

    t->call = c;
    t->response = r;
    t->too_large = 0;
    t->headers_too_large = 0;
    t->headers_bad = NULL;
    t->length[0] = '\0';
    t->length_conflict = t->chunked = 0;
    t->no_resend = NULL;
    t->requests = 0;
    t->open_errno = 0;
    t->abort_why = NULL;
    t->errbuf[0] = '\0';

    kombo_body *body = kombo_call_body(c);
    int is_get = strcmp(kombo_call_operation(c)->method, "GET") == 0, fresh = 0;

    if (use_headers(t, c) != 0) {
        fail_attempt(r, KOMBO_TE_NETWORK, "out of memory");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, kombo_call_url(c));
    if (set_ca_file(t, cfg->ca_file) != 0) {
        fail_attempt(r, KOMBO_TE_NETWORK, "out of memory");
        return -1;
    }
    /* The proxy: NULL is libcurl's default, the environment (https_proxy,
     * all_proxy, no_proxy: read by libcurl at each transfer); "" none, the
     * environment's too; a URL for every host (no_proxy then ignored:
     * CURLOPT_NOPROXY ""), as the cosocket transport does.  Set per call,
     * the handle being pooled across clients, unless the handle has them
     * already: the last call on it was the same client's, without settings
     * of its own (a client's settings never change; serials are never
     * reused, as addresses may be). */
    if (kombo_call_has_own_config(c) || t->options_client != kombo_call_client_serial(c)) {
        t->options_client = 0; /* (until all are set: a failed copy must not stay) */
        if (curl_easy_setopt(h, CURLOPT_PROXY, cfg->proxy) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_NOPROXY, cfg->proxy != NULL && cfg->proxy[0] != '\0' ? "" : NULL) !=
                CURLE_OK) {
            fail_attempt(r, KOMBO_TE_NETWORK, "out of memory");
            return -1;
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms(cfg->timeout));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(cfg->connect_timeout));
        t->options_client = kombo_call_has_own_config(c) ? 0 : kombo_call_client_serial(c);
    }
    if (is_get) {
        if (t->sent_kind != 1) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
            t->sent_kind = 1;
        }
    } else {
        const char *method = kombo_call_operation(c)->method;
        /* PUT, PATCH and DELETE send their body the way a POST does; only
         * the request line's method differs.  NULL puts POST back on a
         * reused handle. */
        const char *custom = strcmp(method, "POST") == 0 ? NULL : method;
        fresh = t->sent_kind != 2;
        if (fresh) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            t->sent_kind = 2;
        }
        if (fresh || t->sent_size != (curl_off_t)body->length) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->length);
            t->sent_size = (curl_off_t)body->length;
        }
        if (fresh || (custom == NULL ? t->sent_custom != NULL
                                     : t->sent_custom == NULL || strcmp(custom, t->sent_custom) != 0)) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom);
            t->sent_custom = custom;
        }
    }
    if (is_get) {
        t->small_body = 0; /* no body; a GET may be resent */
    } else if (body->length <= SMALL_BODY) {
        t->small_body = 1;
        /* Read it out now, straight into its buffer, in the 4 KiB reads
         * on_progress has always seen: a failing source aborts before
         * anything is sent. */
        char *dst;
        size_t n = 0, got, want;
        kombo_buf_reset(&t->small);
        body->defer_last = 1; /* kombo_body_last_bytes runs in on_prereq, when the bytes go out */
        if ((dst = kombo_buf_extend(&t->small, body->length)) != NULL)
            for (; n < body->length; n += got) {
                want = body->length - n < SMALL_READ ? body->length - n : SMALL_READ;
                if ((got = kombo_body_read(body, dst + n, want)) == 0)
                    break;
            }
        body->defer_last = 0;
        if (body->failed || dst == NULL || n != body->length) {
            fail_attempt(r, body->failed ? KOMBO_TE_ABORTED : KOMBO_TE_NETWORK,
                         body->failed ? body->error : "out of memory");
            return -1;
        }
        set_fields(t, t->small.data, fresh);
    } else {
        t->small_body = 0;
        set_fields(t, NULL, fresh); /* use the read callback */
    }

    return 0;
}

/* libcurl's figures of the transfer that just ended, in seconds from its
 * start: the connection ready (TLS included; 0 when a kept-alive one was
 * reused), the first byte of the answer, the end; the request's bytes
 * (head and body) handed to the connection. */
static void read_timing(kombo_curl *t, kombo_response *r)
{
    curl_off_t connect = 0, app = 0, first = 0, total = 0, up = 0;
    long head = 0;
    curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect);
    curl_easy_getinfo(t->easy, CURLINFO_APPCONNECT_TIME_T, &app);
    curl_easy_getinfo(t->easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &head);
    r->timing.connect = (double)(app > connect ? app : connect) / 1e6;
    r->timing.first_byte = r->status > 0 ? (double)first / 1e6 : 0;
    r->timing.total = (double)total / 1e6;
    /* REQUEST_SIZE counts a body handed over with the head (a small one)
     * too; a streamed body is counted by SIZE_UPLOAD only. */
    r->timing.bytes_sent = t->small_body ? (double)head : (double)head + (double)up;
}

void kombo_curl_end(kombo_curl *t, kombo_call *c, int code)
{
    kombo_response *r = kombo_call_response(c);
    kombo_body *body = kombo_call_body(c);
    CURL *h = t->easy;
    CURLcode rc = (CURLcode)code;
    long status = 0;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    if (r->want_timing) /* for hooks only: nothing is read otherwise */
        read_timing(t, r);
    if (rc == CURLE_OK) {
        r->phase = KOMBO_PHASE_DONE;
        return;
    }
    {
        /* A proxy that refused the tunnel: nothing went to the server. */
        long connect_code = 0;
        curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect_code);
        if (connect_code != 0 && (connect_code < 200 || connect_code > 299)) {
            char msg[sizeof r->error_message], proxy[80];
            char *ip = NULL;
            long port = 0;
            curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
            curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
            snprintf(proxy, sizeof proxy, strchr(ip != NULL ? ip : "", ':') != NULL ? "[%s]:%ld" : "%s:%ld",
                     ip != NULL ? ip : "?", port);
            kombo_proxy_refusal(msg, sizeof msg, proxy, (int)connect_code);
            r->status = 0; /* the proxy's answer, not the server's */
            r->phase = KOMBO_PHASE_CONNECT;
            fail_attempt(r, KOMBO_TE_NETWORK, msg);
            return;
        }
    }
    if (r->phase < KOMBO_PHASE_RECEIVING) {
        /* What left this process decides whether the server may have acted;
         * an error code alone does not (a reply curl cannot parse comes back
         * as CURLE_UNSUPPORTED_PROTOCOL after the whole request was sent). */
        curl_off_t uploaded = 0;
        long request_bytes = 0;
        curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &uploaded);
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_bytes);
        /* PREREQFUNCTION runs before each request: when none started,
         * nothing went to the server (REQUEST_SIZE counts a proxy's
         * CONNECT, which may have died without an answer). */
        if (t->requests > 0 && (request_bytes > 0 || uploaded > 0))
            r->phase = (size_t)uploaded >= body->length ? KOMBO_PHASE_WAITING : KOMBO_PHASE_SENDING;
        else if (t->requests == 0 || before_sending(rc))
            r->phase = KOMBO_PHASE_CONNECT;
    }
    {
        long os_errno = t->open_errno;
        if (os_errno == EMFILE || os_errno == ENFILE) {
            char msg[sizeof r->error_message];
            snprintf(msg, sizeof msg, "too many open files (%s): %.200s", os_errno == EMFILE ? "EMFILE" : "ENFILE",
                     t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
            r->phase = KOMBO_PHASE_CONNECT;
            fail_attempt(r, KOMBO_TE_RESOURCES, msg);
            return;
        }
    }
    if (t->headers_bad == NULL && strstr(t->errbuf, "Invalid Content-Length") != NULL)
        t->headers_bad = "invalid Content-Length (digits only)"; /* libcurl refused it first ("-1") */
    if (t->headers_too_large || t->headers_bad != NULL ||
        (rc == CURLE_OUT_OF_MEMORY && r->phase >= KOMBO_PHASE_WAITING)) {
        char msg[sizeof r->error_message];
        if (t->headers_bad != NULL)
            snprintf(msg, sizeof msg, "%s", t->headers_bad);
        else if (t->headers_too_large)
            snprintf(msg, sizeof msg, "response headers larger than %u bytes (KOMBO_MAX_HEADER_BYTES)",
                     (unsigned)KOMBO_MAX_HEADER_BYTES);
        else /* libcurl refuses one line over 100 KiB, and reports it as "out of memory" */
            snprintf(msg, sizeof msg, "response headers larger than %u bytes (KOMBO_MAX_HEADER_BYTES; "
                     "one line over libcurl's 100 KiB)", (unsigned)KOMBO_MAX_HEADER_BYTES);
        r->phase = KOMBO_PHASE_RECEIVING;
        r->status = 0; /* an answer we cannot read: its status is not trusted */
        fail_attempt(r, KOMBO_TE_HEADERS, msg);
        return;
    }
    if (t->abort_why != NULL) {
        r->status = 0; /* cut off by us: a partial answer is not read */
        fail_attempt(r, KOMBO_TE_ABORTED, t->abort_why);
    } else if (t->no_resend != NULL) {
        /* The request went out on a kept-alive connection that died before
         * any answer; it may have arrived, so this is not "not sent". */
        r->phase = KOMBO_PHASE_WAITING;
        fail_attempt(r, KOMBO_TE_NETWORK, t->no_resend);
    } else if (kombo_call_body(c)->failed) {
        fail_attempt(r, KOMBO_TE_ABORTED, kombo_call_body(c)->error);
    } else if (t->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "response body larger than %zu bytes", r->body.limit);
        fail_attempt(r, KOMBO_TE_TOO_LARGE, msg);
    } else {
        fail_attempt(r, rc == CURLE_OPERATION_TIMEDOUT ? KOMBO_TE_TIMEOUT : KOMBO_TE_NETWORK,
                     t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    }
}

void kombo_curl_attempt(kombo_curl *t, kombo_call *c)
{
    if (kombo_curl_begin(t, c) == 0)
        kombo_curl_end(t, c, (int)curl_easy_perform(t->easy));
}

/* Options that never change for a handle are set once. */
static void set_fixed_options(kombo_curl *t)
{
    CURL *h = t->easy;
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, t);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
    /* the handle's own state: a multi finds its slot from an ended transfer
     * (multi.c's collect) without a setopt per attempt */
    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Through a proxy every call goes in a CONNECT tunnel (an http://
     * server_url too, as with the cosocket transport): the proxy sees only
     * host and port.  The proxy's answer to CONNECT is not the server's:
     * kept out of the header callback. */
    curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
    curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, (long)KEPT_PER_HANDLE);

    /* Reuse a connection only while it is younger than most servers' and
     * load balancers' idle timeouts (often 60 s and more): fewer dead
     * kept-alive connections, so fewer resends (libcurl's default is 118 s). */
    curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, 30L);
}

const kombo_result *kombo_curl_perform(kombo_curl *t, kombo_call *c)
{
    double delay;
    kombo_step step;

    while ((step = kombo_call_next(c, kombo_monotonic_now(), &delay)) != KOMBO_STEP_DONE) {
        if (step == KOMBO_STEP_SLEEP) {
            kombo_sleep(delay);
            continue;
        }
        kombo_curl_attempt(t, c);
        kombo_call_complete(c, kombo_call_response(c), kombo_monotonic_now(), kombo_wall_now());
    }
    return kombo_call_result(c);
}

