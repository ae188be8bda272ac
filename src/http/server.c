/* server.c — the HTTP/1.1 connection state machine; see server.h. */
#include "http/server.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_HEAD_TIMEOUT_MS 10000
#define DEFAULT_BODY_TIMEOUT_MS 30000

typedef enum {
    HC_HEAD,     /* waiting for (the rest of) a request head */
    HC_BODY,     /* collecting a Content-Length body */
    HC_HANDLING, /* inside the application handler */
    HC_DEFERRED, /* the handler will answer later */
} hc_state_t;

typedef struct http_conn http_conn_t;

struct http_exchange {
    http_conn_t *hc;
    http_request_t req;
    const char *body;
    size_t body_len;
    unsigned keep_alive : 1;
    unsigned is_head : 1;
    unsigned responded : 1;
    void (*on_abort)(http_exchange_t *, void *);
    void *abort_ud;
};

struct http_conn {
    net_conn_t *c;
    const http_config_t *cfg;
    hc_state_t state;
    size_t prev_len;      /* bytes seen by the previous incomplete head parse */
    char *head_copy;      /* the head, copied only when its body spans reads */
    buf_t body;
    size_t body_need;
    http_exchange_t ex;
};

static const net_conn_handler_t http_handler;

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static uint64_t head_timeout(const http_conn_t *hc)
{
    return hc->cfg->head_timeout_ms ? hc->cfg->head_timeout_ms : DEFAULT_HEAD_TIMEOUT_MS;
}

static void hc_free(http_conn_t *hc)
{
    buf_free(&hc->body);
    free(hc->head_copy);
    free(hc);
}

void http_conn_start(net_conn_t *c, const http_config_t *cfg)
{
    http_conn_t *hc = xcalloc(1, sizeof *hc);
    hc->c = c;
    hc->cfg = cfg;
    hc->state = HC_HEAD;
    hc->ex.hc = hc;
    buf_init(&hc->body, cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY);
    net_conn_set_handler(c, &http_handler, hc);
    net_conn_set_timeout(c, head_timeout(hc));
}

const http_request_t *http_ex_request(const http_exchange_t *ex)
{
    return &ex->req;
}

const char *http_ex_body(const http_exchange_t *ex, size_t *len)
{
    *len = ex->body_len;
    return ex->body ? ex->body : ""; /* never NULL, so callers may do pointer arithmetic */
}

net_conn_t *http_ex_conn(const http_exchange_t *ex)
{
    return ex->hc->c;
}

void http_ex_close_after(http_exchange_t *ex)
{
    ex->keep_alive = 0;
}

/* The exchange is over: get ready for the next request on the connection. */
static void finish_exchange(http_conn_t *hc, int refeed)
{
    hc->state = HC_HEAD;
    hc->ex.on_abort = NULL;
    hc->ex.body = NULL;
    hc->ex.body_len = 0;
    buf_free(&hc->body);
    free(hc->head_copy);
    hc->head_copy = NULL;
    if (!hc->ex.keep_alive) {
        net_conn_close(hc->c, 1);
        return;
    }
    net_conn_set_timeout(hc->c, head_timeout(hc));
    if (refeed)
        net_conn_refeed(hc->c); /* pipelined bytes that waited for us */
}

void http_respond(http_exchange_t *ex, int status, const char *content_type,
                  const http_kv_t *headers, size_t num_headers, const void *body, size_t len)
{
    http_conn_t *hc = ex->hc;
    if (ex->responded)
        return;
    ex->responded = 1;
    char head[4096];
    size_t n = 0;
#define HEAD_PRINTF(...)                                                                           \
    do {                                                                                           \
        int w_ = snprintf(head + n, sizeof head - n, __VA_ARGS__);                                 \
        if (w_ > 0)                                                                                \
            n = (size_t)w_ < sizeof head - n ? n + (size_t)w_ : sizeof head - 1;                   \
    } while (0)
    HEAD_PRINTF("HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    if (content_type)
        HEAD_PRINTF("Content-Type: %s\r\n", content_type);
    for (size_t i = 0; i < num_headers; i++)
        HEAD_PRINTF("%s: %s\r\n", headers[i].name, headers[i].value);
    if (status != 304 && status != 204)
        HEAD_PRINTF("Content-Length: %zu\r\n", len);
    HEAD_PRINTF("Connection: %s\r\n\r\n", ex->keep_alive ? "keep-alive" : "close");
#undef HEAD_PRINTF
    net_conn_write(hc->c, head, n);
    if (!ex->is_head && len > 0 && status != 304 && status != 204)
        net_conn_write(hc->c, body, len);
    if (hc->state == HC_DEFERRED)
        finish_exchange(hc, 1);
}

void http_respond_error(http_exchange_t *ex, int status, const char *reason, int close_after)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", reason);
    if (close_after)
        ex->keep_alive = 0;
    http_respond(ex, status, "application/json", NULL, 0, body,
                 n > 0 ? ((size_t)n < sizeof body ? (size_t)n : sizeof body - 1) : 0);
}

void http_defer(http_exchange_t *ex, void (*on_abort)(http_exchange_t *, void *), void *ud)
{
    ex->on_abort = on_abort;
    ex->abort_ud = ud;
    if (ex->hc->state == HC_HANDLING && !ex->responded)
        ex->hc->state = HC_DEFERRED;
}

/* Answers a request that never reached the application (bad head, limits). */
static size_t refuse(http_conn_t *hc, int status, const char *reason, size_t consumed)
{
    hc->ex.responded = 0;
    hc->ex.keep_alive = 0;
    hc->ex.is_head = 0;
    hc->state = HC_HANDLING;
    http_respond_error(&hc->ex, status, reason, 1);
    net_conn_close(hc->c, 1);
    return consumed;
}

