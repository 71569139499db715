/*
 * content_type.h - content type inference (content_type.c).
 */
#ifndef KOMBO_CONTENT_TYPE_H
#define KOMBO_CONTENT_TYPE_H

#include <stddef.h>

/* Guesses a content type from the first bytes of a file (PDF, PNG, JPEG,
 * GIF, RTF, ZIP-based Office documents by extension, plain text) and then
 * from the name's extension.  `truncated`: head is only the start of the
 * content.  Returns a static string, or NULL. */
const char *kombo_content_type_infer(const unsigned char *head, size_t n, int truncated,
                                     const char *name, size_t name_len);

#endif
