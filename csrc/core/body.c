/*
 * body.c - the streaming body writer: a request body as segments (owned
 * bytes, borrowed bytes, raw content base64-encoded on the way out), read
 * out in chunks so that a large payload is never copied or held twice.
 *
 * The raw content is a stream: a file (file.c opened it), borrowed bytes
 * or a caller's source.  A stream reads in groups of three bytes so that
 * its base64 needs no padding until the end, hashes what it read when a
 * before_last hook may ask (kombo_body_digest), and refuses a source that
 * ends early or runs long.
 */
#include "kombo.h"
#include "buf.h"
#include "codec.h"
#include "file.h"
#include "body.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

/* Raw bytes read in groups of three so that every chunk but the last encodes
 * without padding: 48 KiB in, 64 KiB out. */
#define STREAM_RAW (48 * 1024)

enum stream_kind { STREAM_BYTES, STREAM_FILE, STREAM_SOURCE };

struct kombo_stream {
    enum stream_kind kind;
    kombo_str bytes;       /* STREAM_BYTES */
    FILE *file;            /* STREAM_FILE (owned) */
    kombo_source source;   /* STREAM_SOURCE */
    size_t size;           /* raw bytes announced */
    size_t raw_done;       /* raw bytes read from it so far (raw_len of them not encoded yet) */
    size_t raw_len;        /* bytes waiting in raw: the 0-2 of an incomplete triple between chunks */
    int touched;           /* the source has been read from (a rewind is needed) */
    int ended;             /* all `size` bytes read and the end confirmed */
    size_t enc_len, enc_off; /* encoded bytes waiting in enc */
    /* SHA-256 of the raw bytes read in this attempt (kombo_body_digest):
     * restarted with the first read after a rewind, finished once the end
     * is confirmed (digest_done).  md_failed: libcrypto failed, no digest. */
    EVP_MD_CTX *md;
    int md_failed, digest_done;
    unsigned char digest[KOMBO_SHA256_LEN];
    /* Last, and not cleared: raw (cap bytes, a multiple of three) and enc
     * (cap / 3 * 4) in one block sized by the stream's size, at most
     * STREAM_RAW: a 1 KiB CV takes 2.5 KB, not 112 KiB (calloc's clearing
     * of those, and the page faults after the heap was trimmed, were a
     * sixth of a small upload's cost inside nginx). */
    size_t cap;
    unsigned char *raw;
    char *enc;
    unsigned char mem[];
};

static void body_fail(kombo_body *body, const char *fmt, const char *detail)
{
    if (!body->failed)
        snprintf(body->error, sizeof body->error, fmt, detail);
    body->failed = 1;
}

/* Reads up to `want` raw bytes from the stream; -1 on a source error. */
static long stream_raw_read(kombo_stream *st, kombo_body *body, unsigned char *dst, size_t want)
{
    switch (st->kind) {
    case STREAM_BYTES: {
        size_t left = st->bytes.len - st->raw_done;
        size_t n = want < left ? want : left;
        memcpy(dst, st->bytes.ptr + st->raw_done, n);
        return (long)n;
    }
    case STREAM_FILE: {
        size_t n = fread(dst, 1, want, st->file);
        if (n < want && ferror(st->file)) {
            body_fail(body, "reading the file failed: %s", strerror(errno));
            return -1;
        }
        return (long)n;
    }
    default: {
        char err[200] = "";
        long n = st->source.read(st->source.ud, (char *)dst, want, err, sizeof err);
        if (n == KOMBO_SOURCE_AGAIN)
            return n;
        if (n < 0 || (size_t)n > want) {
            body_fail(body, "the attachment source failed: %s", err[0] ? err : "no reason given");
            return -1;
        }
        return n;
    }
    }
}

/* The content digest: one EVP context per stream, made at its first read
 * and reused for every attempt.  Only for a body whose before_last hook is
 * set (a journal asks call:digest() there): hashing every upload would put
 * a SHA-256 of the whole file on the plain upload's path. */