/* Runs the application handler; tells on_data whether the connection still
 * speaks HTTP afterwards. */
static int dispatch(http_conn_t *hc)
{
    net_conn_t *c = hc->c;
    http_exchange_t *ex = &hc->ex;
    ex->responded = 0;
    ex->on_abort = NULL;
    ex->keep_alive = http_keep_alive(&ex->req) ? 1 : 0;
    ex->is_head = ex->req.method == HTTP_HEAD;
    hc->state = HC_HANDLING;
    net_conn_set_timeout(c, 0);

    hc->cfg->handler(ex, hc->cfg->ud);

    if (net_conn_data(c) != hc) {
        /* The connection now speaks another protocol (WebSocket). */
        hc_free(hc);
        return 0;
    }
    if (net_conn_is_closing(c))
        return 0;
    if (hc->state == HC_DEFERRED)
        return 1;
    if (!ex->responded) {
        log_error("http_no_response", "handler returned without answering %.*s",
                  (int)ex->req.path_len, ex->req.path);
        http_respond_error(ex, 500, "internal", 1);
    }
    finish_exchange(hc, 0);
    return !net_conn_is_closing(c);
}

static size_t on_head(http_conn_t *hc, const char *data, size_t len)
{
    http_exchange_t *ex = &hc->ex;
    int r = http_parse_request(data, len, hc->prev_len, HTTP_MAX_HEAD_BYTES, &ex->req);
    if (r == HTTP_PARSE_INCOMPLETE) {
        hc->prev_len = len;
        return 0;
    }
    hc->prev_len = 0;
    switch (r) {
    case HTTP_PARSE_BAD_REQUEST: return refuse(hc, 400, "malformed request", len);
    case HTTP_PARSE_TOO_LARGE: return refuse(hc, 431, "request head too large", len);
    case HTTP_PARSE_BAD_VERSION: return refuse(hc, 505, "HTTP version not supported", len);
    default: break;
    }
    size_t head_len = (size_t)r;
    int64_t clen = 0;
    if (http_content_length(&ex->req, &clen) != 0)
        return refuse(hc, 400, "invalid Content-Length", len);
    if (http_is_chunked(&ex->req))
        return refuse(hc, 501, "chunked request bodies are not supported", len);
    if ((uint64_t)clen > hc->body.max)
        return refuse(hc, 413, "request body too large", len);

    ex->body = NULL;
    ex->body_len = 0;
    if (clen == 0) {
        dispatch(hc);
        return head_len;
    }
    if (len - head_len >= (size_t)clen) {
        /* The whole body is here: no copy. */
        ex->body = data + head_len;
        ex->body_len = (size_t)clen;
        dispatch(hc);
        return head_len + (size_t)clen;
    }
    /* The body spans reads: keep a private copy of the head so the parsed
     * request stays valid, and collect the body. */
    const http_header_t *expect = http_find_header(&ex->req, "Expect");
    int want_continue = expect && expect->value_len == 12 &&
                        strncasecmp(expect->value, "100-continue", 12) == 0;
    hc->head_copy = xmemdup(data, head_len);
    http_parse_request(hc->head_copy, head_len, 0, HTTP_MAX_HEAD_BYTES, &ex->req);
    hc->body_need = (size_t)clen;
    hc->state = HC_BODY;
    uint64_t bt = hc->cfg->body_timeout_ms ? hc->cfg->body_timeout_ms : DEFAULT_BODY_TIMEOUT_MS;
    net_conn_set_timeout(hc->c, bt);
    if (want_continue)
        net_conn_write(hc->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return head_len;
}

static size_t on_body(http_conn_t *hc, const char *data, size_t len)
{
    size_t n = len < hc->body_need ? len : hc->body_need;
    buf_append(&hc->body, data, n); /* cannot pass the cap: checked against Content-Length */
    hc->body_need -= n;
    if (hc->body_need == 0) {
        hc->ex.body = hc->body.data;
        hc->ex.body_len = hc->body.len;
        dispatch(hc);
    }
    return n;
}

static size_t http_on_data(net_conn_t *c, const char *data, size_t len)
{
    http_conn_t *hc = net_conn_data(c);
    switch (hc->state) {
    case HC_HEAD: return on_head(hc, data, len);
    case HC_BODY: return on_body(hc, data, len);
    case HC_HANDLING:
    case HC_DEFERRED: return 0; /* pipelined: waits for the answer */
    }
    return 0;
}

static void http_on_timeout(net_conn_t *c)
{
    http_conn_t *hc = net_conn_data(c);
    if (hc->state == HC_BODY) {
        refuse(hc, 408, "request body timeout", 0);
        return;
    }
    /* Slowloris or an idle keep-alive connection: just drop it. */
    net_conn_close(c, 0);
}

static void http_on_shutdown(net_conn_t *c)
{
    http_conn_t *hc = net_conn_data(c);
    if (hc->state == HC_DEFERRED || hc->state == HC_HANDLING) {
        hc->ex.keep_alive = 0; /* close once the pending answer is written */
        return;
    }
    net_conn_close(c, 1);
}

static void http_on_close(net_conn_t *c, net_close_reason_t reason)
{
    http_conn_t *hc = net_conn_data(c);
    if (hc->state == HC_DEFERRED && !hc->ex.responded && hc->ex.on_abort) {
        hc->ex.responded = 1; /* answering an aborted exchange is a no-op */
        hc->ex.on_abort(&hc->ex, hc->ex.abort_ud);
    }
    hc_free(hc);
}

static const net_conn_handler_t http_handler = {
    .on_data = http_on_data,
    .on_close = http_on_close,
    .on_timeout = http_on_timeout,
    .on_shutdown = http_on_shutdown,
};
