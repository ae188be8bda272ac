/* server.c — Engine.IO v4 sessions: handshake, long-polling, WebSocket,
 * upgrade and heartbeat. See eio.h for the contract.
 *
 * A session's outgoing packets are eio_msg_t references. On the WebSocket
 * transport they go straight to the connection as one shared frame; on
 * long-polling they wait in the session's queue (capped) until a GET takes
 * them, joined with the record separator. Polling answers are sent from a
 * check handle at the end of the loop iteration, so packets queued in one
 * iteration travel in one response.
 */
#include "eio/eio.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/deadline.h"
#include "core/hmap.h"
#include "core/log.h"
#include "eio/packet.h"
#include "http/url.h"
#include "ws/ws.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_PING_INTERVAL 25000
#define DEFAULT_PING_TIMEOUT 20000
#define DEFAULT_UPGRADE_TIMEOUT 10000
#define DEFAULT_MAX_PAYLOAD 1000000
#define DEFAULT_MAX_QUEUED (4 * 1024 * 1024)
#define SID_LEN 20
#define TOO_LARGE_BODY "{\"code\":3,\"message\":\"Payload too large\"}"

/* Engine.IO's HTTP error codes, as the Node server sends them. */
enum {
    EIO_ERR_UNKNOWN_TRANSPORT = 0,
    EIO_ERR_UNKNOWN_SID = 1,
    EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    EIO_ERR_BAD_REQUEST = 3,
    EIO_ERR_FORBIDDEN = 4,
    EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5,
};

struct eio_msg {
    unsigned refs;
    char type;          /* packet type character: '4' message, '2' ping, ... */
    int binary;
    refbuf_t *body;     /* text: type char + data; binary: the raw bytes */
    refbuf_t *ws_frame; /* built on first WebSocket use */
    refbuf_t *poll;     /* binary only: "b" + base64, built on first polling use */
};

typedef enum { S_OPEN, S_CLOSED } sess_state_t;

struct eio_socket {
    eio_server_t *srv;
    const char *close_reason;
    void *ud;
    eio_socket_t *pending_next; /* server's pending list (flush / close notify) */
    hmap_node_t hnode;          /* in the server's table by sid */
    deadline_t heartbeat;       /* on srv->heartbeats */

    /* WebSocket */
    ws_conn_t *ws;      /* the transport, once upgraded or direct */
    ws_conn_t *probe;   /* upgrade in progress */
    deadline_t upgrade; /* on srv->upgrades while probe is set */

    /* long-polling */
    eio_msg_t **q;
    uint32_t qhead, qlen, qcap;
    size_t qbytes;
    http_exchange_t *poll; /* pending GET */

    char sid[SID_LEN + 1];
    uint8_t transport; /* eio_transport_t */
    uint8_t state;     /* sess_state_t */
    unsigned awaiting_pong : 1;
    unsigned noop_wanted : 1; /* answer the next poll with a noop (upgrade) */
    unsigned on_pending : 1;  /* on the server's pending list */
    unsigned flush_wanted : 1;
    unsigned close_quiet : 1; /* closed by the client: no close packet back */
};

struct eio_server {
    uv_loop_t *loop;
    eio_config_t cfg;
    size_t path_len;
    hmap_t sessions; /* open sessions by sid (eio_socket_t.hnode) */
    deadline_queue_t heartbeats; /* every session's ping / pong deadline */
    deadline_queue_t upgrades;   /* upgrade probes' deadlines */
    uv_check_t check;
    uv_idle_t wakeup;
    eio_socket_t *pending;
    int handles_closed; /* while freeing the server */
    ws_config_t ws_cfg;
};

/* ---- the session table ---- */

static eio_socket_t *session_get(const eio_server_t *srv, const char *sid)
{
    hmap_node_t *n = hmap_get(&srv->sessions, sid, SID_LEN);
    return n ? (eio_socket_t *)((char *)n - offsetof(eio_socket_t, hnode)) : NULL;
}

static const ws_callbacks_t ws_cbs;
static void session_close(eio_socket_t *s, const char *reason);
static void schedule(eio_socket_t *s);

/* ---- messages ---- */

