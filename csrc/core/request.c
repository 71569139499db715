/*
 * request.c - the rules every operation shares: path parameters,
 * X-Integration-Id; the query and the body are checked against the
 * operation's descriptors (schema.c).  Problems are problems.c's.
 */
#include "kombo.h"
#include "request.h"
#include "schema.h"
#include "codec.h"
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* --------------------------------------------------------------- helpers */

static int has_byte(kombo_str s, char c)
{
    return s.len && memchr(s.ptr, c, s.len) != NULL;
}

static int has_crlf_nul(kombo_str s)
{
    return has_byte(s, '\r') || has_byte(s, '\n') || has_byte(s, '\0');
}

/* 1 when every byte is ASCII other than CR, LF and NUL (an id almost
 * always): valid UTF-8 with nothing to inject, told eight bytes a step. */
#define ID_ONES 0x0101010101010101ull
#define ID_HIGH 0x8080808080808080ull
static uint64_t word_bad(uint64_t x)
{
    uint64_t cr = x ^ (ID_ONES * '\r'), lf = x ^ (ID_ONES * '\n');
    return (x | ((x - ID_ONES) & ~x) | ((cr - ID_ONES) & ~cr) | ((lf - ID_ONES) & ~lf)) & ID_HIGH;
}

static int plain_ascii(kombo_str s)
{
    uint64_t x;
    size_t i;
    if (s.len < 8) {
        for (i = 0; i < s.len; i++) {
            unsigned char c = (unsigned char)s.ptr[i];
            if (c >= 0x80 || c == '\r' || c == '\n' || c == '\0')
                return 0;
        }
        return 1;
    }
    for (i = 0; s.len - i > 8; i += 8) {
        memcpy(&x, s.ptr + i, 8);
        if (word_bad(x))
            return 0;
    }
    memcpy(&x, s.ptr + s.len - 8, 8);
    return word_bad(x) == 0;
}

void kombo_check_id(kombo_problems *out, const char *path, kombo_str s)
{
    if (s.ptr == NULL) {
        kombo_problems_add(out, path, "is required");
    } else if (s.len == 0) {
        kombo_problems_add(out, path, "must not be empty");
    } else if (s.len > KOMBO_MAX_ID_BYTES) {
        kombo_problems_add(out, path, "must be at most %d bytes (got %zu)", KOMBO_MAX_ID_BYTES, s.len);
    } else if ((s.len == 1 && s.ptr[0] == '.') || (s.len == 2 && memcmp(s.ptr, "..", 2) == 0)) {
        /* Dot segments are removed by URL normalisation, even encoded: the
         * request would go to another endpoint. */
        kombo_problems_add(out, path, "must not be \".\" or \"..\"");
    } else if (plain_ascii(s)) {
        return;
    } else if (!kombo_utf8_valid(s.ptr, s.len)) {
        kombo_problems_add(out, path, "must be valid UTF-8");
    } else if (has_crlf_nul(s)) {
        kombo_problems_add(out, path, "must not contain CR, LF or NUL");
    }
}

void kombo_check_header_value(kombo_problems *out, const char *path, kombo_str v)
{
    if (!v.ptr || v.len == 0)
        kombo_problems_add(out, path, "must be a non-empty string");
    else if (has_crlf_nul(v))
        kombo_problems_add(out, path, "must not contain CR, LF or NUL (header injection)");
}

/* ------------------------------------------------------------ validation */

size_t kombo_request_validate(kombo_request *req, kombo_problems *out)
{
    const kombo_operation *op = req->op;
    size_t before = out->count + out->dropped, i;

    if (op == NULL) {
        kombo_problems_add(out, "operation", "is unknown");
        return 1;
    }
    for (i = 0; i < KOMBO_MAX_PARAMS && op->params[i] != NULL; i++)
        kombo_check_id(out, op->params[i], req->params[i]);

    if (op->integration_scoped) {
        if (req->integration_id.ptr == NULL)
            kombo_problems_add(out, "integration_id",
                               "is required: neither the call nor the client gave one "
                               "(set integration_id or KOMBO_INTEGRATION_ID)");
        else
            kombo_check_id(out, "integration_id", req->integration_id);
    }
    if (op->query != NULL && req->query != NULL)
        kombo_schema_check_in(req->arena, op->query, req->query, "", out);
    if (op->body_schema != NULL) {
        if (req->body != NULL)
            kombo_schema_check_in(req->arena, op->body_schema, req->body, "body", out);
        else if (op->body_required)
            kombo_problems_add(out, "body", "is required");
    }
    return out->count + out->dropped - before;
}

/* An upload: its body holds Kombo's file object as "attachment".  What
 * is semantics rather than schema (preflight, attachment_exists, the
 * outcome advice) is keyed on this. */
int kombo_operation_is_upload(const kombo_operation *op)
{
    const kombo_schema *b = op != NULL ? op->body_schema : NULL;
    size_t i;
    if (b == NULL)
        return 0;
    for (i = 0; i < b->nproperties; i++)
        if (strcmp(b->properties[i].name, "attachment") == 0)
            return (b->properties[i].schema->flags & KOMBO_S_FILE) != 0;
    return 0;
}
