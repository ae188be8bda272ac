/* conn.c — a WebSocket connection as a net handler: reading through the
 * message reader, pings and pongs, the closing handshake, idle and close
 * timers, and sending. See ws.h for the behaviour; reader.h for framing. */
#include "ws/ws.h"
#include "core/alloc.h"
#include "core/log.h"
#include "ws/reader.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_CLOSE_TIMEOUT_MS 5000
#define DEFAULT_DEFLATE_MIN 64
#define SMALL_FRAME 512 /* header and payload up to this go out in one write */

typedef enum {
    WS_S_OPEN,       /* messages flow both ways */
    WS_S_CLOSE_SENT, /* our close is out; waiting for the peer's */
    WS_S_DONE,       /* TCP is being closed */
} ws_state_t;

struct ws_conn {
    net_conn_t *c;
    const ws_callbacks_t *cb;
    void *ud;
    ws_reader_t rd;
    uint64_t last_rx; /* loop time of the last byte from the peer */
    uint32_t idle_ms;
    uint32_t close_timeout_ms;
    uint32_t deflate_min;
    uint16_t peer_code; /* valid when got_close */
    uint16_t sent_code; /* valid when sent_close */
    uint8_t state;
    uint8_t pinged; /* an idle ping is out since last_rx */
    uint8_t got_close;
    uint8_t sent_close;
    uint8_t deflate;      /* permessage-deflate negotiated */
    uint8_t deflate_bits; /* our window for compressing; 0 = never compress */
};

static const net_conn_handler_t ws_handler;

static uint64_t now_ms(const ws_conn_t *ws)
{
    return uv_now(net_server_loop(net_conn_server(ws->c)));
}

/* Milliseconds from the configuration, kept in 32 bits (49 days). */
static uint32_t ms32(uint64_t ms)
{
    return ms < UINT32_MAX ? (uint32_t)ms : UINT32_MAX;
}

/* ---- writing ---- */

static int map_net_err(net_err_t e)
{
    switch (e) {
    case NET_OK:
        return WS_OK;
    case NET_E_OUTPUT_CAP:
        return WS_E_OUTPUT_CAP;
    default:
        return WS_E_CLOSING;
    }
}

static int write_frame(ws_conn_t *ws, unsigned opcode, unsigned flags, const void *data, size_t len)
{
    uint8_t small[WS_MAX_SERVER_HEADER + SMALL_FRAME];
    size_t hl = ws_frame_header_encode(small, opcode, flags, len);
    net_err_t e;
    if (len <= SMALL_FRAME) {
        if (len)
            memcpy(small + hl, data, len);
        e = net_conn_write(ws->c, small, hl + len);
    } else {
        e = net_conn_write(ws->c, small, hl);
        if (e == NET_OK)
            e = net_conn_write(ws->c, data, len);
    }
    if (e != NET_OK)
        ws->state = WS_S_DONE; /* net is closing the connection */
    return map_net_err(e);
}

static void send_close(ws_conn_t *ws, unsigned code, const char *reason)
{
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_close_payload_build(payload, code, reason);
    ws->sent_close = 1;
    ws->sent_code = (uint16_t)(n ? code : WS_CLOSE_NO_STATUS);
    write_frame(ws, WS_OP_CLOSE, WS_FIN, payload, n);
}

/* Closes TCP after what is queued (our close frame) is written. */
static void finish(ws_conn_t *ws)
{
    ws->state = WS_S_DONE;
    net_conn_close(ws->c, 1);
}

/* _Fail the WebSocket Connection_ (RFC 6455 §7.1.7). */
static void fail(ws_conn_t *ws, unsigned code)
{
    if (ws->state == WS_S_DONE)
        return;
    if (ws->state == WS_S_OPEN) {
        const char *why = code == WS_CLOSE_INVALID_DATA ? "invalid payload data"
                          : code == WS_CLOSE_TOO_BIG    ? "message too big"
                                                        : "protocol error";
        log_debug("ws_fail", "conn %llu: closing with %u (%s)",
                  (unsigned long long)net_conn_id(ws->c), code, why);
        send_close(ws, code, why);
    }
    finish(ws);
}

/* Starts the closing handshake. */
static void start_close(ws_conn_t *ws, unsigned code, const char *reason)
{
    if (ws->state != WS_S_OPEN || net_conn_is_closing(ws->c))
        return;
    ws->state = WS_S_CLOSE_SENT;
    send_close(ws, code, reason);
    if (ws->state == WS_S_CLOSE_SENT)
        net_conn_set_timeout(ws->c, ws->close_timeout_ms);
}

