/*
 * operations.c - the API's operations, one entry each.
 *
 * An entry says everything the core needs to make the call: method, path
 * and its parameters, the body model, what a positive answer looks like and
 * whether the call may be resent after it may have been processed.  The Lua
 * layer turns every entry into a client method of the same name; the specs
 * and the README section of an operation are the rest of adding one (see
 * CONTRIBUTING.md).
 */
#include "core/kombo.h"

#include <string.h>

/* Fields, in order: name, method, path, path parameters, body model,
 * positive response {warnings required, member data must have},
 * idempotent, sends X-Integration-Id.
 *
 * The uploads are not idempotent: Kombo has no idempotency key, so a resent
 * upload is a second document in the ATS.  The GETs are. */
static const kombo_operation operations[] = {
    {
        "attach_to_candidate",
        "POST",
        "/ats/candidates/{candidate_id}/attachments",
        {"candidate_id", NULL},
        KOMBO_BODY_ATTACHMENT,
        {1, NULL},
        0,
        1,
        NULL, 0, NULL, NULL,
    },
    {
        "attach_to_application",
        "POST",
        "/ats/applications/{application_id}/attachments",
        {"application_id", NULL},
        KOMBO_BODY_ATTACHMENT,
        {1, NULL},
        0,
        1,
        NULL, 0, NULL, NULL,
    },
    {
        "get_candidate_attachments",
        "GET",
        "/ats/candidates/{candidate_id}/attachments",
        {"candidate_id", NULL},
        KOMBO_BODY_NONE,
        {1, "results"},
        1,
        1,
        NULL, 0, NULL, NULL,
    },
    {
        "get_application_attachments",
        "GET",
        "/ats/applications/{application_id}/attachments",
        {"application_id", NULL},
        KOMBO_BODY_NONE,
        {1, "results"},
        1,
        1,
        NULL, 0, NULL, NULL,
    },
    /* The integration's rules for uploads (supported types, maximum size,
     * accepted MIME types); data.attachment_restrictions may be null. */
    {
        "candidate_attachment_restrictions",
        "GET",
        "/ats/actions/ats_add_candidate_attachment",
        {NULL},
        KOMBO_BODY_NONE,
        {0, "attachment_restrictions"},
        1,
        1,
        NULL, 0, NULL, NULL,
    },
    {
        "application_attachment_restrictions",
        "GET",
        "/ats/actions/ats_add_application_attachment",
        {NULL},
        KOMBO_BODY_NONE,
        {0, "attachment_restrictions"},
        1,
        1,
        NULL, 0, NULL, NULL,
    },
    /* Not integration-scoped; its errors are Kombo's general error response
     * (the same shape as the ATS one, fewer codes). */
    {
        "check_api_key",
        "GET",
        "/check-api-key",
        {NULL},
        KOMBO_BODY_NONE,
        {0, "environment_id"},
        1,
        0,
        NULL, 0, NULL, NULL,
    },
};

#define NOPS (sizeof operations / sizeof operations[0])

const kombo_operation *kombo_operation_at(size_t i)
{
    return i < NOPS ? &operations[i] : NULL;
}

const kombo_operation *kombo_operation_sibling(const kombo_operation *op, const char *key)
{
    size_t i, k;
    if (op == NULL || key == NULL)
        return NULL;
    for (k = 0; k < KOMBO_MAX_PARAMS && op->params[k] != NULL; k++)
        if (strcmp(op->params[k], key) == 0)
            return NULL; /* its own */
    for (i = 0; i < NOPS; i++) {
        const kombo_operation *o = &operations[i];
        if (o == op || o->body != op->body || strcmp(o->method, op->method) != 0 ||
            o->integration_scoped != op->integration_scoped)
            continue;
        for (k = 0; k < KOMBO_MAX_PARAMS && o->params[k] != NULL; k++)
            if (strcmp(o->params[k], key) == 0)
                return o;
    }
    return NULL;
}

const kombo_operation *kombo_operation_find(const char *name)
{
    size_t i;
    if (name == NULL)
        return NULL;
    for (i = 0; i < NOPS; i++)
        if (strcmp(operations[i].name, name) == 0)
            return &operations[i];
    return NULL;
}
