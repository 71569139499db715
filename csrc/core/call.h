/*
 * call.h - what transports and bindings ask of a call (call.c) beyond the
 * public kombo_call_new and driver loop: the two halves of kombo_call_new,
 * the rendered URL and headers, the body, the before-last hook.
 */
#ifndef KOMBO_CALL_H
#define KOMBO_CALL_H

#include "kombo.h"
#include "body.h"
#include "internal.h" /* KOMBO_PATH_CAP */
#include "schema.h"   /* kombo_file_facts */

/* Standard header set, shared by every transport. */
#define KOMBO_MAX_HEADERS 8

/* The request as it will be sent, decided in one place: the integration id
 * (the request's, else the client's: its option or KOMBO_INTEGRATION_ID as
 * read when it was made), then kombo_request_validate, once.  Adds the
 * problems to `problems` (not reset) and returns how many it added.  Files
 * it opened stay in the value tree (kombo_call_make takes them over;
 * kombo_value_close_files closes them when no call is made). */
size_t kombo_request_resolve(const kombo_client *client, kombo_request *req, kombo_problems *problems);

/* The call of a request kombo_request_resolve found no problem in: renders
 * URL, headers and body without validating again.  Returns NULL when out
 * of memory, or with a problem added when the body cannot be laid out.
 * The request's strings must outlive the call (the body borrows them).
 * With list_files, the body's file objects are noted first, for
 * kombo_call_files (preflight); only then is the body walked for them. */
kombo_call *kombo_call_make(const kombo_client *client, kombo_request *req, int list_files,
                            kombo_problems *problems, kombo_call *spare);

/* A done call kept for the next kombo_call_make (its `spare`) of the same
 * thread: what it holds is freed or wiped, its memory and buffers stay, so
 * a binding making call after call does not allocate them again.  Free it
 * with kombo_call_free when it is not needed any more. */
void kombo_call_recycle(kombo_call *c);

const kombo_operation *kombo_call_operation(const kombo_call *c);

/* A file object of the request body, once its defaults are applied: what
 * preflight checks against an integration's restrictions before sending. */
typedef struct kombo_call_file {
    char path[KOMBO_PATH_CAP]; /* "body.attachment", "body.attachments[2]", ... */
    kombo_file_facts facts;    /* type (absent on a screening answer's file), content type, size */
} kombo_call_file;
/* The body's file objects in the order they are written (*n of them);
 * NULL when the call was made without list_files. */
const kombo_call_file *kombo_call_files(const kombo_call *c, size_t *n);
const char *kombo_call_url(const kombo_call *c);
size_t kombo_call_header_count(const kombo_call *c);
const char *kombo_call_header(const kombo_call *c, size_t i); /* "Name: value" */
/* How many of the headers are the call's own (kombo_call_set_headers):
 * the last ones; a transport that caches a client's header list must not
 * reuse it for a call with any. */
size_t kombo_call_extra_header_count(const kombo_call *c);
const char *kombo_call_integration_id(const kombo_call *c);   /* "" for unscoped operations */
unsigned long kombo_call_client_serial(const kombo_call *c);  /* its client's kombo_client_serial */
int kombo_call_has_own_config(const kombo_call *c); /* settings of its own (not its client's alone) */
kombo_body *kombo_call_body(kombo_call *c);
/* A hook run once per attempt just before the bytes that complete the
 * request body are handed to the transport (kombo_body's before_last):
 * the last moment to record "this upload is about to go out whole" (a
 * journal) or to stop it.  Non-zero stops the bytes: the attempt is
 * aborted and classified aborted/not_sent, since the request never went
 * out whole.  With a small body (libcurl sends bodies up to 64 KiB in one
 * write) that moment comes before the connection is used at all.  Never
 * called for a GET or an empty body.  fn NULL removes it. */
void kombo_call_set_before_last(kombo_call *c, int (*fn)(void *ud), void *ud);
const kombo_config *kombo_call_config(const kombo_call *c);

#endif
