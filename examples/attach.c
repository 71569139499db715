/*
 * attach.c - uploads a file as a candidate's document with the public C API.
 *
 *   KOMBO_API_KEY=... KOMBO_SERVER_URL=http://127.0.0.1:8080/v1 \
 *     build/examples/attach <integration_id> <candidate_id> <file> [CV|COVER_LETTER|OTHER]
 *
 * The core streams the file (base64-encoded while it is sent, never whole
 * in memory), takes the name from the path and infers the content type
 * from the file's leading bytes.  Exit status: 0 uploaded, 1 failed, 2 usage.
 */
#include "kombo.h" /* -Icsrc/core: the public C API, the only header a C program needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_problems(const char *what, const kombo_problems *problems)
{
    size_t i;
    for (i = 0; i < problems->count; i++)
        fprintf(stderr, "%s: %s %s\n", what, problems->items[i].path, problems->items[i].message);
    if (problems->count == 0)
        fprintf(stderr, "%s: out of memory\n", what);
}

/* Adds the member key: value (strings borrowed) to an object. */
static kombo_value *member(kombo_arena *arena, kombo_value *object, const char *key, kombo_vtype type,
                           const char *value)
{
    kombo_value *v = kombo_value_new(arena, type);
    if (v == NULL)
        return NULL;
    v->key = kombo_str_c(key);
    v->s = kombo_str_c(value);
    kombo_value_append(object, v);
    return v;
}

int main(int argc, char **argv)
{
    kombo_arena arena;
    kombo_value *body, *attachment;
    kombo_config cfg = kombo_config_defaults;
    kombo_request req;
    kombo_problems problems;
    kombo_client *client;
    kombo_call *call;
    kombo_curl *curl;
    const kombo_result *res;
    char ua[128];
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: %s integration_id candidate_id file [CV|COVER_LETTER|OTHER]\n", argv[0]);
        return 2;
    }

    cfg.api_key = getenv("KOMBO_API_KEY");
    if (getenv("KOMBO_SERVER_URL") != NULL)
        cfg.server_url = getenv("KOMBO_SERVER_URL");
    snprintf(ua, sizeof ua, "kombo-lua/%s (C; %s)", KOMBO_VERSION, kombo_curl_version());
    cfg.user_agent = ua;
    client = kombo_client_new(&cfg, &problems); /* checks every option once */
    if (client == NULL) {
        print_problems("invalid option", &problems);
        return 1;
    }

    memset(&req, 0, sizeof req);
    req.op = kombo_operation_find("attach_to_candidate");
    req.params[0] = kombo_str_c(argv[2]);
    req.integration_id = kombo_str_c(argv[1]);
    /* { attachment = { file = argv[3], type = "CV" } }: the name and the
     * content type come from the file. */
    kombo_arena_init(&arena);
    body = kombo_value_new(&arena, KOMBO_V_OBJECT);
    attachment = body != NULL ? member(&arena, body, "attachment", KOMBO_V_OBJECT, NULL) : NULL;
    if (attachment == NULL || member(&arena, attachment, "file", KOMBO_V_STRING, argv[3]) == NULL ||
        member(&arena, attachment, "type", KOMBO_V_STRING, argc > 4 ? argv[4] : "CV") == NULL) {
        fprintf(stderr, "out of memory\n");
        kombo_arena_free(&arena);
        kombo_client_free(client);
        return 1;
    }
    req.body = body;
    req.arena = &arena; /* the defaults (name, content type) are added from it */

    call = kombo_call_new(client, &req, &problems);
    if (call == NULL) {
        print_problems("invalid request", &problems);
        kombo_arena_free(&arena);
        kombo_client_free(client);
        return 1;
    }
    curl = kombo_curl_new();
    if (curl == NULL) {
        fprintf(stderr, "cannot initialise libcurl\n");
        kombo_call_free(call);
        kombo_arena_free(&arena);
        kombo_client_free(client);
        return 1;
    }
    res = kombo_curl_perform(curl, call);
    if (res->cls.kind == KOMBO_OK) {
        printf("uploaded %s: HTTP %d after %d attempt(s), %.3f s\n%s\n", argv[3], res->status,
               res->attempts, res->elapsed, res->response->body.data);
        rc = 0;
    } else {
        /* The outcome says whether it is safe to send again: not_sent and
         * rejected are, unknown means the upload may have landed. */
        fprintf(stderr, "failed (%s, outcome %s, HTTP %d%s%s): %s\n", kombo_kind_name(res->cls.kind),
                kombo_outcome_name(res->cls.outcome), res->status, res->cls.has_code ? ", " : "",
                res->cls.has_code ? res->cls.code : "", res->cls.message);
        rc = 1;
    }
    kombo_curl_free(curl);
    kombo_call_free(call);
    kombo_arena_free(&arena);
    kombo_client_free(client);
    return rc;
}
