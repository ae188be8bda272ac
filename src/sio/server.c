/* server.c — the Socket.IO server over Engine.IO: sessions ("clients" in
 * Node's words), binary reassembly, the connect timeout, and the one place
 * where incoming packets are dispatched by type.
 *
 * What it is: the eio callbacks (open, message, close), the packet switch,
 * and the only place that turns protocol violations into a closed session
 * ("parse error"). A violation closes the offending session only.
 *
 * What it is not: no namespaces' logic (namespace.c), no socket state
 * (socket.c), no encoding of outgoing events (broadcast.c).
 */
#include "sio/internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 45000
#define DEFAULT_MAX_DISCONNECTION_MS 120000
#define DEFAULT_RECOVERY_MAX_PACKETS 10000
#define DEFAULT_RECOVERY_MAX_BYTES ((size_t)16 << 20)

/* ---- ids ----------------------------------------------------------------- */

void sio__random_id(char out[SIO__ID_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[SIO__ID_LEN];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Ids guard sessions (the pid lets a client take one over): without
         * a CSPRNG we must not hand out guessable ones. */
        log_error("rand_failed", "RAND_bytes failed; cannot make a socket id");
        abort();
    }
    for (size_t i = 0; i < SIO__ID_LEN; i++)
        out[i] = alphabet[raw[i] & 63];
    out[SIO__ID_LEN] = '\0';
}

const char *sio_result_str(int result)
{
    switch (result) {
    case SIO_E_INVALID:
        return "invalid argument";
    case SIO_E_CLOSED:
        return "socket disconnected";
    case SIO_E_TIMEOUT:
        return "operation has timed out";
    case SIO_E_ANSWERED:
        return "ack already answered";
    case SIO_E_TOO_BIG:
        return "packet too big";
    default:
        return sio_strerror((sio_err_t)result);
    }
}

/* ---- clients ------------------------------------------------------------- */

void sio__client_send_msg(sio__client_t *c, eio_msg_t *m)
{
    if (!c->closing)
        eio_send_msg(c->eio, m);
}

void sio__client_add_socket(sio__client_t *c, sio_socket_t *s)
{
    if (c->nsocks == c->capsocks) {
        if (!c->capsocks) {
            c->socks = &c->sock1;
            c->capsocks = 1;
        } else {
            sio_socket_t **a = xmalloc(c->capsocks * 2 * sizeof *a);
            memcpy(a, c->socks, c->nsocks * sizeof *a);
            if (c->socks != &c->sock1)
                free(c->socks);
            c->socks = a;
            c->capsocks *= 2;
        }
    }
    c->socks[c->nsocks++] = s;
}

void sio__client_remove_socket(sio__client_t *c, sio_socket_t *s)
{
    for (uint32_t i = 0; i < c->nsocks; i++) {
        if (c->socks[i] == s) {
            /* Keep the order: sessions usually hold one or two sockets and
             * closing all of them walks this array. */
            memmove(&c->socks[i], &c->socks[i + 1], (c->nsocks - i - 1) * sizeof *c->socks);
            c->nsocks--;
            return;
        }
    }
}

static sio_socket_t *client_socket(const sio__client_t *c, const char *nsp, size_t len)
{
    for (uint32_t i = 0; i < c->nsocks; i++) {
        const sio_nsp_t *n = c->socks[i]->nsp;
        if (n->name_len == len && memcmp(n->name, nsp, len) == 0)
            return c->socks[i];
    }
    return NULL;
}

static void drop_partial(sio__client_t *c)
{
    sio__partial_t *pa = c->partial;
    if (!pa)
        return;
    for (size_t i = 0; i < pa->nbins; i++)
        refbuf_unref(pa->bins[i]);
    sio_packet_free(&pa->packet);
    free(pa);
    c->partial = NULL;
}

void sio__client_protocol_error(sio__client_t *c, const char *what, const char *detail)
{
    if (c->closing)
        return;
    log_info("sio_protocol_error", "session %s: %s%s%s; closing", eio_sid(c->eio), what,
             detail ? ": " : "", detail ? detail : "");
    c->close_reason = "parse error";
    c->closing = 1;
    drop_partial(c);
    eio_close(c->eio);
}

