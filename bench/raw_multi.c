/*
 * raw_multi.c - the floor for bulk uploads: one libcurl multi handle with
 * CONCURRENCY easy handles, each refilled with the next upload as soon as
 * its transfer finishes, until N uploads are done.  The same pre-built JSON
 * body and the same headers as kombo-lua's request; only the candidate in
 * the URL changes (upload i goes to URL_PREFIX<i>URL_SUFFIX, i = 1..N, as
 * bench/bulk.lua's jobs do).  No validation, no JSON decoding, no retries:
 * an upload succeeds when the answer is a 200 whose body starts like
 * Kombo's success body.
 *
 * As lean as libcurl allows (issue 24: the ratio means nothing against a
 * slow floor): the event-driven API (curl_multi_socket_action), with one
 * poll() over the sockets libcurl asked for (CURLMOPT_SOCKETFUNCTION keeps
 * the array), so that only the transfer whose socket is ready is looked at
 * (curl_multi_perform looks at every transfer and polls each one's socket
 * on its own: about 19 poll() calls per upload with 16 in flight; an epoll
 * set measured the same instructions and more system calls, two
 * epoll_ctl per upload, as libcurl drops and re-adds a reused socket); the options
 * set once per easy handle, only the URL set per upload (into a buffer of
 * the slot's); the body given as CURLOPT_POSTFIELDS (no copy, no read
 * callback); the easy handles and the multi's connection cache reused; no
 * allocation per answer (its first bytes copied into the slot).
 *
 *   raw_multi URL_PREFIX URL_SUFFIX HEADERS_FILE BODY_FILE N CONCURRENCY
 *
 * HEADERS_FILE holds "Name: value" lines as captured from kombo-lua's own
 * request (Host and Content-Length are left to libcurl).  Prints
 * "<succeeded> <failed> <seconds>" (seconds: monotonic, from the first
 * transfer added to the last one finished); the first failures are
 * described on stderr.  Exits 0 when the run completed (whatever the
 * failures: bench/bulk reports them), 1 when it hit its own 300 s bound,
 * 2 on bad arguments or set-up errors.
 */
#include "raw_common.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONCURRENCY 256
#define MAX_SOCKETS 512
#define RUN_BOUND_S 300.0
#define SUCCESS_PREFIX "{\"status\":\"success\""
/* One slot: an easy handle, the upload it carries and the start of its answer. */
struct slot {
    CURL *h;
    long job;
    char url[512];
    char head[32];   /* the first bytes of the answer, enough for SUCCESS_PREFIX */
    size_t received;
};

static struct pollfd fds[MAX_SOCKETS]; /* the sockets libcurl wants watched */
static nfds_t nfds;
static double timer_at = -1; /* when libcurl wants to be called (CURLMOPT_TIMERFUNCTION), -1: never */

static size_t on_write(char *data, size_t size, size_t nitems, void *ud)
{
    struct slot *s = ud;
    size_t n = size * nitems;
    if (s->received < sizeof s->head) {
        size_t k = sizeof s->head - s->received;
        memcpy(s->head + s->received, data, n < k ? n : k);
    }
    s->received += n;
    return n;
}

/* CURLMOPT_SOCKETFUNCTION: keep the poll array as libcurl wants it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
    nfds_t i;
    (void)easy;
    (void)ud;
    (void)sockp;
    for (i = 0; i < nfds && fds[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < nfds)
            fds[i] = fds[--nfds];
        return 0;
    }
    if (i == nfds) {
        if (nfds == MAX_SOCKETS)
            return -1;
        nfds++;
        fds[i].fd = fd;
    }
    fds[i].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: remember when libcurl wants to be called. */
static int on_timer(CURLM *m, long ms, void *ud)
{
    (void)m;
    (void)ud;
    timer_at = ms < 0 ? -1 : ms == 0 ? 0 : now() + (double)ms / 1000;
    return 0;
}

