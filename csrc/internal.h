/*
 * internal.h - helpers the core's files share (not part of kombo.h): one
 * definition each, so that no file keeps its own copy.
 */
#ifndef KOMBO_INTERNAL_H
#define KOMBO_INTERNAL_H

#include <stddef.h>

/* The length of the UTF-8 sequence that lead byte c starts: 2, 3 or 4 for
 * the leads kombo_utf8_valid accepts (C2..DF, E0..EF, F0..F4), 1 for ASCII
 * and for bytes that cannot lead one (continuations, C0, C1, F5..FF).
 * encode.c, beside kombo_utf8_valid, which uses it too. */
size_t kombo_utf8_seqlen(unsigned char c);

#endif