static void digest_start(kombo_stream *st, const kombo_body *body)
{
    st->digest_done = 0;
    st->md_failed = 0;
    if (body->before_last == NULL) {
        st->md_failed = 1; /* not asked for: no digest */
        return;
    }
    if (st->md == NULL)
        st->md = EVP_MD_CTX_new();
    if (st->md == NULL || EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1)
        st->md_failed = 1;
}

static void digest_finish(kombo_stream *st)
{
    unsigned int len = 0;
    if (!st->md_failed && EVP_DigestFinal_ex(st->md, st->digest, &len) == 1 && len == KOMBO_SHA256_LEN)
        st->digest_done = 1;
    else
        st->md_failed = 1;
}

/* Refills st->enc from the source; keeps raw reads in multiples of three
 * except at the very end.  Never lets a short or long source pass as whole.
 * A push-mode source may have fewer bytes than wanted for now: what it gave
 * is encoded in whole triples and the 0-2 left over wait in st->raw for the
 * next chunk.  Returns 0 (encoded bytes in st->enc, or st->ended), 1 when
 * the source has no bytes yet and nothing could be encoded, -1 on failure. */
static int stream_fill(kombo_stream *st, kombo_body *body)
{
    size_t want = st->size - st->raw_done, n_enc;
    int again = 0;
    if (!st->touched)
        digest_start(st, body);
    st->touched = 1;
    if (want > st->cap - st->raw_len)
        want = st->cap - st->raw_len;
    while (want > 0) {
        long n = stream_raw_read(st, body, st->raw + st->raw_len, want);
        if (n == KOMBO_SOURCE_AGAIN) {
            again = 1;
            break;
        }
        if (n < 0)
            return -1;
        if (n == 0) {
            body_fail(body, "%s", st->kind == STREAM_FILE
                                      ? "the file ended before its size when opened "
                                        "(did it shrink while being sent?)"
                                      : "the attachment source ended before its announced size");
            return -1;
        }
        if (!st->md_failed && EVP_DigestUpdate(st->md, st->raw + st->raw_len, (size_t)n) != 1)
            st->md_failed = 1;
        st->raw_len += (size_t)n;
        st->raw_done += (size_t)n;
        want -= (size_t)n;
    }
    /* The last bytes (padding included) are encoded before the end is
     * confirmed; the segment only ends, and the JSON after it only goes out,
     * once the source said it has nothing more. */
    n_enc = st->raw_done == st->size ? st->raw_len : st->raw_len / 3 * 3;
    st->enc_len = kombo_base64_encode(st->enc, st->raw, n_enc);
    st->enc_off = 0;
    if (n_enc < st->raw_len)
        memmove(st->raw, st->raw + n_enc, st->raw_len - n_enc);
    st->raw_len -= n_enc;
    if (!again && st->raw_done == st->size && st->enc_len == 0) {
        if (st->kind != STREAM_BYTES) {
            unsigned char extra;
            long n = stream_raw_read(st, body, &extra, 1);
            if (n == KOMBO_SOURCE_AGAIN)
                return 1;
            if (n < 0)
                return -1;
            if (n > 0) {
                body_fail(body, "%s", st->kind == STREAM_FILE
                                          ? "the file is longer than its size when opened "
                                            "(did it grow while being sent?)"
                                          : "the attachment source is longer than its announced size");
                return -1;
            }
        }
        st->ended = 1;
        digest_finish(st);
    }
    return st->enc_len == 0 && !st->ended ? 1 : 0;
}

static int stream_rewind(kombo_stream *st, kombo_body *body)
{
    if (!st->touched)
        return 0; /* nothing consumed yet: a one-shot source is still whole */
    st->raw_done = st->raw_len = 0;
    st->touched = st->ended = 0;
    st->digest_done = 0;
    st->enc_len = st->enc_off = 0;
    if (st->kind == STREAM_FILE && fseek(st->file, 0, SEEK_SET) != 0) {
        body_fail(body, "cannot rewind the file: %s", strerror(errno));
        return -1;
    }
    if (st->kind == STREAM_SOURCE && (st->source.rewind == NULL || st->source.rewind(st->source.ud) != 0)) {
        body_fail(body, "%s", "the attachment source cannot be read a second time");
        return -1;
    }
    return 0;
}

