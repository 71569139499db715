/*
 * client.c - a client's configuration, checked once, and what all its
 * calls share, rendered once: the URL prefix and the fixed headers.
 */
#include "kombo.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "buf.h"
#include "request.h"
#include "internal.h"

const kombo_config kombo_config_defaults = {
    NULL, NULL, KOMBO_EU_URL, NULL, NULL,
    NULL,                       /* proxy: the environment's (https_proxy, no_proxy, ...) */
    300,                        /* timeout: a whole attempt, upload included */
    10,                         /* connect_timeout */
    0,                          /* max_response_bytes: the cap that fits the answer (kombo_max_response) */
    {3, 0.5, 30, 1.5, 120, 0},  /* retries */
};

/* per_call: a call may have its own (kombo_request.config, checked by
 * kombo_config_check_call). */
#define OPTION(name, kind, field, per_call) {name, offsetof(kombo_config, field), kind, per_call}
const kombo_option kombo_options[] = {
    OPTION("api_key", KOMBO_OPTION_STRING, api_key, 0),
    OPTION("integration_id", KOMBO_OPTION_STRING, integration_id, 0),
    OPTION("server_url", KOMBO_OPTION_STRING, server_url, 1),
    OPTION("user_agent", KOMBO_OPTION_STRING, user_agent, 0),
    OPTION("ca_file", KOMBO_OPTION_STRING, ca_file, 0),
    OPTION("proxy", KOMBO_OPTION_URL_OR_OFF, proxy, 0),
    OPTION("timeout", KOMBO_OPTION_NUMBER, timeout, 1),
    OPTION("connect_timeout", KOMBO_OPTION_NUMBER, connect_timeout, 1),
    OPTION("max_response_bytes", KOMBO_OPTION_BYTES, max_response_bytes, 1),
    OPTION("retries.max_attempts", KOMBO_OPTION_COUNT, retry.max_attempts, 1),
    OPTION("retries.initial_interval", KOMBO_OPTION_NUMBER, retry.initial_interval, 1),
    OPTION("retries.max_interval", KOMBO_OPTION_NUMBER, retry.max_interval, 1),
    OPTION("retries.exponent", KOMBO_OPTION_NUMBER, retry.exponent, 1),
    OPTION("retries.max_elapsed", KOMBO_OPTION_NUMBER, retry.max_elapsed, 1),
    OPTION("retries.retry_unsafe", KOMBO_OPTION_BOOLEAN, retry.retry_unsafe, 1),
    {NULL, 0, KOMBO_OPTION_STRING, 0},
};

size_t kombo_max_response(const kombo_config *cfg, const kombo_operation *op)
{
    if (cfg->max_response_bytes != 0)
        return cfg->max_response_bytes;
    return op != NULL && op->response.list ? KOMBO_DEFAULT_MAX_LIST_RESPONSE : KOMBO_DEFAULT_MAX_RESPONSE;
}

void kombo_retry_policy_none(kombo_retry_policy *p)
{
    *p = kombo_config_defaults.retry;
    p->max_attempts = 1;
}

static int is_http_url(const char *s)
{
    size_t n;
    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n > 7 && strncmp(s, "http://", 7) == 0)
        return 1;
    return n > 8 && strncmp(s, "https://", 8) == 0;
}

/* ca_file: an existing regular file (opened without blocking, so that a
 * FIFO cannot hang the caller) that holds a PEM certificate in its first
 * 64 KB (comments may come first, as in curl's cacert.pem). */
