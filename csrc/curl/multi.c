/*
 * multi.c - many calls' attempts at once, in one thread, with
 * one libcurl multi handle (attach_many outside nginx).
 *
 * Each attempt is exactly a kombo_curl_attempt() cut in two around the
 * transfer (kombo_curl_begin / kombo_curl_end): the same callbacks, the
 * same resend guards, the same reading of how far it got.  The multi only
 * moves the bytes of several such transfers together, and keeps their
 * connections alive between attempts (its own connection cache).  What
 * to send next, and when, stays with the caller: it asks each call
 * (kombo_call_next) as before.
 *
 * The multi is driven by events (curl_multi_socket_action): libcurl says
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION, kept in a poll array)
 * and when it wants to be called (CURLMOPT_TIMERFUNCTION, a deadline);
 * kombo_multi_run polls those sockets once and hands libcurl only the
 * ones that are ready.  curl_multi_perform looked at every transfer at
 * each wake-up and polled each one's socket on its own (about 19 poll()
 * calls per upload with 16 in flight, issue 24).
 */
#include "curl/curl_handle.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* Connections the multi keeps open between transfers: enough for Kombo's
 * 30 in-flight uploads per integration, and a few integrations at once. */
#define MULTI_MAX_CONNECTS 64L

typedef struct multi_slot {
    kombo_curl *t; /* NULL: free */
    kombo_call *call;
    void *tag;
} multi_slot;

struct kombo_multi {
    CURLM *multi;
    multi_slot *slots;
    size_t nslots, running;
    kombo_curl *idle; /* handles between attempts (not the process-wide pool:
                         a multi's transfers share the multi's connections) */
    void **ready;     /* tags of attempts that ended before any transfer */
    size_t nready, ready_cap;
    struct pollfd *fds; /* the sockets libcurl wants watched (on_socket) */
    struct pollfd *polled; /* the copy given to poll() */
    size_t nfds, fds_cap;
    double timer_at; /* when libcurl wants to be called (on_timer): -1 never */
    int maybe_more;  /* the last collect() stopped full: ended transfers may wait in libcurl's queue */
    int adding;      /* kombo_multi_add is on the stack (its source runs in it) */
};

/* CURLMOPT_SOCKETFUNCTION: keep the poll array as libcurl wants it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
    kombo_multi *m = ud;
    size_t i;
    (void)easy;
    (void)sockp;
    for (i = 0; i < m->nfds && m->fds[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < m->nfds)
            m->fds[i] = m->fds[--m->nfds];
        return 0;
    }
    if (i == m->nfds) {
        if (m->nfds == m->fds_cap) {
            size_t n = m->fds_cap * 2 + 16;
            struct pollfd *grown = realloc(m->fds, n * sizeof *grown), *copy;
            if (grown == NULL)
                return -1;
            m->fds = grown;
            if ((copy = realloc(m->polled, n * sizeof *copy)) == NULL)
                return -1;
            m->polled = copy;
            m->fds_cap = n;
        }
        m->fds[m->nfds++].fd = fd;
    }
    m->fds[i].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    m->fds[i].revents = 0;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants to be called next (0 ms right
 * after a transfer was added: it starts it then). */
static int on_timer(CURLM *multi, long ms, void *ud)
{
    kombo_multi *m = ud;
    (void)multi;
    m->timer_at = ms < 0 ? -1 : kombo_monotonic_now() + (double)ms / 1000;
    return 0;
}

kombo_multi *kombo_multi_new(void)
{
    kombo_multi *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    /* The first handle also makes sure libcurl is initialised. */
    if ((m->idle = kombo_curl_new()) == NULL || (m->multi = curl_multi_init()) == NULL) {
        kombo_curl_free(m->idle);
        free(m);
        return NULL;
    }
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, MULTI_MAX_CONNECTS);
    m->timer_at = -1;
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, (void *)m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, (void *)m);
    return m;
}

size_t kombo_multi_running(const kombo_multi *m) { return m->running; }

static multi_slot *slot_of(kombo_multi *m, const kombo_call *c)
{
    size_t i;
    for (i = 0; i < m->nslots; i++)
        if (m->slots[i].t != NULL && m->slots[i].call == c)
            return &m->slots[i];
    return NULL;
}