/* ---- reading ---- */

static int rd_on_message(void *ud, int binary, const char *data, size_t len)
{
    ws_conn_t *ws = ud;
    /* After our close, data is read only to find the peer's close. */
    if (ws->state == WS_S_OPEN && ws->cb->on_message)
        ws->cb->on_message(ws, binary, data, len, ws->ud);
    return ws->state == WS_S_DONE || net_conn_is_closing(ws->c);
}

static void on_peer_close(ws_conn_t *ws, const uint8_t *p, size_t len)
{
    uint16_t code;
    const char *reason;
    size_t rlen;
    ws_close_payload_parse(p, len, &code, &reason, &rlen); /* the reader checked it */
    ws->got_close = 1;
    ws->peer_code = code;
    if (ws->state == WS_S_OPEN)
        send_close(ws, code, NULL); /* echo; an empty close gets an empty one */
    finish(ws);
}

static int rd_on_control(void *ud, unsigned opcode, const uint8_t *p, size_t len)
{
    ws_conn_t *ws = ud;
    switch (opcode) {
    case WS_OP_PING:
        if (ws->state == WS_S_OPEN)
            write_frame(ws, WS_OP_PONG, WS_FIN, p, len);
        break;
    case WS_OP_CLOSE:
        on_peer_close(ws, p, len);
        return 1;
    default: /* a pong: its bytes already counted as life */
        break;
    }
    return ws->state == WS_S_DONE || net_conn_is_closing(ws->c);
}

static const ws_reader_cb_t reader_cb = {rd_on_message, rd_on_control};

static size_t ws_on_data(net_conn_t *c, const char *data, size_t len)
{
    ws_conn_t *ws = net_conn_data(c);
    ws->last_rx = now_ms(ws);
    ws->pinged = 0;
    if (ws->state == WS_S_DONE)
        return len;
    ptrdiff_t r = ws_reader_feed(&ws->rd, (const uint8_t *)data, len);
    if (r < 0) {
        fail(ws, (unsigned)-r);
        return len;
    }
    return (size_t)r;
}

/* ---- timers ---- */

static void arm_idle(ws_conn_t *ws)
{
    if (!ws->idle_ms)
        return;
    uint64_t now = now_ms(ws);
    uint64_t due = ws->last_rx + (ws->pinged ? ws->idle_ms : ws->idle_ms / 2);
    net_conn_set_timeout(ws->c, due > now ? due - now : 1);
}

static void ws_on_timeout(net_conn_t *c)
{
    ws_conn_t *ws = net_conn_data(c);
    if (ws->state == WS_S_CLOSE_SENT) {
        /* The peer never answered our close. */
        finish(ws);
        return;
    }
    if (ws->state != WS_S_OPEN || !ws->idle_ms)
        return;
    uint64_t silent = now_ms(ws) - ws->last_rx;
    if (silent >= ws->idle_ms) {
        start_close(ws, WS_CLOSE_GOING_AWAY, "idle timeout");
        return;
    }
    if (!ws->pinged && silent >= ws->idle_ms / 2) {
        ws->pinged = 1;
        write_frame(ws, WS_OP_PING, WS_FIN, NULL, 0);
        if (ws->state != WS_S_OPEN)
            return;
    }
    arm_idle(ws);
}