#define PEM_MARK "-----BEGIN CERTIFICATE-----"
static void check_ca_file(const char *path, kombo_problems *p)
{
    static char buf[65536];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct stat st;
    size_t got = 0, i, m = sizeof PEM_MARK - 1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY), found = 0;
    if (fd < 0) {
        kombo_problems_add(p, "ca_file", "cannot be read (%s)", strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        kombo_problems_add(p, "ca_file", "is not a regular file (a PEM bundle of CA certificates is)");
        return;
    }
    pthread_mutex_lock(&lock);
    while (got < sizeof buf) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    for (i = 0; !found && i + m <= got; i++)
        found = memcmp(buf + i, PEM_MARK, m) == 0;
    pthread_mutex_unlock(&lock);
    close(fd);
    if (!found)
        kombo_problems_add(p, "ca_file", "is not a PEM bundle (no \"" PEM_MARK "\" in its first 64 KB)");
}

/* ------------------------------------------------------------ proxy */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Userinfo bytes: RFC 3986's unreserved, sub-delims and %XX (':' splits). */
static int userinfo_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return 0;
            if (!is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return 0;
            i += 2;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr("-._~!$&'()*+,;=", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

int kombo_proxy_parse(const char *url, kombo_proxy *out, const char **why)
{
    const char *a, *end, *at, *hp, *colon, *hend, *s;
    size_t i;
    long port = 0;

    memset(out, 0, sizeof *out);
    out->port = KOMBO_PROXY_DEFAULT_PORT;
    if (strncasecmp(url, "https://", 8) == 0) {
        *why = "must be an http:// URL: HTTPS proxies are not supported (calls to an https:// server are "
               "tunnelled through an http:// proxy with CONNECT, so they stay encrypted end to end)";
        return -1;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        *why = "must be an http:// URL (http://[user:password@]host[:port]) or false";
        return -1;
    }
    for (s = url; *s != '\0'; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f) {
            *why = "must not contain spaces or control characters";
            return -1;
        }
    a = url + 7;
    end = a + strcspn(a, "/?#");
    if (*end != '\0' && strcmp(end, "/") != 0) {
        *why = "must be http://[user:password@]host[:port], without a path, query or fragment";
        return -1;
    }
    /* The last '@' ends the userinfo (a password may hold an encoded '@' only). */
    at = NULL;
    for (s = a; s < end; s++)
        if (*s == '@')
            at = s;
    hp = a;
    if (at != NULL) {
        colon = memchr(a, ':', (size_t)(at - a));
        out->user.ptr = a;
        out->user.len = (size_t)((colon != NULL ? colon : at) - a);
        if (colon != NULL) {
            out->password.ptr = colon + 1;
            out->password.len = (size_t)(at - colon - 1);
        }
        if (out->user.len == 0) {
            *why = "has credentials without a user name (http://user:password@host:port)";
            return -1;
        }
        if (!userinfo_ok(out->user.ptr, out->user.len) ||
            (out->password.ptr != NULL && !userinfo_ok(out->password.ptr, out->password.len))) {
            *why = "has credentials with bytes that must be percent-encoded (%XX), or a bad %XX";
            return -1;
        }
        hp = at + 1;
    }
    /* host: [IPv6] or a name / IPv4 address */
    if (hp < end && *hp == '[') {
        hend = memchr(hp, ']', (size_t)(end - hp));
        if (hend == NULL || hend == hp + 1) {
            *why = "has a bad IPv6 address (http://[::1]:3128)";
            return -1;
        }
        for (s = hp + 1; s < hend; s++)
            if (!is_hex(*s) && *s != ':' && *s != '.') {
                *why = "has a bad IPv6 address (http://[::1]:3128)";
                return -1;
            }
        hend++;
    } else {
        hend = hp;
        while (hend < end && *hend != ':')
            hend++;
        for (s = hp; s < hend; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                  *s == '.' || *s == '_')) {
                *why = "has a bad host name (letters, digits, '-', '.' and '_'; an IPv6 address in [])";
                return -1;
            }
    }
    if (hend == hp) {
        *why = "has no host (http://host:port)";
        return -1;
    }
    out->host.ptr = hp;
    out->host.len = (size_t)(hend - hp);
    if (hend < end) {
        if (*hend != ':' || hend + 1 == end) {
            *why = "has a bad port (a number from 1 to 65535 after the host's ':')";
            return -1;
        }
        for (i = 1; hend + i < end; i++) {
            if (hend[i] < '0' || hend[i] > '9' || port > 65535) {
                *why = "has a bad port (a number from 1 to 65535 after the host's ':')";
                return -1;
            }
            port = port * 10 + (hend[i] - '0');
        }
        if (port < 1 || port > 65535) {
            *why = "has a bad port (a number from 1 to 65535 after the host's ':')";
            return -1;
        }
        out->port = (int)port;
    }
    return 0;
}

static void append_decoded(kombo_buf *out, kombo_str s)
{
    size_t i;
    for (i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '%' && i + 2 < s.len) { /* checked by kombo_proxy_parse */
            c = (char)(hex_value(s.ptr[i + 1]) * 16 + hex_value(s.ptr[i + 2]));
            i += 2;
        }
        kombo_buf_append(out, &c, 1);
    }
}

