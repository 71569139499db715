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
#include "kombo.h"

#include <string.h>

/* POST /ats/candidates/{candidate_id}/attachments and its application
 * twin: an upload is not idempotent (Kombo has no idempotency key, so a
 * resent upload is a second document in the ATS). */
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
    },
};

#define NOPS (sizeof operations / sizeof operations[0])

const kombo_operation *kombo_operation_at(size_t i)
{
    return i < NOPS ? &operations[i] : NULL;
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
