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
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_CONCURRENCY 256
#define RUN_BOUND_S 300.0
#define SUCCESS_PREFIX "{\"status\":\"success\""

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (cap - n < 65536) {
            char *nb = realloc(buf, cap * 2 + 65536 + 1);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap * 2 + 65536;
        }
        r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* One slot: an easy handle, the upload it carries and the start of its answer. */
struct slot {
    CURL *h;
    long job;
    char url[512];
    char head[32];   /* the first bytes of the answer, enough for SUCCESS_PREFIX */
    size_t received;
};

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
    struct curl_slist *headers = NULL;
    char *hdrs, *body, *line, *save = NULL;
    size_t hlen, blen;
    long n, conc, next = 1, ok = 0, failed = 0, done = 0, i;
    int running = 0, left, refilled;
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
    for (line = strtok_r(hdrs, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
        if (strncasecmp(line, "Host:", 5) == 0 || strncasecmp(line, "Content-Length:", 15) == 0)
            continue;
        headers = curl_slist_append(headers, line);
    }
    headers = curl_slist_append(headers, "Expect:");

    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    if (m == NULL || headers == NULL)
        return 2;
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
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    }

    t0 = now();
    for (i = 0; i < conc; i++)
        if (start(m, &slots[i], next++, argv[1], argv[2]) != 0)
            return 2;
    while (done < n) {
        if (now() - t0 > RUN_BOUND_S) {
            fprintf(stderr, "raw_multi: gave up after %.0f s with %ld of %ld done\n", RUN_BOUND_S, done, n);
            printf("%ld %ld %.6f\n", ok, failed + (n - done), now() - t0);
            return 1;
        }
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            fprintf(stderr, "raw_multi: the multi handle failed\n");
            return 2;
        }
        refilled = 0;
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
            if (next <= n) {
                if (start(m, s, next++, argv[1], argv[2]) != 0)
                    return 2;
                refilled = 1;
            }
        }
        /* a handle just added has no socket yet: perform again before waiting */
        if (!refilled && done < n && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK) {
            fprintf(stderr, "raw_multi: the multi handle failed\n");
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
