/*
 * curl_handle.h - what easy.c (one transfer at a time, with
 * curl_easy_perform) and multi.c (many at once, with one multi
 * handle) share: the easy handle with its per-attempt state, and the two
 * halves of an attempt around the transfer.  Internal to the core.
 */
#ifndef KOMBO_CURL_HANDLE_H
#define KOMBO_CURL_HANDLE_H

#include "core/kombo.h"

#include <curl/curl.h>

struct kombo_curl {
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    /* state of the attempt in flight */
    kombo_call *call;
    kombo_response *response;
    int too_large;
    int headers_too_large; /* the header block passed KOMBO_MAX_HEADER_BYTES */
    /* The final answer's framing, checked as the cosocket transport does:
     * Content-Length digits only, and no two that differ. */
    char length[24];       /* the first Content-Length value ("" none; "?" unusable) */
    int length_conflict;
    int chunked;
    const char *headers_bad; /* why the header block is refused, or NULL */
    int small_body; /* this attempt's body went whole to CURLOPT_POSTFIELDS */
    const char *no_resend; /* why a resend libcurl wanted was refused, or NULL */
    int requests;          /* requests libcurl started in this attempt (PREREQFUNCTION) */
    int open_errno;        /* errno of a socket() that failed in this attempt, or 0 */
    const char *abort_why; /* the driver cut this attempt off (kombo_multi_abort), or NULL */
    kombo_buf small; /* a small body, sent in one piece with the headers */
    struct curl_slist *headers; /* the last call's request headers, kept for the next */
    size_t headers_n;            /* how many the call had */
    char *headers_integration;   /* and its X-Integration-Id value */
    unsigned long headers_client; /* and its client (kombo_client_serial) */
    unsigned long options_client; /* the client whose own settings (proxy, timeouts) the handle has; 0: none */
    kombo_curl *next_idle;        /* the process-wide pool's (or a multi's) free list */
    /* The method and body options the handle has (kombo_curl_begin sets
     * only the ones that change: the pooled handle mostly carries one kind
     * of call after another).  sent_kind 0: not known, set them all. */
    int sent_kind;             /* 0, or 1 GET, 2 a body (POST, PUT, PATCH, DELETE) */
    const char *sent_custom;   /* CURLOPT_CUSTOMREQUEST last given (NULL: POST's) */
    curl_off_t sent_size;      /* CURLOPT_POSTFIELDSIZE_LARGE last given */
    const char *sent_fields;   /* CURLOPT_POSTFIELDS last given (NULL: the read callback) */
    char *default_ca; /* libcurl's built-in CA bundle path, or NULL */
    char *ca_set;     /* the CA file last given to the handle (a copy) */
};

/* Sets the handle up for the call's current attempt.  Returns 0, or -1
 * when the attempt already failed (a source that failed, out of memory:
 * the call's response says why) and no transfer must run. */
int kombo_curl_begin(kombo_curl *t, kombo_call *c);
/* Reads the transfer's end (a CURLcode) into the call's response: the
 * phase it reached, and what the failure means. */
void kombo_curl_end(kombo_curl *t, kombo_call *c, int code);

#endif
