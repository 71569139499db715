/*
 * client.h - the client's insides, shared by client.c and call.c only.
 */
#ifndef KOMBO_CLIENT_H
#define KOMBO_CLIENT_H

#include "kombo.h"

struct kombo_client {
    kombo_config cfg; /* its strings point at the copies below */
    char *api_key, *integration_id, *server_url, *user_agent, *ca_file;
    size_t prefix_len;           /* server_url without trailing slashes */
    kombo_buf authorization;     /* "Authorization: Bearer <key>" */
    kombo_buf user_agent_header; /* "User-Agent: ..." or empty */
    unsigned long serial;        /* never reused, unlike an address */
};

#endif