static eio_msg_t *msg_new_packet(char type, int binary, const void *data, size_t len)
{
    eio_msg_t *m = xcalloc(1, sizeof *m);
    m->refs = 1;
    m->type = type;
    m->binary = binary;
    if (binary) {
        m->body = refbuf_copy(data, len);
    } else {
        m->body = refbuf_new(len + 1);
        m->body->data[0] = type;
        if (len)
            memcpy(m->body->data + 1, data, len);
    }
    return m;
}

eio_msg_t *eio_msg_new(int binary, const void *data, size_t len)
{
    return msg_new_packet('4', binary, data, len);
}

eio_msg_t *eio_msg_ref(eio_msg_t *m)
{
    m->refs++;
    return m;
}

void eio_msg_unref(eio_msg_t *m)
{
    if (!m || --m->refs > 0)
        return;
    refbuf_unref(m->body);
    refbuf_unref(m->ws_frame);
    refbuf_unref(m->poll);
    free(m);
}

static refbuf_t *msg_ws_frame(eio_msg_t *m)
{
    if (!m->ws_frame)
        m->ws_frame = ws_frame_build(m->binary, m->body->data, m->body->len);
    return m->ws_frame;
}

/* The packet as it travels in a polling payload. */
static refbuf_t *msg_poll_form(eio_msg_t *m)
{
    if (!m->binary)
        return m->body;
    if (!m->poll) {
        size_t n = base64_encoded_len(m->body->len);
        m->poll = refbuf_new(n + 1);
        m->poll->data[0] = 'b';
        m->poll->len = 1 + base64_encode(m->body->data, m->body->len, m->poll->data + 1);
    }
    return m->poll;
}

/* ---- sending ---- */

static void ws_send_msg(ws_conn_t *ws, eio_msg_t *m)
{
    ws_send_frame_ref(ws, msg_ws_frame(m));
}

static int queue_msg(eio_socket_t *s, eio_msg_t *m)
{
    size_t max = s->srv->cfg.max_payload * 4 > DEFAULT_MAX_QUEUED ? s->srv->cfg.max_payload * 4
                                                                  : DEFAULT_MAX_QUEUED;
    size_t n = msg_poll_form(m)->len + 1;
    if (s->qbytes + n > max) {
        log_warn("slow_consumer", "eio %s: %zu bytes waiting for a poll; closing", s->sid,
                 s->qbytes);
        session_close(s, "transport error");
        return -1;
    }
    if (s->qhead + s->qlen == s->qcap) {
        if (s->qhead > 0) {
            memmove(s->q, s->q + s->qhead, s->qlen * sizeof *s->q);
            s->qhead = 0;
        } else {
            s->qcap = s->qcap ? s->qcap * 2 : 8;
            s->q = xrealloc(s->q, s->qcap * sizeof *s->q);
        }
    }
    s->q[s->qhead + s->qlen++] = eio_msg_ref(m);
    s->qbytes += n;
    if (s->poll) {
        s->flush_wanted = 1;
        schedule(s);
    }
    return 0;
}

static void send_packet(eio_socket_t *s, eio_msg_t *m)
{
    if (s->transport == EIO_TRANSPORT_WEBSOCKET && s->ws)
        ws_send_msg(s->ws, m);
    else
        queue_msg(s, m);
}

static void send_control(eio_socket_t *s, char type, const char *data)
{
    eio_msg_t *m = msg_new_packet(type, 0, data, data ? strlen(data) : 0);
    send_packet(s, m);
    eio_msg_unref(m);
}

int eio_send_msg(eio_socket_t *s, eio_msg_t *m)
{
    if (s->state != S_OPEN)
        return -1;
    send_packet(s, m);
    return s->state == S_OPEN ? 0 : -1;
}

int eio_send(eio_socket_t *s, int binary, const void *data, size_t len)
{
    if (s->state != S_OPEN)
        return -1;
    eio_msg_t *m = eio_msg_new(binary, data, len);
    int r = eio_send_msg(s, m);
    eio_msg_unref(m);
    return r;
}

/* ---- HTTP helpers ---- */

static int origin_allowed(const eio_server_t *srv, const http_header_t *origin)
{
    if (!srv->cfg.num_allowed_origins)
        return 1;
    if (!origin)
        return 1; /* not a browser cross-origin request */
    for (size_t i = 0; i < srv->cfg.num_allowed_origins; i++) {
        const char *o = srv->cfg.allowed_origins[i];
        if (strlen(o) == origin->value_len && memcmp(o, origin->value, origin->value_len) == 0)
            return 1;
    }
    return 0;
}