static int start(CURLM *m, struct slot *s, long job, const char *prefix, const char *suffix)
{
    int w = snprintf(s->url, sizeof s->url, "%s%ld%s", prefix, job, suffix);
    if (w < 0 || (size_t)w >= sizeof s->url)
        return -1;
    s->job = job;
    s->received = 0;
    curl_easy_setopt(s->h, CURLOPT_URL, s->url);
    return curl_multi_add_handle(m, s->h) == CURLM_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    static struct slot slots[MAX_CONCURRENCY];
    struct pollfd ready[MAX_SOCKETS];
    struct curl_slist *headers = NULL;
    char *hdrs, *body;
    size_t hlen, blen;
    long n, conc, next = 1, ok = 0, failed = 0, done = 0, i;
    int running = 0, left, nev, e, wait;
    double t0, t1;
    CURLM *m;
    CURLMsg *msg;

    if (argc != 7) {
        fprintf(stderr, "usage: raw_multi URL_PREFIX URL_SUFFIX HEADERS_FILE BODY_FILE N CONCURRENCY\n");
        return 2;
    }
    n = strtol(argv[5], NULL, 10);
    conc = strtol(argv[6], NULL, 10);
    hdrs = slurp(argv[3], &hlen);
    body = slurp(argv[4], &blen);
    if (hdrs == NULL || body == NULL || n <= 0 || n > 1000000 || conc <= 0 || conc > MAX_CONCURRENCY) {
        fprintf(stderr, "raw_multi: cannot read %s or %s, or bad counts\n", argv[3], argv[4]);
        return 2;
    }
    headers = captured_headers(hdrs);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    if (m == NULL || headers == NULL)
        return 2;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    if (conc > n)
        conc = n;
    /* options set once per handle; only the URL changes between uploads */
    for (i = 0; i < conc; i++) {
        CURL *h = curl_easy_init();
        if (h == NULL)
            return 2;
        slots[i].h = h;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    }

    t0 = now();
    for (i = 0; i < conc; i++)
        if (start(m, &slots[i], next++, argv[1], argv[2]) != 0)
            return 2;
    while (done < n) {
        /* libcurl's timer: 0 right after a transfer was added (it starts it then) */
        wait = 1000;
        if (timer_at == 0) {
            wait = 0;
        } else if (timer_at > 0) {
            double left_s = timer_at - now();
            wait = left_s <= 0 ? 0 : left_s >= 1 ? 1000 : (int)(left_s * 1000) + 1;
        }
        if (wait == 0) {
            timer_at = -1;
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        } else {
            nfds_t k, nready = nfds;
            memcpy(ready, fds, nfds * sizeof *fds);
            nev = poll(ready, nready, wait);
            if (nev <= 0) {
                if (now() - t0 > RUN_BOUND_S) {
                    fprintf(stderr, "raw_multi: gave up after %.0f s with %ld of %ld done\n", RUN_BOUND_S, done, n);
                    printf("%ld %ld %.6f\n", ok, failed + (n - done), now() - t0);
                    return 1;
                }
                curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
            }
            for (k = 0; k < nready && nev > 0; k++) {
                if (ready[k].revents == 0)
                    continue;
                nev--;
                e = (ready[k].revents & (POLLIN | POLLHUP | POLLERR) ? CURL_CSELECT_IN : 0)
                    | (ready[k].revents & POLLOUT ? CURL_CSELECT_OUT : 0)
                    | (ready[k].revents & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(m, ready[k].fd, e, &running);
            }
        }
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            struct slot *s = NULL;
            long status = 0;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result == CURLE_OK && status == 200 && s->received >= sizeof SUCCESS_PREFIX - 1
                && memcmp(s->head, SUCCESS_PREFIX, sizeof SUCCESS_PREFIX - 1) == 0) {
                ok++;
            } else {
                failed++;
                if (failed <= 5)
                    fprintf(stderr, "raw_multi: upload %ld failed: %s, HTTP %ld, %zu body bytes\n", s->job,
                            msg->data.result == CURLE_OK ? "no error" : curl_easy_strerror(msg->data.result),
                            status, s->received);
            }
            done++;
            curl_multi_remove_handle(m, s->h);
            if (next <= n && start(m, s, next++, argv[1], argv[2]) != 0)
                return 2;
        }
    }
    t1 = now();
    printf("%ld %ld %.6f\n", ok, failed, t1 - t0);

    for (i = 0; i < conc; i++)
        curl_easy_cleanup(slots[i].h);
    curl_multi_cleanup(m);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(hdrs);
    free(body);
    return 0;
}