int kombo_proxy_credentials(const kombo_proxy *px, kombo_buf *out)
{
    append_decoded(out, px->user);
    kombo_buf_append(out, ":", 1);
    append_decoded(out, px->password);
    return out->failed ? -1 : 0;
}

void kombo_proxy_refusal(char *out, size_t n, const char *proxy, int status)
{
    const char *why;
    switch (status) {
    case 407: why = "proxy authentication required: check the proxy's user and password"; break;
    case 403: why = "forbidden: the proxy does not allow a tunnel to this host and port"; break;
    case 502: why = "bad gateway: the proxy could not reach the server"; break;
    case 503: why = "service unavailable"; break;
    case 504: why = "gateway timeout: the proxy could not reach the server in time"; break;
    default: why = "no tunnel"; break;
    }
    snprintf(out, n, "the proxy %s refused the tunnel: CONNECT answered HTTP %d (%s)", proxy, status, why);
}

/* The settings a call may have of its own (kombo_request.config): one
 * set of rules for the client's and the call's. */
size_t kombo_config_check_call(const kombo_config *cfg, kombo_problems *p)
{
    size_t before = p->count + p->dropped;
    if (!is_http_url(cfg->server_url))
        kombo_problems_add(p, "server_url", "must be an absolute http(s) URL");
    else if (strpbrk(cfg->server_url, " \t\r\n?#") != NULL)
        kombo_problems_add(p, "server_url", "must not contain whitespace, '?' or '#'");
    if (!(cfg->timeout > 0))
        kombo_problems_add(p, "timeout", "must be a positive number of seconds");
    else if (!isfinite(cfg->timeout))
        kombo_problems_add(p, "timeout", "must be a finite number of seconds");
    if (!(cfg->connect_timeout > 0))
        kombo_problems_add(p, "connect_timeout", "must be a positive number of seconds");
    else if (!isfinite(cfg->connect_timeout))
        kombo_problems_add(p, "connect_timeout", "must be a finite number of seconds");
    if (cfg->retry.max_attempts < 1)
        kombo_problems_add(p, "retries.max_attempts", "must be a whole number, at least 1");
    if (!(cfg->retry.initial_interval >= 0))
        kombo_problems_add(p, "retries.initial_interval", "must be a non-negative number of seconds");
    if (!(cfg->retry.max_interval > 0))
        kombo_problems_add(p, "retries.max_interval", "must be a positive number of seconds");
    if (!(cfg->retry.exponent >= 1))
        kombo_problems_add(p, "retries.exponent", "must be at least 1");
    if (!(cfg->retry.max_elapsed >= 0))
        kombo_problems_add(p, "retries.max_elapsed", "must be a non-negative number of seconds");
    return p->count + p->dropped - before;
}