/* CORS headers for a response; origin_buf holds the echoed origin. */
static size_t cors_headers(const eio_server_t *srv, const http_request_t *req, http_kv_t *h,
                           char *origin_buf, size_t obsz)
{
    const http_header_t *origin = http_find_header(req, "Origin");
    size_t n = 0;
    if (!origin) {
        if (!srv->cfg.num_allowed_origins)
            h[n++] = (http_kv_t){"Access-Control-Allow-Origin", "*"};
        return n;
    }
    if (!origin_allowed(srv, origin))
        return 0;
    if (!srv->cfg.num_allowed_origins && !srv->cfg.cors_credentials) {
        h[n++] = (http_kv_t){"Access-Control-Allow-Origin", "*"};
        return n;
    }
    snprintf(origin_buf, obsz, "%.*s", (int)origin->value_len, origin->value);
    h[n++] = (http_kv_t){"Access-Control-Allow-Origin", origin_buf};
    h[n++] = (http_kv_t){"Vary", "Origin"};
    if (srv->cfg.cors_credentials)
        h[n++] = (http_kv_t){"Access-Control-Allow-Credentials", "true"};
    return n;
}

static void respond_text(eio_server_t *srv, http_exchange_t *ex, int status, const char *ctype,
                         const void *body, size_t len)
{
    http_kv_t h[4];
    char origin[512];
    size_t n = cors_headers(srv, http_ex_request(ex), h, origin, sizeof origin);
    http_respond(ex, status, ctype, h, n, body, len);
}

static void respond_error(eio_server_t *srv, http_exchange_t *ex, int code)
{
    static const char *const messages[] = {
        "Transport unknown", "Session ID unknown", "Bad handshake method",
        "Bad request",       "Forbidden",          "Unsupported protocol version",
    };
    char body[128];
    int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, messages[code]);
    respond_text(srv, ex, code == EIO_ERR_FORBIDDEN ? 403 : 400, "application/json", body,
                 (size_t)n);
}

/* ---- the pending list: polling answers and close notifications ---- */

static void on_wakeup(uv_idle_t *h)
{
    /* Only keeps the loop from blocking in poll while answers wait. */
}

static void schedule(eio_socket_t *s)
{
    eio_server_t *srv = s->srv;
    if (s->on_pending)
        return;
    if (!srv->pending)
        uv_idle_start(&srv->wakeup, on_wakeup);
    s->on_pending = 1;
    s->pending_next = srv->pending;
    srv->pending = s;
}

/* Answers the pending GET with everything queued (and a noop if wanted). */
static void flush_poll(eio_socket_t *s)
{
    http_exchange_t *ex = s->poll;
    if (!ex || (s->qlen == 0 && !s->noop_wanted && s->state == S_OPEN))
        return;
    buf_t out;
    buf_init(&out, SIZE_MAX);
    for (size_t i = 0; i < s->qlen; i++) {
        eio_msg_t *m = s->q[s->qhead + i];
        refbuf_t *form = msg_poll_form(m);
        if (i > 0)
            buf_append_byte(&out, 0x1e);
        buf_append(&out, form->data, form->len);
        eio_msg_unref(m);
    }
    s->qhead = s->qlen = 0;
    s->qbytes = 0;
    if (s->noop_wanted) {
        if (out.len)
            buf_append_byte(&out, 0x1e);
        buf_append_byte(&out, '6');
        s->noop_wanted = 0;
    }
    if (s->state == S_CLOSED && !s->close_quiet) {
        if (out.len)
            buf_append_byte(&out, 0x1e);
        buf_append_byte(&out, '1');
    }
    s->poll = NULL;
    respond_text(s->srv, ex, 200, "text/plain; charset=UTF-8", out.data, out.len);
    buf_free(&out);
}

static void session_free(eio_socket_t *s);

static void on_check(uv_check_t *h)
{
    eio_server_t *srv = h->data;
    while (srv->pending) {
        eio_socket_t *s = srv->pending;
        srv->pending = s->pending_next;
        s->on_pending = 0;
        if (s->state == S_OPEN) {
            if (s->flush_wanted) {
                s->flush_wanted = 0;
                flush_poll(s);
            }
            continue;
        }
        /* Closed: tell the application, then let the timers go. */
        if (srv->cfg.on_close)
            srv->cfg.on_close(s, s->close_reason, srv->cfg.ud);
        session_free(s);
    }
    uv_idle_stop(&srv->wakeup);
}

