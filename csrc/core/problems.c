/*
 * problems.c - what validation reports, and the one rule for suggesting a
 * known key in place of a misspelt one.
 *
 * Validation records every problem it finds, not just the first, so a caller
 * can fix a request in one go; one mistake is one problem, so only the first
 * problem at a path is kept.  Messages start lower-case and have no final
 * period; they are read after the path ("body.attachment.name is required").
 * A message never quotes a header value: it may be the API key.
 */
#include "kombo.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* -------------------------------------------------------------- problems */

/* Only the counts: the 12 KB of slots are written as problems are found,
 * and a valid request (the common case) never touches them. */
void kombo_problems_init(kombo_problems *p)
{
    p->count = 0;
    p->dropped = 0;
}

/* A problem at `path` or at a field that holds it ("body" holds
 * "body.attachment"): a missing body is one problem, not one per field. */
static int has_problem_at(const kombo_problems *p, const char *path)
{
    size_t i;
    for (i = 0; i < p->count; i++) {
        const char *have = p->items[i].path;
        size_t n = strlen(have);
        if (strncmp(have, path, sizeof p->items[i].path - 1) == 0)
            return 1;
        if (n > 0 && strncmp(have, path, n) == 0 && path[n] == '.')
            return 1;
    }
    return 0;
}

void kombo_problems_add(kombo_problems *p, const char *path, const char *fmt, ...)
{
    kombo_problem *it;
    va_list ap;

    if (path == NULL)
        path = "";
    if (has_problem_at(p, path))
        return; /* one mistake, one problem: the first word on a field stands */
    if (p->count >= KOMBO_MAX_PROBLEMS) {
        p->dropped++;
        return;
    }
    it = &p->items[p->count++];
    /* snprintf truncates and always terminates. */
    snprintf(it->path, sizeof it->path, "%s", path);
    va_start(ap, fmt);
    if (vsnprintf(it->message, sizeof it->message, fmt, ap) < 0)
        it->message[0] = '\0';
    va_end(ap);
}

/* ------------------------------------------------------- key suggestions */

static int fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* The key without case, '_' and '-': "contentType" and "content-type" both
 * fold to "contenttype". */
static size_t folded(const char *s, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; i < n && o < cap; i++)
        if (s[i] != '_' && s[i] != '-')
            out[o++] = (char)fold((unsigned char)s[i]);
    return o;
}

/* Optimal string alignment distance, capped: keys are short. */
#define KEY_MAX 32
static size_t edit_distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t d[KEY_MAX + 1][KEY_MAX + 1], i, j;
    for (i = 0; i <= n; i++)
        d[i][0] = i;
    for (j = 0; j <= m; j++)
        d[0][j] = j;
    for (i = 1; i <= n; i++)
        for (j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *kombo_suggest_key(const char *key, size_t len, const void *table, size_t stride)
{
    char a[KEY_MAX], b[KEY_MAX];
    size_t n, best_d = 3;
    const char *best = NULL;
    const char *entry;

    if (len > KEY_MAX)
        return NULL;
    n = folded(key, len, a, sizeof a);
    for (entry = table;; entry += stride) {
        const char *known = *(const char *const *)(const void *)entry;
        size_t m, d;
        if (known == NULL)
            break;
        m = folded(known, strlen(known), b, sizeof b);
        d = edit_distance(a, n, b, m);
        /* Two edits in a four-letter word is another word; one letter
         * dropped from one ("bdy" for "body") is not. */
        if (d < best_d && (d == 0 || (n > m ? n : m) > 3 * d)) {
            best_d = d;
            best = known;
        }
    }
    return best;
}

