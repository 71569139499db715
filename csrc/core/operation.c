/*
 * operation.c - lookups in the operation table (generated into
 * csrc/gen/operations.c by tools/generate.lua; read here through the
 * declarations in kombo.h).
 */
#include "kombo.h"
#include "schema.h"
#include "request.h"

#include <string.h>

const kombo_operation *kombo_operation_at(size_t i)
{
    return i < kombo_operation_count ? &kombo_operations[i] : NULL;
}

/* Two bodies take the same arguments: the same descriptor (the generator
 * makes structurally identical descriptors one object), or objects listing
 * the same members, in order, equally required.  The uploads' bodies are not
 * one descriptor: the application's remote_fields also knows Oracle's. */
static int same_members(const kombo_schema *a, const kombo_schema *b)
{
    size_t i;
    if (a == b)
        return 1;
    if (a == NULL || b == NULL || a->nproperties != b->nproperties || a->nproperties == 0)
        return 0;
    for (i = 0; i < a->nproperties; i++)
        if (strcmp(a->properties[i].name, b->properties[i].name) != 0 ||
            a->properties[i].required != b->properties[i].required)
            return 0;
    return 1;
}

/* Siblings share method, body members and scoping; they differ in the path
 * parameter. */
const kombo_operation *kombo_operation_sibling(const kombo_operation *op, const char *key)
{
    size_t i, k;
    if (op == NULL || key == NULL)
        return NULL;
    for (k = 0; k < KOMBO_MAX_PARAMS && op->params[k] != NULL; k++)
        if (strcmp(op->params[k], key) == 0)
            return NULL; /* its own */
    for (i = 0; i < kombo_operation_count; i++) {
        const kombo_operation *o = &kombo_operations[i];
        if (o == op || !same_members(o->body_schema, op->body_schema) || strcmp(o->method, op->method) != 0 ||
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
    for (i = 0; i < kombo_operation_count; i++)
        if (strcmp(kombo_operations[i].name, name) == 0)
            return &kombo_operations[i];
    return NULL;
}