/* ---- session lifecycle ---- */

static void session_free(eio_socket_t *s)
{
    for (size_t i = 0; i < s->qlen; i++)
        eio_msg_unref(s->q[s->qhead + i]);
    free(s->q);
    deadline_disarm(&s->srv->heartbeats, &s->heartbeat);
    deadline_disarm(&s->srv->upgrades, &s->upgrade);
    free(s);
}

/* Ends the session. Transports are told to close; on_close is called from
 * the check handle, never from here. */
static void session_close(eio_socket_t *s, const char *reason)
{
    if (s->state == S_CLOSED)
        return;
    s->state = S_CLOSED;
    s->close_reason = reason;
    hmap_del(&s->srv->sessions, &s->hnode);
    deadline_disarm(&s->srv->heartbeats, &s->heartbeat);
    deadline_disarm(&s->srv->upgrades, &s->upgrade);
    if (s->poll) {
        /* The pending GET ends: with a noop when the client asked to close
         * (it knows), with a close packet when the server decided. */
        if (strcmp(reason, "transport close") == 0) {
            s->noop_wanted = 1;
            s->close_quiet = 1;
        }
        flush_poll(s);
    }
    if (s->probe) {
        ws_set_user_data(s->probe, NULL);
        ws_close(s->probe, 1001, "session closed");
        s->probe = NULL;
    }
    if (s->ws) {
        ws_set_user_data(s->ws, NULL);
        int shutting = strcmp(reason, "server shutting down") == 0;
        ws_close(s->ws, shutting ? 1001 : 1000, shutting ? "server shutting down" : "");
        s->ws = NULL;
    }
    schedule(s);
}

void eio_close(eio_socket_t *s)
{
    session_close(s, "forced close");
}

static void on_heartbeat(deadline_queue_t *q, deadline_t *d)
{
    eio_socket_t *s = (eio_socket_t *)((char *)d - offsetof(eio_socket_t, heartbeat));
    if (s->awaiting_pong) {
        session_close(s, "ping timeout");
        return;
    }
    s->awaiting_pong = 1;
    send_control(s, '2', NULL);
    if (s->state == S_OPEN)
        deadline_arm(q, &s->heartbeat, s->srv->cfg.ping_timeout_ms);
}

static void on_pong(eio_socket_t *s)
{
    if (!s->awaiting_pong)
        return;
    s->awaiting_pong = 0;
    deadline_arm(&s->srv->heartbeats, &s->heartbeat, s->srv->cfg.ping_interval_ms);
}

static void make_sid(char *out)
{
    unsigned char raw[15];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        log_error("rand_failed", "RAND_bytes failed");
        abort();
    }
    base64_encode(raw, sizeof raw, out);
    for (int i = 0; i < SID_LEN; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    out[SID_LEN] = '\0';
}

static eio_socket_t *session_new(eio_server_t *srv, eio_transport_t transport)
{
    eio_socket_t *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    s->transport = transport;
    s->state = S_OPEN;
    do
        make_sid(s->sid);
    while (session_get(srv, s->sid));
    return s;
}

static size_t open_payload(const eio_server_t *srv, const eio_socket_t *s, int upgrades,
                           char *out, size_t outsz)
{
    int n = snprintf(out, outsz,
                     "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%llu,"
                     "\"pingTimeout\":%llu,\"maxPayload\":%zu}",
                     s->sid, upgrades ? "\"websocket\"" : "",
                     (unsigned long long)srv->cfg.ping_interval_ms,
                     (unsigned long long)srv->cfg.ping_timeout_ms, srv->cfg.max_payload);
    return n > 0 ? (size_t)n : 0;
}

/* Registers an accepted session and starts its heartbeat. Returns -1 when
 * the application refused it (the session is then discarded silently). */
static int session_start(eio_socket_t *s, const http_request_t *req)
{
    eio_server_t *srv = s->srv;
    if (srv->cfg.on_open && srv->cfg.on_open(s, req, srv->cfg.ud) != 0)
        return -1;
    hmap_put(&srv->sessions, &s->hnode, s->sid, SID_LEN);
    deadline_arm(&srv->heartbeats, &s->heartbeat, srv->cfg.ping_interval_ms);
    return 0;
}

