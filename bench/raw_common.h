/*
 * raw_common.h - what the raw libcurl floors (raw_curl.c, raw_multi.c,
 * raw_inproc.c) share: a monotonic clock, reading a captured file whole, the
 * header list kombo-lua sent (captured by bench/run and bench/bulk), so that
 * every floor sends exactly kombo-lua's request bytes, and the small POST's
 * handle options.  Included by each program (one translation unit each),
 * hence the static functions.
 */
#ifndef KOMBO_BENCH_RAW_COMMON_H
#define KOMBO_BENCH_RAW_COMMON_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, NUL-terminated; NULL when it cannot be read. */
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

/* The captured "Name: value" lines (hdrs is cut up in place) as libcurl's
 * header list: Host and Content-Length are left to libcurl, and "Expect:"
 * turns off its 100-continue as kombo-lua's transport does. */
static struct curl_slist *captured_headers(char *hdrs)
{
    struct curl_slist *headers = NULL;
    char *save = NULL, *line;
    for (line = strtok_r(hdrs, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
        if (strncasecmp(line, "Host:", 5) == 0 || strncasecmp(line, "Content-Length:", 15) == 0)
            continue;
        headers = curl_slist_append(headers, line);
    }
    return curl_slist_append(headers, "Expect:");
}

static inline size_t raw_discard(char *data, size_t size, size_t nitems, void *ud)
{
    size_t *total = ud;
    (void)data;
    *total += size * nitems;
    return size * nitems;
}

/* The options every sequential raw loop sets (raw_curl.c, raw_inproc.c):
 * the answer is counted into *received and dropped. */
static inline void raw_loop_options(CURL *h, const char *url, struct curl_slist *headers, size_t *received)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, raw_discard);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, received);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
}

/* One call of a sequential raw loop: 0, or -1 with the reason on stderr
 * when the transfer failed or the answer was not a 200 with a body. */
static inline int raw_loop_call(CURL *h, size_t *received)
{
    long status = 0;
    CURLcode rc;
    *received = 0;
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "raw loop: %s\n", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 || *received == 0) {
        fprintf(stderr, "raw loop: HTTP %ld, %zu body bytes\n", status, *received);
        return -1;
    }
    return 0;
}

#endif
