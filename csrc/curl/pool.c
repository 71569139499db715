/*
 * pool.c - the process-wide pool of libcurl easy handles, and so of
 * kept-alive connections.
 */
#include "curl/curl_handle.h"

#include <pthread.h>

/* Idle handles kept (each keeps KEPT_PER_HANDLE connections, easy.c). */
#define POOL_IDLE 16

/* Connections belong to the process, not to client objects: a call takes
 * an idle handle (with its kept-alive connections) from this pool and gives
 * it back after the transfer, so a client dropped without close() holds no
 * socket, and at most POOL_IDLE handles of KEPT_PER_HANDLE connections each
 * stay open (a call in progress holds its handle besides).  (With one handle per client, 30,000 forgotten clients on
 * LuaJIT held 527-682 sockets until a garbage collection.) */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static kombo_curl *pool_idle;
static size_t pool_count;
static int pool_watching; /* the fork handler is registered */

/* After fork() the child must not use (or close: a TLS close_notify would
 * break the parent's session) the connections it inherited: they are left
 * alone, and the child starts an empty pool.  A fork handler rather than a
 * getpid() per call (two system calls a call); glibc unregisters it if
 * the module is unloaded. */
static void pool_child_after_fork(void)
{
    static const pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;
    pool_lock = unlocked; /* another thread may have held it */
    pool_idle = NULL;
    pool_count = 0;
}

/* Called with pool_lock held, before the pool holds anything.  (No
 * pthread_once: before glibc 2.34 it is in libpthread, which this module
 * does not link.) */
static void pool_check_fork(void)
{
    if (!pool_watching)
        pool_watching = pthread_atfork(NULL, NULL, pool_child_after_fork) == 0;
}

kombo_curl *kombo_curl_acquire(void)
{
    kombo_curl *t;
    pthread_mutex_lock(&pool_lock);
    pool_check_fork();
    t = pool_idle;
    if (t != NULL) {
        pool_idle = t->next_idle;
        pool_count--;
    }
    pthread_mutex_unlock(&pool_lock);
    return t != NULL ? t : kombo_curl_new();
}

void kombo_curl_release(kombo_curl *t)
{
    if (t == NULL)
        return;
    t->call = NULL;
    t->response = NULL;
    pthread_mutex_lock(&pool_lock);
    pool_check_fork();
    if (pool_count < POOL_IDLE) {
        t->next_idle = pool_idle;
        pool_idle = t;
        pool_count++;
        t = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    kombo_curl_free(t); /* the pool is full: its connections close */
}

void kombo_curl_pool_drain(void)
{
    kombo_curl *t, *next;
    pthread_mutex_lock(&pool_lock);
    pool_check_fork();
    t = pool_idle;
    pool_idle = NULL;
    pool_count = 0;
    pthread_mutex_unlock(&pool_lock);
    for (; t != NULL; t = next) {
        next = t->next_idle;
        kombo_curl_free(t);
    }
}

