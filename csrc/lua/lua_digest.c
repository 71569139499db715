/*
 * lua_digest.c - SHA-256 digests for kombo-attach's journal (OpenSSL's
 * libcrypto, EVP; never a digest of our own):
 *
 *   core.sha256(s)                 -> 64 lowercase hex digits
 *   core.sha256_file(path)         -> hex, size | nil, message
 *   core.fetch_sha256(url, opts)   -> hex, size, content_type | nil, message
 *
 * sha256_file streams the file in 64 KiB reads (constant memory) and
 * refuses anything that is not a regular file without blocking on it (a
 * FIFO is opened O_NONBLOCK, so no writer is waited for).
 */
#include "lua/lua_kombo.h"
#include "core/codec.h"
#include "core/file.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define READ_CHUNK (64 * 1024)

/* core.sha256(s) -> hex */
static int l_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char hex[KOMBO_SHA256_HEX];
    if (kombo_sha256_hex(s, n, hex) != 0)
        return luaL_error(L, "SHA-256 failed (libcrypto)");
    lua_pushlstring(L, hex, KOMBO_SHA256_HEX - 1);
    return 1;
}

/* core.sha256_base64(data) -> hex of the bytes the base64 text stands for
 * (an attachment's `data`), or nil when it is not valid padded base64.
 * Decoded a block at a time: no copy of the whole content. */
static int l_sha256_base64(lua_State *L)
{
    size_t n, off, pad = 0;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char out[3 * 4096 / 4], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[KOMBO_SHA256_HEX];
    EVP_MD_CTX *ctx;
    int ok;

    if (!kombo_base64_valid(s, n)) {
        lua_pushnil(L);
        return 1;
    }
    if (n >= 1 && s[n - 1] == '=')
        pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (off = 0; ok && off < n; off += 4096) {
        size_t take = n - off < 4096 ? n - off : 4096; /* a multiple of 4: n is */
        int got = EVP_DecodeBlock(out, (const unsigned char *)s + off, (int)take);
        if (got < 0) {
            ok = 0;
            break;
        }
        if (off + take == n)
            got -= (int)pad; /* EVP_DecodeBlock counts the padding as zero bytes */
        ok = EVP_DigestUpdate(ctx, out, (size_t)got) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == KOMBO_SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return luaL_error(L, "SHA-256 failed (libcrypto)");
    kombo_hex_lower(hex, md, mdlen);
    lua_pushlstring(L, hex, KOMBO_SHA256_HEX - 1);
    return 1;
}

/* Reads the file to its end into ctx: 0 with *size, or an errno value. */
static int digest_file(FILE *f, EVP_MD_CTX *ctx, unsigned char *buf, uint64_t *size)
{
    for (;;) {
        size_t n = fread(buf, 1, READ_CHUNK, f);
        if (n > 0) {
            if (EVP_DigestUpdate(ctx, buf, n) != 1)
                return ENOMEM;
            *size += (uint64_t)n;
        }
        if (n < READ_CHUNK)
            return ferror(f) ? (errno != 0 ? errno : EIO) : 0;
    }
}

/* core.sha256_file(path) -> hex, size | nil, "<path> <reason>".  The file
 * is opened by the library's own rule for attachment.file (kombo_file_open:
 * a regular file; a FIFO, device, socket or directory is refused without
 * waiting), so the CLI's row check and the upload agree. */
static int l_sha256_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[KOMBO_SHA256_HEX], why[200];
    unsigned char *buf;
    EVP_MD_CTX *ctx;
    uint64_t size = 0;
    size_t expected = 0;
    void *file;
    int err;

    file = kombo_file_open(path, &expected, why, sizeof why);
    if (file == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s %s", path, why);
        return 2;
    }
    buf = malloc(READ_CHUNK);
    ctx = EVP_MD_CTX_new();
    if (buf == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        err = ENOMEM;
    else
        err = digest_file((FILE *)file, ctx, buf, &size);
    if (err == 0 && (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != KOMBO_SHA256_LEN))
        err = ENOMEM;
    EVP_MD_CTX_free(ctx);
    free(buf);
    kombo_file_close(file);
    if (err != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s cannot be read: %s", path, strerror(err));
        return 2;
    }
    kombo_hex_lower(hex, md, mdlen);
    lua_pushlstring(L, hex, KOMBO_SHA256_HEX - 1);
    lua_pushinteger(L, (lua_Integer)size);
    return 2;
}

/* ------------------------------------------------- core.fetch_sha256 */

typedef struct fetch {
    EVP_MD_CTX *md;
    uint64_t size;
    int md_failed;
} fetch;

/* Each status line starts a response: only the last one's body counts
 * (a redirect's body is never part of the digest). */
static size_t fetch_header(char *line, size_t size, size_t n, void *ud)
{
    fetch *f = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        f->size = 0;
        if (EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1)
            f->md_failed = 1;
    }
    return len;
}

