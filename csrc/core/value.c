/*
 * value.c - the value tree a request is built as (kombo.h), and the arena
 * its nodes are carved from: blocks freed together, every allocation
 * zeroed, `failed` set (and NULL returned) when memory runs out.
 */
#include "kombo.h"
#include "file.h" /* kombo_file_close */
#include "internal.h" /* kombo_str_is */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kombo_arena_block {
    struct kombo_arena_block *next;
    size_t cap; /* bytes of data[] */
    /* max_align_t is C11: a union of the widest types stands in for it. */
    union {
        long double ld;
        void *p;
        int64_t i;
    } data[];
};

#define ARENA_BLOCK 4096u
#define ARENA_ALIGN 16u

void kombo_arena_init_with(kombo_arena *a, void *buf, size_t n)
{
    /* Aligned here, so that any buffer will do (a Lua userdata is only
     * 8-byte aligned). */
    size_t skip = buf != NULL ? (ARENA_ALIGN - (uintptr_t)buf % ARENA_ALIGN) % ARENA_ALIGN : 0;
    if (buf == NULL || n < skip + ARENA_ALIGN)
        buf = NULL, n = skip = 0;
    a->blocks = NULL;
    a->lent = buf != NULL ? (char *)buf + skip : NULL;
    a->lent_cap = (n - skip) & ~(size_t)(ARENA_ALIGN - 1);
    a->cur = a->lent;
    a->used = 0;
    a->cap = a->lent_cap;
    a->failed = 0;
}

void kombo_arena_init(kombo_arena *a)
{
    kombo_arena_init_with(a, NULL, 0);
}

void kombo_arena_free(kombo_arena *a)
{
    struct kombo_arena_block *b = a->blocks;
    while (b != NULL) {
        struct kombo_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->cur = a->lent;
    a->used = 0;
    a->cap = a->lent_cap;
    a->failed = 0;
}

void *kombo_arena_alloc(kombo_arena *a, size_t n)
{
    struct kombo_arena_block *b;
    size_t size;
    char *p;

    if (n == 0)
        n = 1;
    if (n > (size_t)-1 / 2) {
        a->failed = 1;
        return NULL;
    }
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->cap - a->used < n) {
        /* A large request gets a block of its own, so that the current
         * block's free room is not wasted. */
        size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + size);
        if (b == NULL) {
            a->failed = 1;
            return NULL;
        }
        b->cap = size;
        b->next = a->blocks;
        a->blocks = b;
        if (size != ARENA_BLOCK && a->cur != NULL) {
            memset(b->data, 0, n);
            return b->data;
        }
        a->cur = (char *)b->data;
        a->used = 0;
        a->cap = size;
    }
    p = a->cur + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

kombo_value *kombo_value_new(kombo_arena *a, kombo_vtype type)
{
    /* Carved here while the block has room: zeroed by a memset of a size
     * known at compile time (inline stores, not a call), as every member
     * of every request passes here. */
    const size_t n = (sizeof(kombo_value) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    kombo_value *v;
    if (a->cap - a->used >= n) {
        v = (kombo_value *)(void *)(a->cur + a->used);
        a->used += n;
        memset(v, 0, n);
    } else {
        v = kombo_arena_alloc(a, sizeof *v);
    }
    if (v != NULL)
        v->type = type;
    return v;
}

void kombo_value_append(kombo_value *parent, kombo_value *child)
{
    child->next = NULL;
    if (parent->child == NULL)
        parent->child = child;
    else
        parent->last->next = child;
    parent->last = child;
    parent->n++;
}

kombo_value *kombo_value_member(const kombo_value *object, const char *key)
{
    return kombo_member_named(object, key);
}

/* Depth-first without recursion: a value tree from a hostile table may be
 * deep.  The siblings of each level are walked in a loop; children are
 * reached by an explicit stack kept in the nodes' own order. */
void kombo_value_close_files(kombo_value *root)
{
    kombo_value *stack[64];
    size_t top = 0;

    if (root == NULL)
        return;
    stack[top++] = root;
    while (top > 0) {
        kombo_value *v = stack[--top], *c;
        if (v->file != NULL) {
            kombo_file_close(v->file);
            v->file = NULL;
        }
        for (c = v->child; c != NULL; c = c->next) {
            if (c->child == NULL) {
                if (c->file != NULL) {
                    kombo_file_close(c->file);
                    c->file = NULL;
                }
            } else if (top < sizeof stack / sizeof stack[0]) {
                stack[top++] = c;
            } else {
                kombo_value_close_files(c); /* deeper than the stack: recurse */
            }
        }
    }
}