static void discard_session(eio_socket_t *s)
{
    s->state = S_CLOSED;
    session_free(s);
}

/* ---- incoming packets ---- */

/* One decoded packet from either transport. Returns -1 on a packet a
 * client may not send (the session is then closed). */
static int on_packet(eio_socket_t *s, const eio_packet_t *p, const void *bytes)
{
    eio_server_t *srv = s->srv;
    switch (p->type) {
    case EIO_CLOSE:
        session_close(s, "transport close");
        return 0;
    case EIO_PONG:
        on_pong(s);
        return 0;
    case EIO_MESSAGE:
        if (srv->cfg.on_message) {
            int binary = p->kind != EIO_DATA_TEXT;
            srv->cfg.on_message(s, binary, binary ? bytes : p->data,
                                binary ? p->binary_len : p->len, srv->cfg.ud);
        }
        return 0;
    case EIO_NOOP:
        return 0;
    default: /* open; upgrade (only on a probe); ping: in v4 only the server
                pings, and the Node server closes on a client ping */
        return -1;
    }
}

/* A polling POST body: packets separated by 0x1e; "b" prefixes base64. */
static int on_poll_payload(eio_socket_t *s, const char *body, size_t len)
{
    eio_payload_iter_t it;
    eio_packet_t p;
    eio_err_t err = EIO_END;
    if (len == 0)
        return -1; /* an empty payload is malformed */
    eio_payload_iter_init(&it, body, len);
    while (s->state == S_OPEN && (err = eio_payload_next(&it, &p)) == EIO_OK) {
        if (p.kind == EIO_DATA_BASE64) {
            char *bin = xmalloc(p.binary_len ? p.binary_len : 1);
            const unsigned char *bytes = NULL;
            int r = -1;
            if (eio_packet_binary(&p, bin, p.binary_len, &bytes) == EIO_OK)
                r = on_packet(s, &p, bytes);
            free(bin);
            if (r != 0)
                return -1;
        } else if (on_packet(s, &p, NULL) != 0) {
            return -1;
        }
    }
    return s->state != S_OPEN || err == EIO_END ? 0 : -1;
}

/* ---- WebSocket transport ---- */

static void on_upgrade_timeout(deadline_queue_t *q, deadline_t *d)
{
    eio_socket_t *s = (eio_socket_t *)((char *)d - offsetof(eio_socket_t, upgrade));
    if (s->probe) {
        ws_set_user_data(s->probe, NULL);
        ws_close(s->probe, 1001, "upgrade timeout");
        s->probe = NULL;
    }
}

static void complete_upgrade(eio_socket_t *s)
{
    ws_conn_t *ws = s->probe;
    s->probe = NULL;
    deadline_disarm(&s->srv->upgrades, &s->upgrade);
    s->transport = EIO_TRANSPORT_WEBSOCKET;
    s->ws = ws;
    /* Release a GET still waiting on the old transport. */
    if (s->poll) {
        s->noop_wanted = 1;
        flush_poll(s);
    }
    s->noop_wanted = 0;
    /* What was waiting for a poll now goes over the WebSocket, in order. */
    for (size_t i = 0; i < s->qlen; i++) {
        ws_send_msg(ws, s->q[s->qhead + i]);
        eio_msg_unref(s->q[s->qhead + i]);
    }
    s->qhead = s->qlen = 0;
    s->qbytes = 0;
}

static void on_ws_message(ws_conn_t *ws, int binary, const char *data, size_t len, void *ud)
{
    eio_socket_t *s = ud;
    if (!s || s->state != S_OPEN)
        return;
    if (ws == s->probe) {
        if (!binary && len == 6 && memcmp(data, "2probe", 6) == 0) {
            ws_send(ws, 0, "3probe", 6);
            /* Make the client's pending poll return so it can pause polling. */
            s->noop_wanted = 1;
            if (s->poll) {
                s->flush_wanted = 1;
                schedule(s);
            }
        } else if (!binary && len == 1 && data[0] == '5') {
            complete_upgrade(s);
        } else {
            ws_set_user_data(ws, NULL);
            ws_close(ws, 1002, "unexpected packet during upgrade");
            s->probe = NULL;
        }
        return;
    }
    eio_packet_t p;
    eio_err_t err = binary ? eio_packet_decode_binary(data, len, &p)
                           : eio_packet_decode_text(data, len, &p);
    if (err != EIO_OK || on_packet(s, &p, p.data) != 0)
        session_close(s, "parse error");
}

