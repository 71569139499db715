/*
 * regex.c - the matcher for the description's patterns, compiled by the
 * generator into the nodes of schema.h: greedy repetition with
 * backtracking, over bytes.  Every call into the matcher counts as a step;
 * past KOMBO_RE_STEPS (or RE_DEPTH nested calls) the match gives up (-1)
 * rather than take unbounded time or stack.
 */
#include "schema.h"

#define RE_DEPTH 2000

typedef struct re_ctx {
    const kombo_regex *re;
    const unsigned char *s;
    size_t n;
    long steps;
    int depth;
} re_ctx;

/* What comes after the current sequence: the rest of an outer sequence
 * (seq != NULL), or the end of one iteration of a group (group != NULL). */
typedef struct re_cont {
    const kombo_re_node *seq;
    size_t nseq, i;
    const kombo_re_node *group;
    unsigned count; /* iterations done, this one included */
    size_t start;   /* where this iteration began */
    const struct re_cont *next;
} re_cont;

static int re_seq(re_ctx *c, const kombo_re_node *seq, size_t nseq, size_t i, size_t pos,
                  const re_cont *next);

static int in_set(const unsigned char *set, unsigned char b)
{
    return (set[b >> 3] >> (b & 7)) & 1;
}

static int re_tick(re_ctx *c, long n)
{
    c->steps += n;
    return c->steps > KOMBO_RE_STEPS;
}

/* Iterations of a group from `count` done, greedily: one more first. */
static int re_group(re_ctx *c, const kombo_re_node *g, unsigned count, size_t pos, const re_cont *after);

static int re_continue(re_ctx *c, const re_cont *k, size_t pos)
{
    if (k == NULL)
        return !c->re->anchored_end || pos == c->n;
    if (k->group == NULL)
        return re_seq(c, k->seq, k->nseq, k->i, pos, k->next);
    if (pos == k->start) /* an empty iteration: more of them change nothing (and reach min) */
        return re_continue(c, k->next, pos);
    return re_group(c, k->group, k->count, pos, k->next);
}

static int re_group(re_ctx *c, const kombo_re_node *g, unsigned count, size_t pos, const re_cont *after)
{
    int r;
    if (re_tick(c, 1) || c->depth > RE_DEPTH)
        return -1;
    if (count < g->max || g->max == KOMBO_RE_MANY) {
        re_cont it = {NULL, 0, 0, g, count + 1, pos, after};
        c->depth++;
        r = re_seq(c, g->sub, g->nsub, 0, pos, &it);
        c->depth--;
        if (r != 0)
            return r;
    }
    return count >= g->min ? re_continue(c, after, pos) : 0;
}

static int re_seq(re_ctx *c, const kombo_re_node *seq, size_t nseq, size_t i, size_t pos,
                  const re_cont *next)
{
    const kombo_re_node *node;
    size_t k, max;
    int r;

    if (re_tick(c, 1) || c->depth > RE_DEPTH)
        return -1;
    if (i == nseq)
        return re_continue(c, next, pos);
    node = &seq[i];
    c->depth++;
    switch (node->kind) {
    case KOMBO_RE_BEGIN:
        r = pos == 0 ? re_seq(c, seq, nseq, i + 1, pos, next) : 0;
        break;
    case KOMBO_RE_END:
        r = pos == c->n ? re_seq(c, seq, nseq, i + 1, pos, next) : 0;
        break;
    case KOMBO_RE_CLASS:
        max = node->max == KOMBO_RE_MANY ? c->n - pos : node->max;
        for (k = 0; k < max && pos + k < c->n && in_set(node->set, c->s[pos + k]); k++)
            ;
        if (re_tick(c, (long)(k / 8))) {
            r = -1;
            break;
        }
        r = 0;
        /* Greedy: the longest run first, then shorter ones. */
        for (;;) {
            if (k < node->min)
                break;
            r = re_seq(c, seq, nseq, i + 1, pos + k, next);
            if (r != 0 || k == node->min)
                break;
            k--;
        }
        break;
    case KOMBO_RE_GROUP: {
        re_cont rest = {seq, nseq, i + 1, NULL, 0, 0, next};
        r = re_group(c, node, 0, pos, &rest);
        break;
    }
    default:
        r = 0;
        break;
    }
    c->depth--;
    return r;
}

/* A pattern the generator marked one_pass: each class takes the longest
 * run it can, once.  Below ONE_PASS_MAX bytes the backtracking matcher
 * never gives up on such a pattern (each shorter run it tries fails at the
 * next class's first byte: about two steps a byte), so the answer is the
 * same; above, it may, and it is asked, so that its word stands. */
#define ONE_PASS_MAX (KOMBO_RE_STEPS / 4)
static int re_one_pass(const kombo_regex *re, const unsigned char *s, size_t n)
{
    const unsigned char *at = s, *end = s + n;
    size_t i;
    for (i = 0; i < re->n; i++) {
        const kombo_re_node *node = &re->nodes[i];
        const unsigned char *from = at, *stop = end;
        if (node->max != KOMBO_RE_MANY && node->max < (size_t)(end - at))
            stop = at + node->max;
        while (at < stop && in_set(node->set, *at))
            at++;
        if ((size_t)(at - from) < node->min)
            return 0;
    }
    return !re->anchored_end || at == end;
}

int kombo_regex_match(const kombo_regex *re, const char *s, size_t n)
{
    re_ctx c;
    size_t start;

    if (re->one_pass && n <= ONE_PASS_MAX && re->n <= RE_DEPTH / 2)
        return re_one_pass(re, (const unsigned char *)s, n);

    c.re = re;
    c.s = (const unsigned char *)s;
    c.n = n;
    c.steps = 0;
    c.depth = 0;
    for (start = 0; start <= n; start++) {
        int r;
        /* A search whose first atom needs a byte of a class: the starts
         * without one are skipped outright (not steps of the budget). */
        if (!re->anchored_begin && re->n > 0 && re->nodes[0].kind == KOMBO_RE_CLASS && re->nodes[0].min > 0) {
            while (start < n && !in_set(re->nodes[0].set, c.s[start]))
                start++;
            if (start == n)
                break;
        }
        r = re_seq(&c, re->nodes, re->n, 0, start, NULL);
        if (r != 0)
            return r;
        if (re->anchored_begin)
            break;
    }
    return 0;
}