static void on_connect_timeout(sio__deadline_t *d)
{
    sio__client_t *c = SIO__CONTAINER(d, sio__client_t, connect_deadline);
    if (c->closing || c->ever_connected)
        return;
    log_debug("sio_connect_timeout", "session %s joined no namespace in time; closing",
              eio_sid(c->eio));
    c->closing = 1;
    eio_close(c->eio);
}

static int on_open(eio_socket_t *e, const http_request_t *req, void *ud)
{
    sio_server_t *srv = ud;
    if (srv->freeing)
        return 1;
    if (srv->cfg.on_open && srv->cfg.on_open(e, req, srv->cfg.ud) != 0)
        return 1;
    sio__client_t *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->eio = e;
    c->next = srv->clients;
    if (srv->clients)
        srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    c->connect_deadline.fire = on_connect_timeout;
    sio__deadline_arm(&srv->timers, &c->connect_deadline, srv->cfg.connect_timeout_ms);
    eio_set_user_data(e, c);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

static void refuse_namespace(sio__client_t *c, const sio_packet_t *p)
{
    json_t *err = json_pack("{s:s}", "message", "Invalid namespace");
    sio__send_simple(c, SIO_CONNECT_ERROR, p->nsp, p->nsp_len, err);
    json_decref(err);
}

/* The one switch from packet type to handler. Packets for a namespace the
 * session has not joined, a second CONNECT to a joined one, and a
 * CONNECT_ERROR from a client are state violations that close the session,
 * as Node's client does. */
static void dispatch(sio__client_t *c, sio_packet_t *p)
{
    sio_socket_t *s = client_socket(c, p->nsp, p->nsp_len);
    switch (p->type) {
    case SIO_CONNECT: {
        if (s) {
            sio__client_protocol_error(c, "CONNECT to a namespace already joined", NULL);
            return;
        }
        sio_nsp_t *nsp = sio__server_find_nsp(c->srv, p->nsp, p->nsp_len);
        if (!nsp) {
            refuse_namespace(c, p);
            return;
        }
        sio__nsp_connect(c, nsp, p->data);
        return;
    }
    case SIO_DISCONNECT:
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
    case SIO_ACK:
    case SIO_BINARY_ACK:
        if (!s || s->state != SIO__SOCK_CONNECTED) {
            sio__client_protocol_error(c, sio_type_name(p->type),
                                       "namespace not joined by this session");
            return;
        }
        if (p->type == SIO_DISCONNECT)
            sio__socket_close(s, "client namespace disconnect", 0);
        else if (p->type == SIO_EVENT || p->type == SIO_BINARY_EVENT)
            sio__socket_on_event(s, p);
        else
            sio__socket_on_ack(s, p);
        return;
    case SIO_CONNECT_ERROR:
        sio__client_protocol_error(c, "CONNECT_ERROR from a client", NULL);
        return;
    }
}

static void on_text(sio__client_t *c, const char *data, size_t len)
{
    sio_packet_t p;
    sio_decode_error_t detail;
    sio_err_t err = sio_packet_decode(data, len, &p, &detail);
    if (err != SIO_OK) {
        sio__client_protocol_error(c, "malformed packet", detail.text);
        return;
    }
    if (p.attachments == 0) {
        dispatch(c, &p);
        sio_packet_free(&p);
        return;
    }
    /* The namespace points into this message, gone after the callback. */
    sio__partial_t *pa = xmalloc(sizeof *pa + (p.nsp_len ? p.nsp_len : 1));
    if (p.nsp_len)
        memcpy(pa->nsp, p.nsp, p.nsp_len);
    p.nsp = pa->nsp;
    pa->packet = p;
    pa->nbins = 0;
    c->partial = pa;
}

static void on_binary(sio__client_t *c, const char *data, size_t len)
{
    sio__partial_t *pa = c->partial;
    if (!pa) {
        sio__client_protocol_error(c, "binary message with no packet awaiting it", NULL);
        return;
    }
    pa->bins[pa->nbins++] = refbuf_copy(data, len);
    if (pa->nbins < pa->packet.attachments)
        return;
    sio_err_t err = sio_packet_attach(&pa->packet, pa->bins, pa->nbins);
    if (err != SIO_OK) {
        sio__client_protocol_error(c, sio_strerror(err), NULL);
        return;
    }
    for (size_t i = 0; i < pa->nbins; i++)
        refbuf_unref(pa->bins[i]);
    c->partial = NULL;
    dispatch(c, &pa->packet);
    sio_packet_free(&pa->packet);
    free(pa);
}

static void on_message(eio_socket_t *e, int binary, const char *data, size_t len, void *ud)
{
    sio__client_t *c = eio_user_data(e);
    if (!c || c->closing)
        return;
    if (c->partial && !binary) {
        sio__client_protocol_error(c, "text packet while binary attachments were awaited", NULL);
        return;
    }
    if (binary)
        on_binary(c, data, len);
    else
        on_text(c, data, len);
}

static void server_finish(sio_server_t *srv);

static void on_close(eio_socket_t *e, const char *reason, void *ud)
{
    sio_server_t *srv = ud;
    sio__client_t *c = eio_user_data(e);
    if (!c)
        return;
    eio_set_user_data(e, NULL);
    const char *why = c->close_reason ? c->close_reason : reason;
    c->closing = 1;
    sio__deadline_disarm(&srv->timers, &c->connect_deadline);
    drop_partial(c);
    /* Close from the last so removal does not shift what is left. */
    while (c->nsocks) {
        sio_socket_t *s = c->socks[c->nsocks - 1];
        if (s->state == SIO__SOCK_CONNECTED)
            sio__socket_close(s, why, 0);
        else
            sio__socket_discard(s);
    }
    if (c->socks != &c->sock1)
        free(c->socks);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nclients--;
    free(c);
    if (srv->freeing && srv->nclients == 0)
        server_finish(srv);
}

/* ---- server -------------------------------------------------------------- */

sio_nsp_t *sio__server_find_nsp(const sio_server_t *srv, const char *name, size_t len)
{
    if (len == 0) {
        name = "/";
        len = 1;
    }
    for (sio_nsp_t *n = srv->nsps; n; n = n->next)
        if (n->name_len == len && memcmp(n->name, name, len) == 0)
            return n;
    return NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    sio_server_t *srv = SIO__CONTAINER(h, sio_server_t, timers.timer);
    free(srv);
}

sio_server_t *sio_server_new(uv_loop_t *loop, const sio_config_t *cfg)
{
    sio_server_t *srv = xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    if (!srv->cfg.connect_timeout_ms)
        srv->cfg.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (!srv->cfg.max_disconnection_ms)
        srv->cfg.max_disconnection_ms = DEFAULT_MAX_DISCONNECTION_MS;
    if (!srv->cfg.recovery_max_packets)
        srv->cfg.recovery_max_packets = DEFAULT_RECOVERY_MAX_PACKETS;
    if (!srv->cfg.recovery_max_bytes)
        srv->cfg.recovery_max_bytes = DEFAULT_RECOVERY_MAX_BYTES;
    buf_init(&srv->enc, SIO_MAX_PACKET);
    srv->empty = json_object();
    sio__timers_init(&srv->timers, loop);

    eio_config_t ecfg = cfg->eio;
    ecfg.on_open = on_open;
    ecfg.on_message = on_message;
    ecfg.on_close = on_close;
    ecfg.ud = srv;
    srv->eio = eio_server_new(loop, &ecfg);
    if (!srv->eio) {
        buf_free(&srv->enc);
        json_decref(srv->empty);
        sio__timers_close(&srv->timers, on_timer_closed);
        return NULL;
    }
    sio_of(srv, "/");
    return srv;
}

eio_server_t *sio_server_eio(sio_server_t *srv)
{
    return srv->eio;
}

void sio_server_close_all(sio_server_t *srv)
{
    eio_server_close_all(srv->eio);
}

static void server_finish(sio_server_t *srv)
{
    if (srv->finished)
        return;
    srv->finished = 1;
    sio_nsp_t *n = srv->nsps;
    while (n) {
        sio_nsp_t *next = n->next;
        sio__nsp_free(n);
        n = next;
    }
    srv->nsps = NULL;
    buf_free(&srv->enc);
    json_decref(srv->empty);
    srv->empty = NULL;
    sio__timers_close(&srv->timers, on_timer_closed);
}

void sio_server_free(sio_server_t *srv)
{
    if (!srv || srv->freeing)
        return;
    srv->freeing = 1;
    eio_server_free(srv->eio);
    srv->eio = NULL;
    if (srv->nclients == 0)
        server_finish(srv);
}