static void on_ws_close(ws_conn_t *ws, uint16_t code, void *ud)
{
    eio_socket_t *s = ud;
    if (!s)
        return;
    if (ws == s->probe) {
        s->probe = NULL;
        deadline_disarm(&s->srv->upgrades, &s->upgrade);
        return;
    }
    if (ws == s->ws) {
        s->ws = NULL;
        session_close(s, "transport close");
    }
}

static const ws_callbacks_t ws_cbs = {
    .on_message = on_ws_message,
    .on_close = on_ws_close,
};

/* ---- request handling ---- */

static int query_is(const http_request_t *req, const char *key, const char *want)
{
    const char *v;
    size_t vlen;
    if (!http_query_get(req->query, req->query_len, key, &v, &vlen))
        return 0;
    return strlen(want) == vlen && memcmp(v, want, vlen) == 0;
}

static void on_poll_abort(http_exchange_t *ex, void *ud)
{
    eio_socket_t *s = ud;
    if (s->poll != ex)
        return;
    s->poll = NULL;
    session_close(s, "transport error");
}

static void handle_preflight(eio_server_t *srv, http_exchange_t *ex)
{
    const http_request_t *req = http_ex_request(ex);
    http_kv_t h[8];
    char origin[512], allow_headers[512];
    size_t n = cors_headers(srv, req, h, origin, sizeof origin);
    h[n++] = (http_kv_t){"Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE"};
    const http_header_t *rh = http_find_header(req, "Access-Control-Request-Headers");
    if (rh) {
        snprintf(allow_headers, sizeof allow_headers, "%.*s", (int)rh->value_len, rh->value);
        h[n++] = (http_kv_t){"Access-Control-Allow-Headers", allow_headers};
        h[n++] = (http_kv_t){"Vary", "Access-Control-Request-Headers"};
    }
    http_respond(ex, 204, NULL, h, n, NULL, 0);
}

static void handle_handshake(eio_server_t *srv, http_exchange_t *ex, int websocket)
{
    const http_request_t *req = http_ex_request(ex);
    if (websocket) {
        int status = 0;
        ws_conn_t *ws = ws_accept(http_ex_conn(ex), req, &srv->ws_cfg, &ws_cbs, NULL, &status);
        if (!ws) {
            net_conn_close(http_ex_conn(ex), 1);
            return;
        }
        eio_socket_t *s = session_new(srv, EIO_TRANSPORT_WEBSOCKET);
        if (session_start(s, req) != 0) {
            ws_close(ws, 1008, "refused");
            discard_session(s);
            return;
        }
        s->ws = ws;
        ws_set_user_data(ws, s);
        char open[256];
        size_t n = open_payload(srv, s, 0, open, sizeof open);
        ws_send(ws, 0, open, n);
        return;
    }
    if (req->method != HTTP_GET) {
        respond_error(srv, ex, EIO_ERR_BAD_HANDSHAKE_METHOD);
        return;
    }
    eio_socket_t *s = session_new(srv, EIO_TRANSPORT_POLLING);
    if (session_start(s, req) != 0) {
        discard_session(s);
        respond_error(srv, ex, EIO_ERR_FORBIDDEN);
        return;
    }
    char open[256];
    size_t n = open_payload(srv, s, !srv->cfg.disable_websocket, open, sizeof open);
    respond_text(srv, ex, 200, "text/plain; charset=UTF-8", open, n);
}

/* A poll that raced an upgrade: its 400 waits a moment, so what the session
 * already sent on the WebSocket (the 3probe) reaches the client first. */
typedef struct {
    uv_timer_t timer;
    eio_server_t *srv;
    http_exchange_t *ex;
} late_refusal_t;

static void late_refusal_closed(uv_handle_t *h)
{
    free(h->data);
}

static void late_refusal_fire(uv_timer_t *t)
{
    late_refusal_t *lr = t->data;
    if (lr->ex)
        respond_error(lr->srv, lr->ex, EIO_ERR_BAD_REQUEST);
    uv_close((uv_handle_t *)&lr->timer, late_refusal_closed);
}