static void check_config(const kombo_config *cfg, kombo_problems *p)
{
    kombo_check_header_value(p, "api_key", kombo_str_c(cfg->api_key));
    if (cfg->integration_id != NULL)
        kombo_check_id(p, "integration_id", kombo_str_c(cfg->integration_id));
    if (cfg->user_agent != NULL && cfg->user_agent[0] == '\0')
        kombo_problems_add(p, "user_agent", "must not be empty (leave it out for the default)");
    else if (cfg->user_agent != NULL && strpbrk(cfg->user_agent, "\r\n") != NULL)
        kombo_problems_add(p, "user_agent", "must not contain CR or LF");
    if (cfg->ca_file != NULL)
        check_ca_file(cfg->ca_file, p);
    if (cfg->proxy != NULL && cfg->proxy[0] != '\0') {
        kombo_proxy px;
        const char *why = NULL;
        if (kombo_proxy_parse(cfg->proxy, &px, &why) != 0)
            kombo_problems_add(p, "proxy", "%s", why);
    }
    kombo_config_check_call(cfg, p);
}

/* Serials tell clients apart in a pooled handle's header cache: an address
 * can be reused by the next client, a serial is not. */
static unsigned long next_serial(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static unsigned long last;
    unsigned long s;
    pthread_mutex_lock(&lock);
    s = ++last;
    pthread_mutex_unlock(&lock);
    return s;
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d;
    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

/* Frees a string that may hold the key, wiping it first. */
static void wipe_free(char *s)
{
    if (s != NULL) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void kombo_client_free(kombo_client *cl)
{
    if (cl == NULL)
        return;
    wipe_free(cl->api_key);
    free(cl->integration_id);
    free(cl->server_url);
    free(cl->user_agent);
    free(cl->ca_file);
    wipe_free(cl->proxy); /* may hold a password */
    if (cl->authorization.data != NULL)
        memset(cl->authorization.data, 0, cl->authorization.len);
    kombo_buf_free(&cl->authorization);
    kombo_buf_free(&cl->user_agent_header);
    free(cl);
}

kombo_client *kombo_client_new(const kombo_config *cfg, kombo_problems *problems)
{
    kombo_client *cl;
    int failed = 0;
    size_t n;

    kombo_problems_init(problems);
    check_config(cfg, problems);
    if (problems->count > 0)
        return NULL;
    cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return NULL;
    cl->serial = next_serial();
    cl->cfg = *cfg;
    cl->cfg.api_key = cl->api_key = dup_or_null(cfg->api_key, &failed);
    cl->cfg.integration_id = cl->integration_id = dup_or_null(cfg->integration_id, &failed);
    cl->cfg.server_url = cl->server_url = dup_or_null(cfg->server_url, &failed);
    cl->cfg.user_agent = cl->user_agent = dup_or_null(cfg->user_agent, &failed);
    cl->cfg.ca_file = cl->ca_file = dup_or_null(cfg->ca_file, &failed);
    cl->cfg.proxy = cl->proxy = dup_or_null(cfg->proxy, &failed);
    if (failed) {
        kombo_client_free(cl);
        return NULL;
    }
    /* The URL prefix: server_url without trailing slashes. */
    n = strlen(cl->server_url);
    while (n > 0 && cl->server_url[n - 1] == '/')
        cl->server_url[--n] = '\0';
    cl->prefix_len = n;

    kombo_buf_init(&cl->authorization);
    kombo_buf_puts(&cl->authorization, "Authorization: Bearer ");
    kombo_buf_puts(&cl->authorization, cl->api_key);
    kombo_buf_init(&cl->user_agent_header);
    if (cl->user_agent != NULL) {
        kombo_buf_puts(&cl->user_agent_header, "User-Agent: ");
        kombo_buf_puts(&cl->user_agent_header, cl->user_agent);
    }
    if (cl->authorization.failed || cl->user_agent_header.failed) {
        kombo_client_free(cl);
        return NULL;
    }
    return cl;
}

const kombo_config *kombo_client_config(const kombo_client *cl)
{
    return &cl->cfg;
}

unsigned long kombo_client_serial(const kombo_client *cl)
{
    return cl->serial;
}