kombo_segment *kombo_body_segment(kombo_body *body, size_t i)
{
    if (i < KOMBO_INLINE_SEGMENTS)
        return &body->seg[i];
    i -= KOMBO_INLINE_SEGMENTS;
    return &body->more[i / KOMBO_SEGMENT_BLOCK][i % KOMBO_SEGMENT_BLOCK];
}

static const kombo_segment *seg_const(const kombo_body *body, size_t i)
{
    if (i < KOMBO_INLINE_SEGMENTS)
        return &body->seg[i];
    i -= KOMBO_INLINE_SEGMENTS;
    return &body->more[i / KOMBO_SEGMENT_BLOCK][i % KOMBO_SEGMENT_BLOCK];
}

/* Inside the library the same, inlined (the exported function is called
 * through the PLT, for each segment of every read). */
static inline kombo_segment *seg_at(kombo_body *body, size_t i)
{
    if (i < KOMBO_INLINE_SEGMENTS)
        return &body->seg[i];
    i -= KOMBO_INLINE_SEGMENTS;
    return &body->more[i / KOMBO_SEGMENT_BLOCK][i % KOMBO_SEGMENT_BLOCK];
}
#define SEG(body, i) seg_at((body), (i))

static kombo_segment *body_segment(kombo_body *body, kombo_segment_kind kind)
{
    kombo_segment *sg;
    size_t past = body->nseg >= KOMBO_INLINE_SEGMENTS ? body->nseg - KOMBO_INLINE_SEGMENTS : 0;
    if (body->nseg >= KOMBO_INLINE_SEGMENTS && past / KOMBO_SEGMENT_BLOCK >= body->nmore) {
        /* A new block; only the table of blocks moves, never a segment. */
        kombo_segment **more = realloc(body->more, (body->nmore + 1) * sizeof(kombo_segment *));
        kombo_segment *block;
        if (more == NULL) {
            body_fail(body, "%s", "out of memory");
            return NULL;
        }
        body->more = more;
        block = calloc(KOMBO_SEGMENT_BLOCK, sizeof *block);
        if (block == NULL) {
            body_fail(body, "%s", "out of memory");
            return NULL;
        }
        body->more[body->nmore++] = block;
    }
    sg = SEG(body, body->nseg);
    body->nseg++;
    sg->kind = kind;
    if (kind == KOMBO_SEG_OWNED && body->nspare > 0)
        sg->owned = body->spare[--body->nspare];
    else
        kombo_buf_init(&sg->owned);
    sg->borrowed = KOMBO_STR_NULL;
    sg->stream = NULL;
    return sg;
}

static size_t seg_len(const kombo_segment *sg)
{
    switch (sg->kind) {
    case KOMBO_SEG_OWNED:
        return sg->owned.len;
    case KOMBO_SEG_BORROWED:
        return sg->borrowed.len;
    default:
        return kombo_base64_encoded_len(sg->stream->size);
    }
}

kombo_buf *kombo_body_add_owned(kombo_body *body)
{
    kombo_segment *sg = body_segment(body, KOMBO_SEG_OWNED);
    if (sg == NULL) {
        /* A buffer that swallows appends (a failed kombo_buf stays empty):
         * a body model lays out its JSON without checking every step. */
        kombo_buf_init(&body->overflow);
        body->overflow.failed = 1;
        return &body->overflow;
    }
    return &sg->owned;
}

void kombo_body_add_borrowed(kombo_body *body, kombo_str s)
{
    kombo_segment *sg = body_segment(body, KOMBO_SEG_BORROWED);
    if (sg != NULL)
        sg->borrowed = s;
}

/* A stream of `size` raw bytes (what stream_raw_read is ever asked for is
 * at most what is left of them, so the buffers need not be larger). */
static kombo_stream *body_add_stream(kombo_body *body, enum stream_kind kind, size_t size)
{
    kombo_segment *sg = body_segment(body, KOMBO_SEG_BASE64);
    kombo_stream *st;
    size_t cap = size < STREAM_RAW ? (size / 3 + 1) * 3 : STREAM_RAW;
    if (sg == NULL)
        return NULL;
    st = malloc(offsetof(kombo_stream, mem) + cap + cap / 3 * 4);
    if (st != NULL) {
        memset(st, 0, offsetof(kombo_stream, mem));
        st->cap = cap;
        st->raw = st->mem;
        st->enc = (char *)st->mem + cap;
    }
    if (st == NULL) {
        body->nseg--;
        body_fail(body, "%s", "out of memory");
        return NULL;
    }
    st->kind = kind;
    sg->stream = st;
    return st;
}