static void late_refusal_abort(http_exchange_t *ex, void *ud)
{
    late_refusal_t *lr = ud;
    lr->ex = NULL; /* the connection went first; the timer just frees */
}

static void refuse_late(eio_server_t *srv, http_exchange_t *ex)
{
    late_refusal_t *lr = xcalloc(1, sizeof *lr);
    lr->srv = srv;
    lr->ex = ex;
    uv_timer_init(srv->loop, &lr->timer);
    lr->timer.data = lr;
    http_defer(ex, late_refusal_abort, lr);
    uv_timer_start(&lr->timer, late_refusal_fire, 20, 0);
}

static void handle_poll(eio_server_t *srv, eio_socket_t *s, http_exchange_t *ex)
{
    const http_request_t *req = http_ex_request(ex);
    if (s->transport != EIO_TRANSPORT_POLLING) {
        refuse_late(srv, ex);
        return;
    }
    if (req->method == HTTP_GET) {
        if (s->poll) {
            /* Two GETs at once: the Node server treats it as an error. */
            respond_error(srv, ex, EIO_ERR_BAD_REQUEST);
            session_close(s, "transport error");
            return;
        }
        s->poll = ex;
        http_defer(ex, on_poll_abort, s);
        if (s->qlen || s->noop_wanted)
            flush_poll(s);
        return;
    }
    if (req->method == HTTP_POST) {
        size_t len;
        const char *body = http_ex_body(ex, &len);
        if (len > srv->cfg.max_payload) {
            respond_text(srv, ex, 413, "application/json",
                         TOO_LARGE_BODY, strlen(TOO_LARGE_BODY));
            session_close(s, "transport error");
            return;
        }
        if (on_poll_payload(s, body, len) != 0) {
            respond_error(srv, ex, EIO_ERR_BAD_REQUEST);
            session_close(s, "parse error");
            return;
        }
        respond_text(srv, ex, 200, "text/html", "ok", 2);
        return;
    }
    respond_error(srv, ex, EIO_ERR_BAD_REQUEST);
}

static void handle_upgrade(eio_server_t *srv, eio_socket_t *s, http_exchange_t *ex)
{
    int redundant = s->transport != EIO_TRANSPORT_POLLING || s->probe;
    int status = 0;
    ws_conn_t *ws = ws_accept(http_ex_conn(ex), http_ex_request(ex), &srv->ws_cfg, &ws_cbs,
                              redundant ? NULL : s, &status);
    if (!ws) {
        net_conn_close(http_ex_conn(ex), 1);
        return;
    }
    if (redundant) {
        /* Already upgraded (or upgrading): like the Node server, complete the
         * handshake and close the extra WebSocket at once. */
        ws_close(ws, 1000, "");
        return;
    }
    s->probe = ws;
    deadline_arm(&srv->upgrades, &s->upgrade, srv->cfg.upgrade_timeout_ms);
}

