/*
 * raw_curl.c - the physical limit for small calls: one reused libcurl easy
 * handle POSTing the same JSON bytes with the same headers N times over one
 * kept-alive connection.  No validation, no JSON, no result table: only what
 * any HTTP client must do.
 *
 *   raw_curl URL HEADERS_FILE BODY_FILE N WARMUP [postfields|readfunction|get]
 *
 * "get" sends GETs instead (BODY_FILE is then not read): the floor for a
 * small read, with the headers of kombo-lua's own GET.
 * The default mode hands libcurl the body with CURLOPT_POSTFIELDS (libcurl
 * then sends headers and a small body in one send()).  "readfunction" feeds
 * the same bytes through CURLOPT_READFUNCTION instead, as kombo-lua's
 * transport does for a streamed body (above SMALL_BODY, csrc/curl/easy.c),
 * to show what streaming costs on its own.
 *
 * HEADERS_FILE holds "Name: value" lines as captured from kombo-lua's own
 * request (Host and Content-Length are left to libcurl).  Prints
 * "<calls per second> <seconds> <N>" for the N timed calls after WARMUP
 * untimed ones.  Exits non-zero on any failed or non-200 call.
 */
#include "raw_common.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct reader {
    const char *body;
    size_t len, off;
};

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    struct reader *r = ud;
    size_t n = size * nitems;
    if (n > r->len - r->off)
        n = r->len - r->off;
    memcpy(dst, r->body + r->off, n);
    r->off += n;
    return n;
}

static int one_call(CURL *h, size_t *received, struct reader *rd)
{
    rd->off = 0;
    return raw_loop_call(h, received);
}

int main(int argc, char **argv)
{
    struct curl_slist *headers = NULL;
    char *hdrs, *body;
    size_t hlen, blen, received = 0;
    long n, warmup, i;
    int use_read, use_get;
    struct reader rd = {NULL, 0, 0};
    double t0, t1;
    CURL *h;

    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: raw_curl URL HEADERS_FILE BODY_FILE N WARMUP [postfields|readfunction|get]\n");
        return 2;
    }
    use_read = argc == 7 && strcmp(argv[6], "readfunction") == 0;
    use_get = argc == 7 && strcmp(argv[6], "get") == 0;
    n = strtol(argv[4], NULL, 10);
    warmup = strtol(argv[5], NULL, 10);
    hdrs = slurp(argv[2], &hlen);
    body = use_get ? calloc(1, 1) : slurp(argv[3], &blen);
    if (hdrs == NULL || body == NULL || n <= 0 || warmup < 0) {
        fprintf(stderr, "raw_curl: cannot read %s or %s, or bad counts\n", argv[2], argv[3]);
        return 2;
    }
    headers = captured_headers(hdrs);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    if (h == NULL || headers == NULL)
        return 2;
    raw_loop_options(h, argv[1], headers, &received);
    rd.body = body;
    rd.len = blen;
    if (use_get) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (use_read) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &rd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    } else {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }

    for (i = 0; i < warmup; i++)
        if (one_call(h, &received, &rd) != 0)
            return 1;
    t0 = now();
    for (i = 0; i < n; i++)
        if (one_call(h, &received, &rd) != 0)
            return 1;
    t1 = now();
    printf("%.1f %.6f %ld\n", (double)n / (t1 - t0), t1 - t0, n);

    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(hdrs);
    free(body);
    return 0;
}