static size_t fetch_write(char *p, size_t size, size_t n, void *ud)
{
    fetch *f = ud;
    size_t len = size * n;
    if (EVP_DigestUpdate(f->md, p, len) != 1) {
        f->md_failed = 1;
        return 0;
    }
    f->size += len;
    return len;
}

/* scheme://host[:port]/path of url: never its userinfo, query or fragment
 * (a signed download URL carries its token there).  Writes "" when url
 * cannot be parsed. */
static void url_for_message(const char *url, char *out, size_t outsz)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    out[0] = '\0';
    if (u == NULL)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(out, outsz, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "", path ? path : "");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

/* core.fetch_sha256(url [, {timeout = 60, ca_file = path}]) -> hex, size,
 * content_type | nil, message
 *
 * A plain GET of any http(s) URL (an attachment's data_url from a listing),
 * digested as it streams (constant memory, no size cap).  No Kombo header
 * is sent (a fresh easy handle, not the pool's); at most 5 redirects are
 * followed, never with credentials (libcurl's default: no
 * CURLOPT_UNRESTRICTED_AUTH).  A status >= 400 fails naming the status.
 * Messages name the URL without userinfo, query or fragment.
 * Blocking: for the command line (kombo-attach), never inside nginx, where
 * it would stall the worker. */
static int l_fetch_sha256(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    double timeout = 60;
    const char *ca_file = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    char where[512];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[KOMBO_SHA256_HEX];
    char *ctype = NULL;
    long status = 0;
    CURLcode rc;
    CURL *h;
    fetch f;

    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "timeout");
        if (!lua_isnil(L, -1)) {
            timeout = luaL_checknumber(L, -1);
            luaL_argcheck(L, timeout > 0 && timeout <= 1e6, 2, "timeout must be > 0 seconds");
        }
        lua_getfield(L, 2, "ca_file");
        ca_file = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
        /* both stay on the stack (ca_file points into its string) */
    }
    url_for_message(url, where, sizeof where);
    memset(&f, 0, sizeof f);
    if ((f.md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(f.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(f.md);
        return luaL_error(L, "SHA-256 failed (libcrypto)");
    }
    if ((h = curl_easy_init()) == NULL) {
        EVP_MD_CTX_free(f.md);
        return luaL_error(L, "cannot initialise libcurl");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kombo-lua/" KOMBO_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fetch_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    if (ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    if (rc == CURLE_OK && !f.md_failed &&
        (EVP_DigestFinal_ex(f.md, md, &mdlen) != 1 || mdlen != KOMBO_SHA256_LEN))
        f.md_failed = 1;
    EVP_MD_CTX_free(f.md);
    lua_pushnil(L);
    if (rc == CURLE_HTTP_RETURNED_ERROR || (rc == CURLE_OK && status >= 400))
        lua_pushfstring(L, "download of %s failed: HTTP status %d", where, (int)status);
    else if (rc != CURLE_OK)
        lua_pushfstring(L, "download of %s failed: %s", where, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (f.md_failed)
        lua_pushfstring(L, "download of %s failed: SHA-256 failed (libcrypto)", where);
    else {
        lua_pop(L, 1);
        kombo_hex_lower(hex, md, mdlen);
        lua_pushlstring(L, hex, KOMBO_SHA256_HEX - 1);
        lua_pushinteger(L, (lua_Integer)f.size);
        if (ctype != NULL)
            lua_pushstring(L, ctype);
        else
            lua_pushnil(L);
        curl_easy_cleanup(h);
        return 3;
    }
    curl_easy_cleanup(h); /* ctype points into it */
    return 2;
}

void kombo_lua_open_digest(lua_State *L)
{
    static const luaL_Reg functions[] = {{"sha256", l_sha256}, {"sha256_file", l_sha256_file},
                                         {"sha256_base64", l_sha256_base64},
                                         {"fetch_sha256", l_fetch_sha256}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
