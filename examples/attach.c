/*
 * attach.c - uploads a file as a candidate's CV with the public C API.
 *
 *   KOMBO_API_KEY=... KOMBO_SERVER_URL=http://127.0.0.1:8080/v1 \
 *     ./examples/attach <integration_id> <candidate_id> <file> [CV|COVER_LETTER|OTHER]
 *
 * Exit status: 0 uploaded, 1 failed, 2 usage.
 */
#include "kombo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_base64(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *raw = NULL;
    char *b64 = NULL;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto done;
    raw = malloc((size_t)size + 1);
    b64 = raw ? malloc(kombo_base64_encoded_len((size_t)size) + 1) : NULL;
    if (b64 == NULL || fread(raw, 1, (size_t)size, f) != (size_t)size) {
        free(b64);
        b64 = NULL;
        goto done;
    }
    *len = kombo_base64_encode(b64, raw, (size_t)size);
    b64[*len] = '\0';
done:
    free(raw);
    if (f != NULL)
        fclose(f);
    return b64;
}

int main(int argc, char **argv)
{
    kombo_config cfg;
    kombo_request req;
    kombo_problems problems;
    kombo_call *call;
    kombo_curl *curl;
    const kombo_result *res;
    const char *name;
    char *data;
    size_t data_len = 0, i;
    char ua[128];
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: %s integration_id candidate_id file [CV|COVER_LETTER|OTHER]\n", argv[0]);
        return 2;
    }
    data = read_base64(argv[3], &data_len);
    if (data == NULL) {
        fprintf(stderr, "cannot read %s\n", argv[3]);
        return 1;
    }
    name = strrchr(argv[3], '/') ? strrchr(argv[3], '/') + 1 : argv[3];

    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = getenv("KOMBO_API_KEY");
    cfg.server_url = getenv("KOMBO_SERVER_URL") ? getenv("KOMBO_SERVER_URL") : KOMBO_EU_URL;
    snprintf(ua, sizeof ua, "kombo-lua/%s (C; %s)", KOMBO_VERSION, kombo_curl_version());
    cfg.user_agent = ua;
    cfg.timeout = 300;
    cfg.connect_timeout = 10;
    kombo_retry_policy_default(&cfg.retry);

    memset(&req, 0, sizeof req);
    req.target = KOMBO_TARGET_CANDIDATE;
    req.id = kombo_str_c(argv[2]);
    req.integration_id = kombo_str_c(argv[1]);
    req.attachment.name = kombo_str_c(name);
    req.attachment.type = kombo_str_c(argc > 4 ? argv[4] : "CV");
    req.attachment.content_type = kombo_str_c("application/pdf");
    req.attachment.data.ptr = data;
    req.attachment.data.len = data_len;

    call = kombo_call_new(&cfg, &req, &problems);
    if (call == NULL) {
        for (i = 0; i < problems.count; i++)
            fprintf(stderr, "invalid: %s %s\n", problems.items[i].path, problems.items[i].message);
        if (problems.count == 0)
            fprintf(stderr, "out of memory\n");
        free(data);
        return 1;
    }
    curl = kombo_curl_new();
    if (curl == NULL) {
        fprintf(stderr, "cannot initialise libcurl\n");
        kombo_call_free(call);
        free(data);
        return 1;
    }
    res = kombo_curl_perform(curl, call);
    if (res->cls.kind == KOMBO_OK) {
        printf("uploaded %s: HTTP %d after %d attempt(s), %.3f s\n%s\n", name, res->status,
               res->attempts, res->elapsed, res->response->body.data);
        rc = 0;
    } else {
        fprintf(stderr, "failed (%s, outcome %s, HTTP %d%s%s): %s\n", kombo_kind_name(res->cls.kind),
                kombo_outcome_name(res->cls.outcome), res->status, res->cls.has_code ? ", " : "",
                res->cls.has_code ? res->cls.code : "", res->cls.message);
        rc = 1;
    }
    kombo_curl_free(curl);
    kombo_call_free(call);
    free(data);
    return rc;
}
