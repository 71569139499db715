/*
 * raw_common.h - what the two raw libcurl floors (raw_curl.c, raw_multi.c)
 * share: a monotonic clock, reading a captured file whole, and the header
 * list kombo-lua sent (captured by bench/run and bench/bulk), so that both
 * floors send exactly kombo-lua's request bytes.  Included by each program
 * (one translation unit each), hence the static functions.
 */
#ifndef KOMBO_BENCH_RAW_COMMON_H
#define KOMBO_BENCH_RAW_COMMON_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static double now(void)
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

#endif