static void ws_on_shutdown(net_conn_t *c)
{
    ws_conn_t *ws = net_conn_data(c);
    if (ws->state == WS_S_OPEN)
        start_close(ws, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static void ws_on_close(net_conn_t *c, net_close_reason_t reason)
{
    ws_conn_t *ws = net_conn_data(c);
    (void)reason;
    uint16_t code = ws->got_close    ? ws->peer_code
                    : ws->sent_close ? ws->sent_code
                                     : WS_CLOSE_ABNORMAL;
    ws->state = WS_S_DONE;
    if (ws->cb->on_close)
        ws->cb->on_close(ws, code, ws->ud);
    ws_reader_free(&ws->rd);
    free(ws);
}

static const net_conn_handler_t ws_handler = {
    .on_data = ws_on_data,
    .on_close = ws_on_close,
    .on_timeout = ws_on_timeout,
    .on_shutdown = ws_on_shutdown,
};

/* ---- public ---- */

ws_conn_t *ws_accept(net_conn_t *c, const http_request_t *req, const ws_config_t *cfg,
                     const ws_callbacks_t *cb, void *ud, int *status)
{
    static const ws_config_t defaults = {0};
    if (!cfg)
        cfg = &defaults;
    ws_handshake_t hs;
    char resp[1024];
    int st = ws_handshake_check(req, cfg, &hs);
    size_t n = ws_handshake_response(&hs, resp, sizeof resp);
    if (status)
        *status = st;
    if (st != 101) {
        char peer[64];
        net_conn_peer(c, peer, sizeof peer);
        log_info("ws_refused", "conn %llu (%s): %d %s", (unsigned long long)net_conn_id(c), peer,
                 st, hs.error);
        net_conn_write(c, resp, n);
        return NULL;
    }

    static const ws_callbacks_t no_callbacks = {0};
    ws_conn_t *ws = xcalloc(1, sizeof *ws);
    ws->c = c;
    ws->cb = cb ? cb : &no_callbacks;
    ws->ud = ud;
    ws->idle_ms = ms32(cfg->idle_timeout_ms);
    ws->close_timeout_ms =
        ms32(cfg->close_timeout_ms ? cfg->close_timeout_ms : DEFAULT_CLOSE_TIMEOUT_MS);
    size_t dmin = cfg->deflate_min_size ? cfg->deflate_min_size : DEFAULT_DEFLATE_MIN;
    ws->deflate_min = dmin < UINT32_MAX ? (uint32_t)dmin : UINT32_MAX;
    ws->deflate = hs.deflate.enabled;
    /* zlib cannot make a raw deflate stream with a 256-byte window: a client
     * that asks for 8 bits gets uncompressed messages, which is always allowed. */
    ws->deflate_bits = hs.deflate.enabled && hs.deflate.server_window_bits >= 9
                           ? hs.deflate.server_window_bits
                           : 0;
    ws->state = WS_S_OPEN;
    ws->last_rx = now_ms(ws);

    ws_reader_limits_t lim = {
        .max_message = cfg->max_message,
        .max_fragments = cfg->max_fragments,
        .require_mask = 1,
        .deflate = hs.deflate.enabled,
        .client_takeover = hs.deflate.client_takeover,
    };
    ws_reader_init(&ws->rd, &lim, &reader_cb, ws);

    net_conn_write(c, resp, n);
    net_conn_set_handler(c, &ws_handler, ws);
    if (ws->idle_ms)
        arm_idle(ws);
    else
        net_conn_set_timeout(c, 0);
    return ws;
}

int ws_send(ws_conn_t *ws, int binary, const void *data, size_t len)
{
    if (ws->state != WS_S_OPEN || net_conn_is_closing(ws->c))
        return WS_E_CLOSING;
    unsigned op = binary ? WS_OP_BINARY : WS_OP_TEXT;
    if (ws->deflate_bits && len >= ws->deflate_min) {
        buf_t z;
        buf_init(&z, len + 3); /* worth it only when smaller (+4: the tail, stripped) */
        int r;
        if (ws_deflate_message(ws->deflate_bits, data, len, &z) == 0)
            r = write_frame(ws, op, WS_FIN | WS_RSV1, z.data, z.len);
        else
            r = write_frame(ws, op, WS_FIN, data, len);
        buf_free(&z);
        return r;
    }
    return write_frame(ws, op, WS_FIN, data, len);
}

refbuf_t *ws_frame_build(int binary, const void *data, size_t len)
{
    uint8_t hdr[WS_MAX_SERVER_HEADER];
    size_t hl = ws_frame_header_encode(hdr, binary ? WS_OP_BINARY : WS_OP_TEXT, WS_FIN, len);
    refbuf_t *rb = refbuf_new(hl + len);
    memcpy(rb->data, hdr, hl);
    if (len)
        memcpy(rb->data + hl, data, len);
    return rb;
}

int ws_send_frame_ref(ws_conn_t *ws, refbuf_t *frame)
{
    if (ws->state != WS_S_OPEN || net_conn_is_closing(ws->c))
        return WS_E_CLOSING;
    net_err_t e = net_conn_write_ref(ws->c, frame, 0, frame->len);
    if (e != NET_OK)
        ws->state = WS_S_DONE;
    return map_net_err(e);
}

void ws_close(ws_conn_t *ws, uint16_t code, const char *reason)
{
    start_close(ws, code, reason);
}

void ws_set_user_data(ws_conn_t *ws, void *ud)
{
    ws->ud = ud;
}

void *ws_user_data(const ws_conn_t *ws)
{
    return ws->ud;
}

net_conn_t *ws_net_conn(const ws_conn_t *ws)
{
    return ws->c;
}

int ws_deflate_enabled(const ws_conn_t *ws)
{
    return ws->deflate;
}
