/*
 * lua_lock.c - core.lock(path): an exclusive lock on a file, for
 * kombo-attach's journal (one run per journal at a time).
 *
 *   local lock, msg, pid = core.lock(path)  -- lock | nil, message, holder_pid
 *   lock:unlock()                            -- idempotent; also __gc and __close
 *
 * A POSIX record lock (fcntl F_SETLK, F_WRLCK over the whole file) on
 * `path`, created 0644 when missing and opened O_CLOEXEC.  When another
 * process holds it, F_GETLK names that process: nil, "<path> is locked by
 * process <pid>", pid.  The file is never removed (removing a lock file
 * races with the next process that opens it).
 *
 * Two traps of fcntl locks are handled here:
 *   - they belong to the process, so a second F_SETLK from this process
 *     succeeds; the locks held are therefore tracked by device and inode
 *     and a second core.lock of the same file (by any path, from any Lua
 *     state of the process) is refused with this process's pid;
 *   - the process loses its lock when it closes ANY descriptor of the file,
 *     so the lock file must only ever be opened by core.lock (never read or
 *     written with io.open while locked), and a descriptor this module opens
 *     on a file it already holds is kept until that lock is released.
 */
#include "lua/lua_kombo.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_MT "kombo.lock"

typedef struct held {
    struct held *next;
    dev_t dev;
    ino_t ino;
    int fd;          /* the descriptor holding the lock */
    int *extra;      /* descriptors opened on the same file meanwhile: closed with it */
    size_t nextra;
} held;

typedef struct llock {
    held *h; /* NULL once unlocked */
} llock;

/* Every lock this process holds through core.lock (all Lua states). */
static held *held_list;
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;

static held *find_held(dev_t dev, ino_t ino)
{
    held *h;
    for (h = held_list; h != NULL; h = h->next)
        if (h->dev == dev && h->ino == ino)
            return h;
    return NULL;
}

static void release(held *h)
{
    held **p;
    size_t i;
    pthread_mutex_lock(&held_mutex);
    for (p = &held_list; *p != NULL; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    pthread_mutex_unlock(&held_mutex);
    for (i = 0; i < h->nextra; i++)
        close(h->extra[i]);
    close(h->fd); /* drops the lock */
    free(h->extra);
    free(h);
}

static int push_locked(lua_State *L, const char *path, long pid)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s is locked by process %d", path, (int)pid);
    lua_pushinteger(L, (lua_Integer)pid);
    return 3;
}

static int push_error(lua_State *L, const char *path, const char *what, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s: %s", path, what, strerror(err));
    return 2;
}

/* Called with held_mutex held: fd is open on a file this process holds;
 * closing it would drop that lock, so it is kept until the lock goes. */
static void keep_fd(held *h, int fd)
{
    int *p = realloc(h->extra, (h->nextra + 1) * sizeof *p);
    if (p == NULL)
        return; /* leaked open rather than closed: the lock must stay */
    h->extra = p;
    h->extra[h->nextra++] = fd;
}

/* core.lock(path) -> lock | nil, message, holder_pid */
static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    struct flock fl;
    llock *lk;
    held *h;
    int fd, tries;

    /* Refused before opening: opening and closing the file here would drop
     * the lock this process holds on it. */
    if (stat(path, &st) == 0) {
        pthread_mutex_lock(&held_mutex);
        h = find_held(st.st_dev, st.st_ino);
        pthread_mutex_unlock(&held_mutex);
        if (h != NULL)
            return push_locked(L, path, (long)getpid());
    }
    lk = lua_newuserdata(L, sizeof *lk);
    lk->h = NULL;
    luaL_getmetatable(L, LOCK_MT);
    lua_setmetatable(L, -2);

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0)
        return push_error(L, path, "cannot open", errno);
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return push_error(L, path, "cannot stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: not a regular file", path);
        return 2;
    }
    pthread_mutex_lock(&held_mutex);
    if ((h = find_held(st.st_dev, st.st_ino)) != NULL) { /* replaced by a link to a held file meanwhile */
        keep_fd(h, fd);
        pthread_mutex_unlock(&held_mutex);
        return push_locked(L, path, (long)getpid());
    }
    pthread_mutex_unlock(&held_mutex);

    for (tries = 0;; tries++) {
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0;
        fl.l_len = 0; /* the whole file, however it grows */
        if (fcntl(fd, F_SETLK, &fl) == 0)
            break;
        if (errno != EACCES && errno != EAGAIN) {
            int err = errno;
            close(fd);
            return push_error(L, path, "cannot lock", err);
        }
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
            close(fd);
            return push_locked(L, path, (long)fl.l_pid);
        }
        if (tries >= 3) { /* released and taken again each time we looked */
            close(fd);
            lua_pushnil(L);
            lua_pushfstring(L, "%s is locked by another process", path);
            return 2;
        }
    }

    h = calloc(1, sizeof *h);
    if (h == NULL) {
        close(fd);
        return luaL_error(L, "out of memory");
    }
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    h->fd = fd;
    pthread_mutex_lock(&held_mutex);
    h->next = held_list;
    held_list = h;
    pthread_mutex_unlock(&held_mutex);
    lk->h = h;
    return 1;
}

/* lock:unlock(): releases it (closes the descriptor); idempotent */
static int l_unlock(lua_State *L)
{
    llock *lk = luaL_checkudata(L, 1, LOCK_MT);
    if (lk->h != NULL) {
        release(lk->h);
        lk->h = NULL;
    }
    return 0;
}

/* lock:held() -> true until unlocked */
static int l_held(lua_State *L)
{
    llock *lk = luaL_checkudata(L, 1, LOCK_MT);
    lua_pushboolean(L, lk->h != NULL);
    return 1;
}

static int l_lock_tostring(lua_State *L)
{
    llock *lk = luaL_checkudata(L, 1, LOCK_MT);
    lua_pushfstring(L, "kombo.lock (%p%s)", (void *)lk, lk->h ? "" : ", unlocked");
    return 1;
}

void kombo_lua_open_lock(lua_State *L)
{
    static const luaL_Reg methods[] = {{"unlock", l_unlock}, {"held", l_held},
                                       {"__gc", l_unlock},     {"__close", l_unlock},
                                       {"__tostring", l_lock_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, LOCK_MT);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_lock);
    lua_setfield(L, -2, "lock");
}
