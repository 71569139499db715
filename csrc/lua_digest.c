/*
 * lua_digest.c - SHA-256 digests for kombo-attach's journal (OpenSSL's
 * libcrypto, EVP; never a digest of our own):
 *
 *   core.sha256(s)                 -> 64 lowercase hex digits
 *   core.sha256_file(path)         -> hex, size | nil, message
 *
 * sha256_file streams the file in 64 KiB reads (constant memory) and
 * refuses anything that is not a regular file without blocking on it (a
 * FIFO is opened O_NONBLOCK, so no writer is waited for).
 */
#include "lua_kombo.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* What a non-regular file is, for the message; NULL for a regular file. */
static const char *not_regular(mode_t mode)
{
    if (S_ISREG(mode))
        return NULL;
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

static int push_fail(lua_State *L, const char *path, const char *what, int err)
{
    lua_pushnil(L);
    if (err != 0)
        lua_pushfstring(L, "%s: %s: %s", path, what, strerror(err));
    else
        lua_pushfstring(L, "%s is %s, not a regular file", path, what);
    return 2;
}

/* Reads fd to its end into ctx: 0 with *size, or an errno value. */
static int digest_fd(int fd, EVP_MD_CTX *ctx, unsigned char *buf, uint64_t *size)
{
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno != 0 ? errno : EIO;
        }
        if (n == 0)
            return 0;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            return ENOMEM;
        *size += (uint64_t)n;
    }
}

/* core.sha256_file(path) -> hex, size | nil, message */
static int l_sha256_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    const char *kind;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[KOMBO_SHA256_HEX];
    unsigned char *buf;
    EVP_MD_CTX *ctx;
    uint64_t size = 0;
    int fd, err;

    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        err = errno;
        /* A socket cannot be open()ed (ENXIO): name what it is. */
        if (stat(path, &st) == 0 && (kind = not_regular(st.st_mode)) != NULL)
            return push_fail(L, path, kind, 0);
        return push_fail(L, path, "cannot open", err);
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return push_fail(L, path, "cannot stat", err);
    }
    if ((kind = not_regular(st.st_mode)) != NULL) {
        close(fd);
        return push_fail(L, path, kind, 0);
    }
    buf = malloc(READ_CHUNK);
    ctx = EVP_MD_CTX_new();
    if (buf == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        err = ENOMEM;
    else
        err = digest_fd(fd, ctx, buf, &size);
    if (err == 0 && (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != KOMBO_SHA256_LEN))
        err = ENOMEM;
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    if (err != 0)
        return push_fail(L, path, "cannot read", err);
    kombo_hex_lower(hex, md, mdlen);
    lua_pushlstring(L, hex, KOMBO_SHA256_HEX - 1);
    lua_pushinteger(L, (lua_Integer)size);
    return 2;
}

void kombo_lua_open_digest(lua_State *L)
{
    static const luaL_Reg functions[] = {{"sha256", l_sha256}, {"sha256_file", l_sha256_file}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