int kombo_body_add_file(kombo_body *body, void *file_handle)
{
    struct stat sb;
    size_t size;
    kombo_stream *st;

    if (fstat(fileno((FILE *)file_handle), &sb) != 0) {
        kombo_file_close(file_handle);
        body_fail(body, "cannot stat the file: %s", strerror(errno));
        return -1;
    }
    if (!kombo_sendable_size(&sb, &size)) {
        kombo_file_close(file_handle);
        body_fail(body, "%s", "the file grew past the largest size this build can send");
        return -1;
    }
    st = body_add_stream(body, STREAM_FILE, size);
    if (st == NULL) {
        kombo_file_close(file_handle);
        return -1;
    }
    st->file = file_handle;
    st->size = size;
    return 0;
}

int kombo_body_add_bytes(kombo_body *body, kombo_str bytes)
{
    kombo_stream *st = body_add_stream(body, STREAM_BYTES, bytes.len);
    if (st == NULL)
        return -1;
    st->bytes = bytes;
    st->size = bytes.len;
    return 0;
}

int kombo_body_add_source(kombo_body *body, const kombo_source *source)
{
    kombo_stream *st = body_add_stream(body, STREAM_SOURCE, source->size);
    if (st == NULL)
        return -1;
    st->source = *source;
    st->size = source->size;
    return 0;
}

int kombo_body_digest(const kombo_body *body, char hex[KOMBO_SHA256_HEX])
{
    size_t i;
    hex[0] = '\0';
    if (body->failed)
        return 0;
    for (i = 0; i < body->nseg; i++) {
        const kombo_stream *st = seg_const(body, i)->stream;
        if (seg_const(body, i)->kind == KOMBO_SEG_BASE64 && st != NULL && st->digest_done) {
            kombo_hex_lower(hex, st->digest, KOMBO_SHA256_LEN);
            return 1;
        }
    }
    return 0;
}

size_t kombo_body_raw_size(const kombo_body *body)
{
    size_t i, n = 0;
    for (i = 0; i < body->nseg; i++)
        if (seg_const(body, i)->kind == KOMBO_SEG_BASE64)
            n += seg_const(body, i)->stream->size;
    return n;
}

int kombo_body_finish(kombo_body *body)
{
    size_t i;
    body->length = 0;
    for (i = 0; i < body->nseg && !body->failed; i++) {
        if (SEG(body, i)->kind == KOMBO_SEG_OWNED && SEG(body, i)->owned.failed)
            body_fail(body, "%s", "out of memory");
        else
            body->length += seg_len(SEG(body, i));
    }
    return body->failed ? -1 : 0;
}

/* Safe on a zeroed body and when called twice: leaves a zeroed body. */
/* What a segment holds: its owned bytes, its stream (a file closed). */
static void release_segment(kombo_segment *sg)
{
    if (sg->kind == KOMBO_SEG_OWNED)
        kombo_buf_free(&sg->owned);
    if (sg->stream != NULL) {
        if (sg->stream->kind == STREAM_FILE)
            kombo_file_close(sg->stream->file);
        EVP_MD_CTX_free(sg->stream->md);
        free(sg->stream);
        sg->stream = NULL;
    }
}

/* Every segment's holdings and the blocks of more segments. */
static void release_segments(kombo_body *body)
{
    size_t i;

    for (i = 0; i < body->nseg; i++)
        release_segment(SEG(body, i));
    for (i = 0; i < body->nmore; i++)
        free(body->more[i]);
    free(body->more);
    body->more = NULL;
    body->nmore = 0;
    body->nseg = 0;
}

void kombo_body_free(kombo_body *body)
{
    size_t i;

    release_segments(body);
    for (i = 0; i < body->nspare; i++)
        kombo_buf_free(&body->spare[i]);
    memset(body, 0, sizeof *body);
}

