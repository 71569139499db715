/*
 * schema_check.c - what the descriptor-driven path costs for one upload
 * body next to today's hand-written model (model_attachment.c): build the
 * value tree, check it, write it, read the body out; against prepare,
 * validate, build, read out.  A micro benchmark of the C core alone:
 *
 *   cc -O2 -std=c99 -D_DEFAULT_SOURCE -Icsrc -o build/schema_check bench/schema_check.c \
 *      $(ls csrc/core/[a-z]*.c csrc/gen/[a-z]*.c) -lcurl -lcrypto -lm && build/schema_check
 */
#include "core/kombo.h"
#include "core/schema.h"
#include "core/codec.h"
#include "core/body.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const type_enum[] = {"CV", "COVER_LETTER", "OTHER", NULL};
static const kombo_schema s_string = {.types = KOMBO_T_STRING};
static const kombo_schema s_uri = {.types = KOMBO_T_STRING, .format = KOMBO_FMT_URI};
static const kombo_schema s_type = {.types = KOMBO_T_STRING, .enum_values = type_enum};
static const kombo_property att_props[] = {
    {"name", &s_string, 1}, {"content_type", &s_string, 0}, {"type", &s_type, 1},
    {"data", &s_string, 0}, {"data_url", &s_uri, 0},
};
static const kombo_schema s_att = {.types = KOMBO_T_OBJECT, .flags = KOMBO_S_FILE, .properties = att_props,
                                   .nproperties = 5};
static const kombo_schema s_rf = {.types = KOMBO_T_OBJECT, .flags = KOMBO_S_OPEN};
static const kombo_property body_props[] = {{"attachment", &s_att, 1}, {"remote_fields", &s_rf, 0}};
static const kombo_schema s_body = {.types = KOMBO_T_OBJECT, .properties = body_props, .nproperties = 2};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char data[1368 + 1], raw[1024], sink[65536];

static kombo_value *str(kombo_arena *a, const char *key, const char *s, size_t n)
{
    kombo_value *v = kombo_value_new(a, KOMBO_V_STRING);
    v->key = kombo_str_c(key);
    v->s.ptr = s;
    v->s.len = n;
    return v;
}

static size_t drain(kombo_body *b)
{
    size_t n, total = 0;
    while ((n = kombo_body_read(b, sink, sizeof sink)) > 0)
        total += n;
    return total;
}

static double run_schema(int iters, int use_bytes)
{
    double t0 = now();
    for (int i = 0; i < iters; i++) {
        kombo_arena a;
        kombo_problems p;
        kombo_body body;
        kombo_value *root, *att, *rf;
        kombo_arena_init(&a);
        root = kombo_value_new(&a, KOMBO_V_OBJECT);
        att = kombo_value_new(&a, KOMBO_V_OBJECT);
        att->key = kombo_str_c("attachment");
        kombo_value_append(att, str(&a, "name", "cv.pdf", 6));
        kombo_value_append(att, str(&a, "type", "CV", 2));
        if (use_bytes) {
            kombo_value_append(att, str(&a, "bytes", raw, sizeof raw));
        } else {
            kombo_value_append(att, str(&a, "content_type", "application/pdf", 15));
            kombo_value_append(att, str(&a, "data", data, sizeof data - 1));
        }
        kombo_value_append(root, att);
        rf = kombo_value_new(&a, KOMBO_V_OBJECT);
        rf->key = kombo_str_c("remote_fields");
        kombo_value_append(rf, str(&a, "source", "bench", 5));
        kombo_value_append(root, rf);
        kombo_problems_init(&p);
        if (kombo_schema_check_in(&a, &s_body, root, "body", &p) != 0)
            return -1;
        memset(&body, 0, sizeof body);
        if (kombo_schema_write(&body, &s_body, root) != 0 || kombo_body_finish(&body) != 0)
            return -1;
        drain(&body);
        kombo_body_free(&body);
        kombo_value_close_files(root);
        kombo_arena_free(&a);
    }
    return (now() - t0) / iters * 1e9;
}

static double run_model(int iters, int use_bytes)
{
    double t0 = now();
    for (int i = 0; i < iters; i++) {
        kombo_request req;
        kombo_problems p;
        kombo_body body;
        void *fh = NULL;
        memset(&req, 0, sizeof req);
        req.has_attachment = 1;
        req.attachment.name = kombo_str_c("cv.pdf");
        req.attachment.type = kombo_str_c("CV");
        if (use_bytes) {
            req.attachment.bytes.ptr = raw;
            req.attachment.bytes.len = sizeof raw;
        } else {
            req.attachment.content_type = kombo_str_c("application/pdf");
            req.attachment.data.ptr = data;
            req.attachment.data.len = sizeof data - 1;
        }
        req.remote_fields_json = kombo_str_c("{\"source\":\"bench\"}");
        kombo_problems_init(&p);
        kombo_attachment_prepare(&req, &fh, &p);
        kombo_attachment_validate(&req, &p);
        if (p.count != 0)
            return -1;
        memset(&body, 0, sizeof body);
        if (kombo_attachment_build(&body, &req, fh) != 0)
            return -1;
        drain(&body);
        kombo_body_free(&body);
    }
    return (now() - t0) / iters * 1e9;
}

int main(void)
{
    const int iters = 200000;
    memset(raw, 'x', sizeof raw);
    memcpy(raw, "%PDF-1.4\n", 9);
    kombo_base64_encode(data, (const unsigned char *)raw, sizeof raw);
    for (int use_bytes = 0; use_bytes < 2; use_bytes++) {
        double m = run_model(iters, use_bytes), s = run_schema(iters, use_bytes);
        m = run_model(iters, use_bytes);
        s = run_schema(iters, use_bytes);
        printf("upload body, 1 KiB as %-5s  model_attachment.c %6.0f ns   schema (tree + check + write) %6.0f ns\n",
               use_bytes ? "bytes" : "data", m, s);
    }
    return 0;
}