/* A free slot for c, grown when there is none, with room for one more
 * ready tag, so that once an attempt has begun, nothing can fail to be
 * recorded; or NULL: out of memory, or c has an attempt here already (one
 * pass over the slots for both). */
static multi_slot *reserve(kombo_multi *m, const kombo_call *c)
{
    size_t i, free_i = m->nslots, busy = 0;
    /* (until a free one is found and every busy one was looked at) */
    for (i = 0; i < m->nslots && (free_i == m->nslots || busy < m->running); i++) {
        if (m->slots[i].t == NULL) {
            if (free_i == m->nslots)
                free_i = i;
        } else {
            busy++;
            if (m->slots[i].call == c)
                return NULL; /* one attempt of a call at a time */
        }
    }
    if (m->nready == m->ready_cap) {
        size_t n = m->ready_cap * 2 + 8;
        void **grown = realloc(m->ready, n * sizeof *grown);
        if (grown == NULL)
            return NULL;
        m->ready = grown;
        m->ready_cap = n;
    }
    if (free_i == m->nslots) {
        size_t n = m->nslots * 2 + 8;
        multi_slot *grown = realloc(m->slots, n * sizeof *grown);
        if (grown == NULL)
            return NULL;
        memset(grown + m->nslots, 0, (n - m->nslots) * sizeof *grown);
        m->slots = grown;
        m->nslots = n;
    }
    return &m->slots[free_i];
}

static void report(kombo_call *c)
{
    kombo_call_complete(c, kombo_call_response(c), kombo_monotonic_now(), kombo_wall_now());
}

static int add_attempt(kombo_multi *m, kombo_call *c, void *tag)
{
    multi_slot *s;
    kombo_curl *t;

    if ((s = reserve(m, c)) == NULL)
        return -1;
    if ((t = m->idle) != NULL)
        m->idle = t->next_idle;
    else if ((t = kombo_curl_new()) == NULL)
        return -1;
    if (kombo_curl_begin(t, c) != 0) {
        /* Ended before any byte moved (a source that failed): reported by
         * the next kombo_multi_run, like any other end. */
        report(c);
        t->call = NULL;
        t->next_idle = m->idle;
        m->idle = t;
        m->ready[m->nready++] = tag;
        return 0;
    }
    /* (its slot's number: collect() finds the slot without a search, from
     * the handle's CURLOPT_PRIVATE, set once per handle; the slots may move
     * when they grow) */
    t->multi_slot = (size_t)(s - m->slots);
    if (curl_multi_add_handle(m->multi, t->easy) != CURLM_OK) {
        t->call = NULL;
        t->next_idle = m->idle;
        m->idle = t;
        return -1;
    }
    s->t = t;
    s->call = c;
    s->tag = tag;
    m->running++;
    return 0;
}

/* A small body is read whole as its attempt begins, by its source: one
 * that adds to this multi would take the slot and the room reserved for
 * the attempt being added.  Refused (-1). */
int kombo_multi_add(kombo_multi *m, kombo_call *c, void *tag)
{
    int rc;
    if (m->adding)
        return -1;
    m->adding = 1;
    rc = add_attempt(m, c, tag);
    m->adding = 0;
    return rc;
}

/* The slot's transfer is over (ended with `code`, or cut off): read it
 * into the call's response, report it to the call, free the slot. */
static void *finish(kombo_multi *m, multi_slot *s, int code)
{
    kombo_curl *t = s->t;
    void *tag = s->tag;
    curl_multi_remove_handle(m->multi, t->easy);
    kombo_curl_end(t, s->call, code);
    report(s->call);
    t->call = NULL;
    t->response = NULL;
    t->next_idle = m->idle;
    m->idle = t;
    s->t = NULL;
    s->call = NULL;
    s->tag = NULL;
    m->running--;
    return tag;
}

/* The transfers that ended, into done[n..max). */
static size_t collect(kombo_multi *m, void **done, size_t n, size_t max)
{
    int queued;
    CURLMsg *msg;
    while (n < max && (msg = curl_multi_info_read(m->multi, &queued)) != NULL) {
        char *priv = NULL;
        kombo_curl *t;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        t = (kombo_curl *)(void *)priv;
        if (t != NULL && t->multi_slot < m->nslots && m->slots[t->multi_slot].t == t)
            done[n++] = finish(m, &m->slots[t->multi_slot], (int)msg->data.result);
    }
    /* (transfers end only in curl_multi_socket_action, each call of which
     * a collect() follows: the queue is empty unless this one stopped full) */
    m->maybe_more = n == max;
    return n;
}

