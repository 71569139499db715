/*
 * body.h - the streaming body writer (body.c): a request body as segments,
 * read out in chunks; raw content (a file, bytes, a source) base64-encoded
 * on the way out.
 */
#ifndef KOMBO_BODY_H
#define KOMBO_BODY_H

#include "kombo.h"
#include "codec.h" /* KOMBO_SHA256_HEX */

#include <stddef.h>

/* The JSON body as a sequence of segments, read out in chunks so that a
 * large payload is never copied or held twice. */
typedef enum kombo_segment_kind {
    KOMBO_SEG_OWNED = 0,    /* bytes in `owned` */
    KOMBO_SEG_BORROWED = 1, /* bytes at `borrowed` (kept alive by the caller) */
    KOMBO_SEG_BASE64 = 2    /* raw bytes from `stream`, base64-encoded on the way out */
} kombo_segment_kind;

typedef struct kombo_stream kombo_stream; /* body.c: file, bytes or source */

typedef struct kombo_segment {
    kombo_segment_kind kind;
    kombo_buf owned;
    kombo_str borrowed;
    kombo_stream *stream;
} kombo_segment;

/* The first segments live in the body itself; more (a body with several
 * file leaves) go to allocated blocks, whose addresses never move. */
#define KOMBO_INLINE_SEGMENTS 4
#define KOMBO_SEGMENT_BLOCK 16

typedef struct kombo_body {
    kombo_segment seg[KOMBO_INLINE_SEGMENTS]; /* segments 0..3; use kombo_body_segment(body, i) */
    kombo_segment **more; /* segment i >= 4 is more[(i - 4) / 16][(i - 4) % 16] */
    size_t nmore;         /* blocks in more */
    size_t nseg;
    size_t length;   /* exact Content-Length */
    size_t seg_i;    /* read position: segment index */
    size_t seg_off;  /* and offset inside it */
    size_t sent;     /* bytes handed out so far */
    int failed;      /* a source failed: the request must be aborted */
    int want_input;  /* the last read stopped at a push-mode source that has no bytes yet */
    char error[256]; /* why, when failed */
    kombo_progress_fn on_progress;
    void *progress_ud;
    size_t next_progress; /* `sent` at which to report next */
    kombo_buf overflow;   /* handed out when no segment could be added (out of memory): always failed */
    /* Called once per attempt, just before kombo_body_read copies the bytes
     * that complete the body (sent is still below length); non-zero stops
     * them: the body fails (the hook may set failed and error itself) and
     * the transport aborts the attempt, which then never went out whole.
     * Not called for an empty body.  kombo_call_set_before_last sets it. */
    int (*before_last)(void *ud);
    void *before_last_ud;
    int before_last_done; /* called in this attempt (cleared by kombo_body_rewind) */
    int defer_last;       /* the transport hands the bytes over later: kombo_body_last_bytes then */
    double written_at;    /* wall clock when this attempt's last bytes were handed over; 0 before */
    /* The owned buffers of a recycled body (kombo_body_recycle), emptied
     * and wiped, for its next owned segments: no allocation per call. */
    kombo_buf spare[KOMBO_INLINE_SEGMENTS];
    size_t nspare;
} kombo_body;

/* Building a body: segments are added in order, then kombo_body_finish
 * computes the exact length.  The writer (write.c) lays a checked value
 * tree out with these. */
kombo_buf *kombo_body_add_owned(kombo_body *body);            /* a new owned segment's buffer */
void kombo_body_add_borrowed(kombo_body *body, kombo_str s);  /* bytes the caller keeps alive */
/* Raw content, base64-encoded on the way out: a FILE * (taken over: closed
 * by kombo_body_free, also on failure), borrowed bytes, or a source. */
int kombo_body_add_file(kombo_body *body, void *file_handle);
int kombo_body_add_bytes(kombo_body *body, kombo_str bytes);
int kombo_body_add_source(kombo_body *body, const kombo_source *source);
int kombo_body_finish(kombo_body *body); /* 0, or -1 (error says why) */
/* Releases what a body holds, like kombo_body_free, but keeps its small
 * owned buffers, wiped, as its spares; the other fields are left for the
 * next body's maker to reset (kombo_call_recycle, call_init). */
void kombo_body_recycle(kombo_body *body);
size_t kombo_body_raw_size(const kombo_body *body); /* raw bytes of its streamed content (all of it) */
kombo_segment *kombo_body_segment(kombo_body *body, size_t i); /* i < body->nseg */
/* The SHA-256 of the (first) raw content (file, bytes or source) read out since the
 * last rewind, as hex: 1 when the content was read to its confirmed end and
 * the body has not failed; 0 (hex "") otherwise, and always for a body
 * without raw content (data, data_url, GET) or without a before_last hook
 * (the content is hashed only for a body that has one). */
int kombo_body_digest(const kombo_body *body, char hex[KOMBO_SHA256_HEX]);
void kombo_body_free(kombo_body *body);
/* Back to the first byte; -1 when a source cannot rewind (body->error says why). */
int kombo_body_rewind(kombo_body *body);
/* Copies up to cap bytes into dst; returns the count, 0 at the end or when
 * body->failed is set (then the transport aborts the request).  When a
 * push-mode source has no bytes yet it returns what it has (maybe 0) with
 * body->want_input set: feed the source, then read on. */
size_t kombo_body_read(kombo_body *body, char *dst, size_t cap);
/* The bytes that complete the body are being handed to the connection:
 * records written_at and asks the before_last hook (once per attempt).
 * kombo_body_read does it itself unless defer_last is set (a transport
 * that reads a small body out whole before connecting calls it when the
 * bytes really go).  0 to go on; -1 when the body failed (error says why). */
int kombo_body_last_bytes(kombo_body *body);

#endif