/* An owned buffer kept for the next body up to this size (a large body's
 * is not held on to). */
#define SPARE_MAX 4096

void kombo_body_recycle(kombo_body *body)
{
    size_t i;

    for (i = 0; i < body->nseg && body->nspare < KOMBO_INLINE_SEGMENTS; i++) {
        kombo_segment *sg = SEG(body, i);
        kombo_buf *keep = &body->spare[body->nspare];
        if (sg->kind != KOMBO_SEG_OWNED || sg->owned.data == NULL || sg->owned.failed || sg->owned.cap > SPARE_MAX)
            continue;
        memset(sg->owned.data, 0, sg->owned.len); /* what the request held goes now */
        *keep = sg->owned;
        kombo_buf_reset(keep);
        body->nspare++;
        kombo_buf_init(&sg->owned); /* kept, not released below */
    }
    /* The rest of the body is the next call's to set (call.c zeroes it). */
    release_segments(body);
}

int kombo_body_rewind(kombo_body *body)
{
    size_t i;
    body->seg_i = 0;
    body->seg_off = 0;
    body->sent = 0;
    body->next_progress = 0;
    body->before_last_done = 0;
    body->written_at = 0;
    if (body->failed)
        return -1;
    for (i = 0; i < body->nseg; i++)
        if (SEG(body, i)->stream != NULL && stream_rewind(SEG(body, i)->stream, body) != 0)
            return -1;
    return 0;
}

/* At most about 100 reports per upload, plus the final one. */
static void report_progress(kombo_body *body)
{
    size_t step;
    if (body->on_progress == NULL || body->sent < body->next_progress)
        return;
    step = body->length / 100;
    if (step < 16384)
        step = 16384;
    body->next_progress = body->sent >= body->length ? (size_t)-1 : body->sent + step;
    if (body->next_progress > body->length && body->sent < body->length)
        body->next_progress = body->length;
    body->on_progress(body->progress_ud, body->sent, body->length);
}

int kombo_body_last_bytes(kombo_body *body)
{
    if (!body->before_last_done && !body->failed) {
        body->before_last_done = 1;
        body->written_at = kombo_wall_now();
        if (body->before_last != NULL && body->before_last(body->before_last_ud) != 0 && !body->failed)
            body_fail(body, "%s", "the request was stopped before its last bytes");
    }
    return body->failed ? -1 : 0;
}

size_t kombo_body_read(kombo_body *body, char *dst, size_t cap)
{
    size_t got = 0;

    body->want_input = 0;
    while (got < cap && body->seg_i < body->nseg && !body->failed) {
        kombo_segment *sg = SEG(body, body->seg_i);
        size_t take, left;
        const char *src;

        if (sg->kind == KOMBO_SEG_BASE64) {
            kombo_stream *st = sg->stream;
            if (st->enc_off == st->enc_len && !st->ended) {
                int r = stream_fill(st, body);
                if (r != 0) {
                    body->want_input = r > 0;
                    break;
                }
            }
            src = st->enc + st->enc_off;
            left = st->enc_len - st->enc_off;
        } else {
            src = (sg->kind == KOMBO_SEG_OWNED ? sg->owned.data : sg->borrowed.ptr) + body->seg_off;
            left = seg_len(sg) - body->seg_off;
        }
        take = cap - got < left ? cap - got : left;
        /* The bytes that complete the body: the hook may still stop them. */
        if (take && body->sent + got + take == body->length && !body->defer_last && !body->before_last_done) {
            kombo_body_last_bytes(body);
            if (body->failed)
                break;
        }
        if (take) {
            memcpy(dst + got, src, take);
            got += take;
        }
        if (sg->kind == KOMBO_SEG_BASE64) {
            sg->stream->enc_off += take;
            if (sg->stream->enc_off == sg->stream->enc_len && sg->stream->ended)
                body->seg_i++;
        } else {
            body->seg_off += take;
            if (body->seg_off >= seg_len(sg)) {
                body->seg_i++;
                body->seg_off = 0;
            }
        }
    }
    if (body->failed)
        return 0;
    body->sent += got;
    report_progress(body);
    return got;
}
