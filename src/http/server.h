/* server.h — HTTP/1.1 connections: requests in, responses out.
 *
 * What it is: the net handler that reads request heads (http/parser.h) and
 * Content-Length bodies, enforces the limits (431 head, 413 body, slowloris
 * head timeout), calls one application handler per request, and writes the
 * responses in order with keep-alive. A handler may answer at once, defer
 * the answer (long-polling), or hand the connection to another protocol
 * (WebSocket upgrade) by swapping the net handler.
 *
 * What it is not: no chunked request bodies (answered 501), no HTTP/2, no
 * routing beyond what http/router.h offers.
 */
#ifndef PARLEY_HTTP_SERVER_H
#define PARLEY_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"
#include "net/net.h"

typedef struct http_exchange http_exchange_t;

/* Called once per request. The request and body are valid only during the
 * call: copy what a deferred answer needs. */
typedef void (*http_handler_fn)(http_exchange_t *ex, void *ud);

typedef struct {
    http_handler_fn handler;
    void *ud;
    size_t max_body;          /* 413 beyond; 0 = 1 MiB */
    uint64_t head_timeout_ms; /* a head must arrive within this; 0 = 10000 */
    uint64_t body_timeout_ms; /* a body must arrive within this; 0 = 30000 */
} http_config_t;

typedef struct {
    const char *name;
    const char *value;
} http_kv_t;

/* Installs the HTTP handler on a freshly accepted connection. cfg must
 * outlive the connection. */
void http_conn_start(net_conn_t *c, const http_config_t *cfg);

const http_request_t *http_ex_request(const http_exchange_t *ex);
const char *http_ex_body(const http_exchange_t *ex, size_t *len);
net_conn_t *http_ex_conn(const http_exchange_t *ex);

/* Writes a complete response. Adds Content-Length and Connection; a HEAD
 * request gets the headers only. headers may be NULL. After this the
 * exchange is finished and must not be used. */
void http_respond(http_exchange_t *ex, int status, const char *content_type,
                  const http_kv_t *headers, size_t num_headers, const void *body, size_t len);
/* Error answer with a small JSON body {"error": reason}; close_after asks
 * for Connection: close. */
void http_respond_error(http_exchange_t *ex, int status, const char *reason, int close_after);

/* The answer comes later (long-polling). Further requests on the connection
 * wait. If the connection closes first, on_abort(ex, ud) is called and the
 * exchange is gone after it returns. */
void http_defer(http_exchange_t *ex, void (*on_abort)(http_exchange_t *ex, void *ud), void *ud);

/* Marks the response so the connection closes after it is written. */
void http_ex_close_after(http_exchange_t *ex);

const char *http_status_text(int status);

#endif
