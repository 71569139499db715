/*
 * internal.h - helpers the core's files share (not part of kombo.h): one
 * definition each, so that no file keeps its own copy.
 */
#ifndef KOMBO_INTERNAL_H
#define KOMBO_INTERNAL_H

#include "kombo.h" /* kombo_str */

#include <stddef.h>

/* The length of the UTF-8 sequence that lead byte c starts: 2, 3 or 4 for
 * the leads kombo_utf8_valid accepts (C2..DF, E0..EF, F0..F4), 1 for ASCII
 * and for bytes that cannot lead one (continuations, C0, C1, F5..FF).
 * encode.c, beside kombo_utf8_valid, which uses it too. */
size_t kombo_utf8_seqlen(unsigned char c);

/* Whether a header field's name (as kombo_header_next gives it: the bytes
 * before the colon, no blank or control byte among them) is `want`: the
 * whole name, ASCII letters in either case, nothing else folded.  The one
 * rule of every header lookup: kombo_response_header, the curl transport's
 * framing headers, core.header_values (the cosocket transport).  headers.c */
int kombo_header_name_is(kombo_str name, const char *want);

#endif
