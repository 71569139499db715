/*
 * client.h - the client's insides (client.c, call.c) and the options table
 * a binding reads a configuration by.
 */
#ifndef KOMBO_CLIENT_H
#define KOMBO_CLIENT_H

#include "kombo.h"

/* The options the core owns, in one place (client.c): a binding reads a
 * configuration by this table (the Lua binding also tells its Lua layer
 * which options exist from it: core.options), so adding one is adding its
 * field, its default, its rule in kombo_client_new and its line here. */
typedef enum kombo_option_kind {
    KOMBO_OPTION_STRING = 0, /* const char * */
    KOMBO_OPTION_NUMBER,     /* double */
    KOMBO_OPTION_COUNT,      /* int */
    KOMBO_OPTION_BYTES,      /* size_t */
    KOMBO_OPTION_BOOLEAN,    /* int, 0 or 1 */
    KOMBO_OPTION_URL_OR_OFF  /* const char *: a string, or false for "" (off); nil keeps NULL */
} kombo_option_kind;

typedef struct kombo_option {
    const char *name; /* "timeout"; a retry policy field is "retries.max_attempts" */
    size_t offset;    /* of the field in kombo_config */
    kombo_option_kind kind;
    int per_call;     /* a call may have its own (kombo_request.config) */
} kombo_option;

extern const kombo_option kombo_options[]; /* NULL-name terminated */
void kombo_retry_policy_none(kombo_retry_policy *p); /* the defaults with one attempt */

const kombo_config *kombo_client_config(const kombo_client *client);
unsigned long kombo_client_serial(const kombo_client *client); /* unique per client made */

struct kombo_client {
    kombo_config cfg; /* its strings point at the copies below */
    char *api_key, *integration_id, *server_url, *user_agent, *ca_file, *proxy;
    size_t prefix_len;           /* server_url without trailing slashes */
    kombo_buf authorization;     /* "Authorization: Bearer <key>" */
    kombo_buf user_agent_header; /* "User-Agent: ..." or empty */
    unsigned long serial;        /* never reused, unlike an address */
};

/* A proxy URL, parsed (client.c): http://[user[:password]@]host[:port][/].
 * Pieces point into the URL, as written (user and password percent-encoded). */
#define KOMBO_PROXY_DEFAULT_PORT 1080 /* libcurl's, for an http:// proxy without one */
typedef struct kombo_proxy {
    kombo_str host;           /* an IPv6 address keeps its brackets */
    int port;                 /* KOMBO_PROXY_DEFAULT_PORT when the URL has none */
    kombo_str user, password; /* absent (ptr NULL) without credentials; password may be absent */
} kombo_proxy;

/* Parses url; 0, or -1 with *why saying what is wrong (never quoting the
 * URL, which may hold a password). */
int kombo_proxy_parse(const char *url, kombo_proxy *out, const char **why);
/* Appends "user:password" percent-decoded (what Basic authentication
 * encodes); 0, or -1 when out of memory. */
int kombo_proxy_credentials(const kombo_proxy *px, kombo_buf *out);
/* The message for a proxy (`proxy`: its host:port, never its URL) that
 * answered CONNECT with `status` (not 2xx): both transports word a refused
 * tunnel with it. */
void kombo_proxy_refusal(char *out, size_t n, const char *proxy, int status);

#endif
