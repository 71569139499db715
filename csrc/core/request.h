/*
 * request.h - requests: validation (request.c) and the rules of the
 * operations' table (operation.c).
 */
#ifndef KOMBO_REQUEST_H
#define KOMBO_REQUEST_H

#include "kombo.h"

/* Validates every rule and records every problem (not just the first; one
 * per path): path parameters, the integration, the query and the body
 * against the operation's descriptors.  Applies the body's defaults on the
 * way (a file object's name and content type) and opens its files (see
 * schema.h), so it is the only pass.  Returns the number of problems found
 * (0: valid).  Paths name the API's fields: "candidate_id",
 * "integration_id", "page_size", "body.attachment.name", ... */
size_t kombo_request_validate(kombo_request *req, kombo_problems *out);

/* An identifier that ends up in the URL path or in a header (path-safe: no
 * "." or "..", no CR, LF or NUL, valid UTF-8, not empty, at most
 * KOMBO_MAX_ID_BYTES).  Adds a problem under `path` when bad.
 *
 * The limit: percent-encoded, an id grows up to three times, and servers
 * refuse a request line or header much over 8 KB (nginx's default buffer;
 * libcurl itself fails a request whose headers pass 1 MB, as "out of
 * memory").  1024 bytes keeps two ids' 3 KB each well inside; Kombo's ids
 * are tens of bytes. */
#define KOMBO_MAX_ID_BYTES 1024
void kombo_check_id(kombo_problems *out, const char *path, kombo_str s);

/* The operation that takes `key` (a path parameter `op` does not take) in
 * place of op's own, with the same method and body: "attach_to_application"
 * for application_id given to attach_to_candidate.  NULL when none. */
const kombo_operation *kombo_operation_sibling(const kombo_operation *op, const char *key);

/* Validates a header value that comes from configuration (API key):
 * non-empty, no CR, LF or NUL.  Adds a problem under `path` when bad. */
void kombo_check_header_value(kombo_problems *out, const char *path, kombo_str v);

/* An upload: the body's "attachment" is Kombo's file object (request.c). */
int kombo_operation_is_upload(const kombo_operation *op);

#endif