void eio_server_handle(eio_server_t *srv, http_exchange_t *ex)
{
    const http_request_t *req = http_ex_request(ex);
    if (req->method == HTTP_OPTIONS) {
        handle_preflight(srv, ex);
        return;
    }
    if (!query_is(req, "EIO", "4")) {
        respond_error(srv, ex, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
        return;
    }
    int polling = query_is(req, "transport", "polling") && !srv->cfg.disable_polling;
    int websocket = query_is(req, "transport", "websocket") && !srv->cfg.disable_websocket;
    if (!polling && !websocket) {
        respond_error(srv, ex, EIO_ERR_UNKNOWN_TRANSPORT);
        return;
    }
    if (!origin_allowed(srv, http_find_header(req, "Origin"))) {
        respond_error(srv, ex, EIO_ERR_FORBIDDEN);
        return;
    }
    const char *sid;
    size_t sid_len;
    if (!http_query_get(req->query, req->query_len, "sid", &sid, &sid_len)) {
        handle_handshake(srv, ex, websocket);
        return;
    }
    eio_socket_t *s = sid_len == SID_LEN ? session_get(srv, sid) : NULL;
    if (!s) {
        respond_error(srv, ex, EIO_ERR_UNKNOWN_SID);
        return;
    }
    if (websocket)
        handle_upgrade(srv, s, ex);
    else
        handle_poll(srv, s, ex);
}

/* ---- server ---- */

eio_server_t *eio_server_new(uv_loop_t *loop, const eio_config_t *cfg)
{
    eio_server_t *srv = xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    if (!srv->cfg.path)
        srv->cfg.path = "/socket.io/";
    srv->path_len = strlen(srv->cfg.path);
    if (!srv->cfg.ping_interval_ms)
        srv->cfg.ping_interval_ms = DEFAULT_PING_INTERVAL;
    if (!srv->cfg.ping_timeout_ms)
        srv->cfg.ping_timeout_ms = DEFAULT_PING_TIMEOUT;
    if (!srv->cfg.upgrade_timeout_ms)
        srv->cfg.upgrade_timeout_ms = DEFAULT_UPGRADE_TIMEOUT;
    if (!srv->cfg.max_payload)
        srv->cfg.max_payload = DEFAULT_MAX_PAYLOAD;
    deadline_queue_init(&srv->heartbeats, loop, on_heartbeat, srv);
    deadline_queue_init(&srv->upgrades, loop, on_upgrade_timeout, srv);
    srv->ws_cfg = (ws_config_t){
        .max_message = srv->cfg.max_payload,
        .max_fragments = 1024,
        .allow_deflate = srv->cfg.allow_deflate,
        .allowed_origins = srv->cfg.allowed_origins,
        .num_allowed_origins = srv->cfg.num_allowed_origins,
    };
    uv_check_init(loop, &srv->check);
    srv->check.data = srv;
    uv_check_start(&srv->check, on_check);
    uv_idle_init(loop, &srv->wakeup);
    srv->wakeup.data = srv;
    return srv;
}

int eio_server_matches(const eio_server_t *srv, const http_request_t *req)
{
    /* "/socket.io/" matches "/socket.io/" and "/socket.io" (no slash). */
    size_t n = srv->path_len;
    if (req->path_len >= n && memcmp(req->path, srv->cfg.path, n) == 0)
        return 1;
    return n > 1 && srv->cfg.path[n - 1] == '/' && req->path_len == n - 1 &&
           memcmp(req->path, srv->cfg.path, n - 1) == 0;
}

size_t eio_server_count(const eio_server_t *srv)
{
    return srv->sessions.count;
}

void eio_server_close_all(eio_server_t *srv)
{
    /* Closing unlinks a session (sessions are freed later, from the check
     * handle): take the next one first. */
    size_t cursor;
    hmap_node_t *next;
    for (hmap_node_t *n = hmap_first(&srv->sessions, &cursor); n; n = next) {
        next = hmap_next(&srv->sessions, n, &cursor);
        session_close((eio_socket_t *)((char *)n - offsetof(eio_socket_t, hnode)),
                      "server shutting down");
    }
}

static void server_handle_closed(eio_server_t *srv)
{
    if (++srv->handles_closed == 4) {
        hmap_free(&srv->sessions);
        free(srv);
    }
}

static void on_server_handle_closed(uv_handle_t *h)
{
    server_handle_closed(h->data);
}

static void on_queue_closed(uv_handle_t *h)
{
    deadline_queue_t *q = h->data;
    server_handle_closed(q->data);
}

void eio_server_free(eio_server_t *srv)
{
    eio_server_close_all(srv);
    /* Deliver the close notifications now. */
    on_check(&srv->check);
    uv_close((uv_handle_t *)&srv->check, on_server_handle_closed);
    uv_close((uv_handle_t *)&srv->wakeup, on_server_handle_closed);
    deadline_queue_close(&srv->heartbeats, on_queue_closed);
    deadline_queue_close(&srv->upgrades, on_queue_closed);
}

const char *eio_sid(const eio_socket_t *s)
{
    return s->sid;
}

eio_transport_t eio_transport(const eio_socket_t *s)
{
    return s->transport;
}

void eio_set_user_data(eio_socket_t *s, void *ud)
{
    s->ud = ud;
}

void *eio_user_data(const eio_socket_t *s)
{
    return s->ud;
}

size_t eio_queued(const eio_socket_t *s)
{
    if (s->transport == EIO_TRANSPORT_WEBSOCKET && s->ws)
        return net_conn_queued(ws_net_conn(s->ws));
    return s->qbytes;
}