size_t kombo_multi_run(kombo_multi *m, double timeout, void **done, size_t max)
{
    size_t n = 0, i;
    int still, ready, wait, polled = 0;
    double now, until;

    while (m->nready > 0 && n < max) { /* ended in kombo_multi_add */
        done[n++] = m->ready[0];
        memmove(m->ready, m->ready + 1, --m->nready * sizeof *m->ready);
    }
    if (n > 0 || m->running == 0) {
        if (n == 0 && timeout > 0)
            kombo_sleep(timeout); /* nothing to move: the caller waits for a retry's time */
        return n;
    }
    /* (ended earlier but not taken: more than `max` at once) */
    if (m->maybe_more && (n = collect(m, done, 0, max)) > 0)
        return n;
    now = kombo_monotonic_now();
    until = now + (timeout > 0 ? timeout : 0);
    /* Bounded: each round either waits (until `until` at the latest) or runs
     * libcurl's timer, which moves it on; the bound is a backstop. */
    for (i = 0; i < 100000; i++) {
        if (m->timer_at >= 0 && m->timer_at <= now) {
            m->timer_at = -1;
            curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still);
            if ((n = collect(m, done, 0, max)) > 0)
                return n;
            now = kombo_monotonic_now();
            continue;
        }
        if (polled && now >= until) /* (a timeout of 0 still looks at the sockets once) */
            return 0;
        {
            double left = m->timer_at >= 0 && m->timer_at < until ? m->timer_at - now : until - now;
            /* (rounded up: not early) */
            wait = left <= 0 ? 0 : left >= 1e6 ? 1000000000 : (int)(left * 1000) + 1;
        }
        polled = 1;
        if (m->nfds > 0)
            memcpy(m->polled, m->fds, m->nfds * sizeof *m->fds);
        ready = poll(m->polled, (nfds_t)m->nfds, wait);
        if (ready > 0) {
            /* on_socket may change m->fds meanwhile, and move m->polled
             * when it grows (realloc keeps what was polled): read it
             * through m each time.  A socket closed meanwhile is unknown
             * to libcurl, which then only runs its timers. */
            size_t k, nfds = m->nfds;
            for (k = 0; k < nfds && ready > 0; k++) {
                short r = m->polled[k].revents;
                if (r == 0)
                    continue;
                ready--;
                curl_multi_socket_action(m->multi, m->polled[k].fd,
                                         (r & (POLLIN | POLLHUP | POLLERR) ? CURL_CSELECT_IN : 0)
                                             | (r & POLLOUT ? CURL_CSELECT_OUT : 0)
                                             | (r & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0),
                                         &still);
            }
            if ((n = collect(m, done, 0, max)) > 0)
                return n;
        }
        now = kombo_monotonic_now();
    }
    return 0;
}

int kombo_multi_abort(kombo_multi *m, kombo_call *c, const char *why, void **tag)
{
    multi_slot *s = slot_of(m, c);
    if (s == NULL)
        return -1;
    s->t->abort_why = why;
    *tag = finish(m, s, (int)CURLE_ABORTED_BY_CALLBACK);
    return 0;
}

void kombo_multi_free(kombo_multi *m)
{
    size_t i;
    kombo_curl *t, *next;
    if (m == NULL)
        return;
    for (i = 0; i < m->nslots; i++) /* transfers still running: cut off, not reported */
        if (m->slots[i].t != NULL) {
            curl_multi_remove_handle(m->multi, m->slots[i].t->easy);
            kombo_curl_free(m->slots[i].t);
        }
    for (t = m->idle; t != NULL; t = next) {
        next = t->next_idle;
        kombo_curl_free(t);
    }
    curl_multi_cleanup(m->multi); /* after the easy handles are out of it */
    free(m->slots);
    free(m->ready);
    free(m->fds);
    free(m->polled);
    free(m);
}
