/* broadcast.c — everything the server sends: events to one socket or to
 * rooms, acks, and the small control packets (CONNECT answers,
 * CONNECT_ERROR, DISCONNECT).
 *
 * What it is: encode once, write many. An event is serialised once into one
 * text eio message plus one binary eio message per attachment; every
 * receiver gets references to those same messages, and the recovery buffer
 * keeps references to them too. With recovery on, the event's offset (the
 * same for every receiver, as in Node) is part of that one encoding.
 *
 * What it is not: no receiver bookkeeping (room.c selects them).
 */
#include "sio/internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names the client keeps for itself; an emit of one would be misread. */
static int reserved_event(const char *event)
{
    static const char *const names[] = {"connect",       "connect_error", "disconnect",
                                        "disconnecting", "newListener",   "removeListener"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(event, names[i]) == 0)
            return 1;
    return 0;
}

/* Every placeholder must name one of the nbins buffers. */
static int placeholders_ok(const json_t *v, size_t nbins)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!placeholders_ok(json_array_get(v, i), nbins))
                return 0;
        return 1;
    }
    if (!json_is_object(v))
        return 1;
    if (json_is_true(json_object_get(v, "_placeholder"))) {
        json_t *num = json_object_get(v, "num");
        return json_is_integer(num) && json_integer_value(num) >= 0 &&
               (size_t)json_integer_value(num) < nbins;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        if (!placeholders_ok(val, nbins))
            return 0;
    }
    return 1;
}

int sio_arg_bin(const json_t *v, const sio_bin_t *bins, size_t nbins, sio_bin_t *out)
{
    if (!json_is_object(v) || !json_is_true(json_object_get(v, "_placeholder")))
        return 0;
    json_t *num = json_object_get(v, "num");
    if (!json_is_integer(num) || json_integer_value(num) < 0 ||
        (size_t)json_integer_value(num) >= nbins)
        return 0;
    *out = bins[json_integer_value(num)];
    return 1;
}

/* One encoded packet: the text message and its attachments. */
typedef struct {
    eio_msg_t *msgs[1 + SIO_MAX_ATTACHMENTS];
    size_t nmsgs;
    size_t bytes;
} encoded_t;

static void encoded_release(encoded_t *e)
{
    for (size_t i = 0; i < e->nmsgs; i++)
        eio_msg_unref(e->msgs[i]);
    e->nmsgs = 0;
}

static int check_args(const char *event, json_t *args, const sio_bin_t *bins, size_t nbins)
{
    if (event && (!event[0] || reserved_event(event)))
        return SIO_E_INVALID;
    if (args && !json_is_array(args))
        return SIO_E_INVALID;
    if (nbins > SIO_MAX_ATTACHMENTS || (nbins && !bins))
        return SIO_E_INVALID;
    if (nbins && args && !placeholders_ok(args, nbins))
        return SIO_E_INVALID;
    return SIO_OK;
}

/* Encodes [event?, ...args, offset?] as an EVENT or ACK of nsp. offset 0:
 * none. */
static int encode(sio_nsp_t *nsp, sio_type_t type, int has_id, uint64_t id, const char *event,
                  json_t *args, const sio_bin_t *bins, size_t nbins, uint64_t offset,
                  encoded_t *out)
{
    sio_server_t *srv = nsp->srv;
    json_t *payload = json_array();
    if (event) {
        json_t *name = json_string(event);
        if (!name) { /* not UTF-8 */
            json_decref(payload);
            return SIO_E_INVALID;
        }
        json_array_append_new(payload, name);
    }
    if (args)
        json_array_extend(payload, args);
    if (offset) {
        char num[24];
        snprintf(num, sizeof num, "%llu", (unsigned long long)offset);
        json_array_append_new(payload, json_string(num));
    }
    sio_packet_t p = {
        .type = type,
        .nsp = nsp->name,
        .nsp_len = nsp->name_len,
        .has_id = has_id,
        .id = id,
        .attachments = (unsigned)nbins,
        .data = payload,
    };
    buf_reset(&srv->enc);
    sio_err_t err = sio_packet_encode(&srv->enc, &p);
    json_decref(payload);
    if (err != SIO_OK) {
        log_warn("sio_encode_failed", "cannot encode %s on %s: %s", sio_type_name(type), nsp->name,
                 sio_strerror(err));
        return err == SIO_ERR_TOO_BIG ? SIO_E_TOO_BIG : SIO_E_INVALID;
    }
    out->msgs[0] = eio_msg_new(0, srv->enc.data, srv->enc.len);
    out->bytes = srv->enc.len;
    for (size_t i = 0; i < nbins; i++) {
        out->msgs[1 + i] = eio_msg_new(1, bins[i].data, bins[i].len);
        out->bytes += bins[i].len;
    }
    out->nmsgs = 1 + nbins;
    /* The scratch buffer can grow to a whole big packet; do not sit on it. */
    if (srv->enc.cap > 65536)
        buf_free(&srv->enc);
    return SIO_OK;
}

/* encode() for arguments that are JSON text already (sio_broadcast_json,
 * sio_ack_send_json): no tree, no dump, one copy into the message. */
static int encode_json(sio_nsp_t *nsp, sio_type_t type, int has_id, uint64_t id,
                       const char *event, const char *args_json, size_t args_len,
                       uint64_t offset, encoded_t *out)
{
    sio_server_t *srv = nsp->srv;
    char num[24];
    char *p = num + sizeof num;
    *--p = '\0';
    for (uint64_t v = offset; v; v /= 10)
        *--p = (char)('0' + v % 10);
    buf_reset(&srv->enc);
    sio_err_t err = sio_packet_encode_json(&srv->enc, type, nsp->name, nsp->name_len, has_id, id,
                                           event, args_json, args_len, offset ? p : NULL);
    if (err != SIO_OK) {
        log_warn("sio_encode_failed", "cannot encode %s on %s: %s", sio_type_name(type), nsp->name,
                 sio_strerror(err));
        return err == SIO_ERR_TOO_BIG ? SIO_E_TOO_BIG : SIO_E_INVALID;
    }
    out->msgs[0] = eio_msg_new(0, srv->enc.data, srv->enc.len);
    out->bytes = srv->enc.len;
    out->nmsgs = 1;
    if (srv->enc.cap > 65536)
        buf_free(&srv->enc);
    return SIO_OK;
}

static int send_encoded(sio_socket_t *s, const encoded_t *e)
{
    sio__client_t *c = s->client;
    if (!c || c->closing)
        return SIO_E_CLOSED;
    for (size_t i = 0; i < e->nmsgs; i++)
        if (eio_send_msg(c->eio, e->msgs[i]) != 0)
            return SIO_E_CLOSED;
    return SIO_OK;
}

int sio__send_simple(sio__client_t *c, sio_type_t type, const char *nsp, size_t nsp_len,
                     json_t *data)
{
    if (c->closing)
        return SIO_E_CLOSED;
    sio_server_t *srv = c->srv;
    sio_packet_t p = {.type = type, .nsp = nsp, .nsp_len = nsp_len, .data = data};
    buf_reset(&srv->enc);
    sio_err_t err = sio_packet_encode(&srv->enc, &p);
    if (err != SIO_OK) {
        log_warn("sio_encode_failed", "cannot encode %s: %s", sio_type_name(type),
                 sio_strerror(err));
        return SIO_E_INVALID;
    }
    int r = eio_send(c->eio, 0, srv->enc.data, srv->enc.len) == 0 ? SIO_OK : SIO_E_CLOSED;
    if (srv->enc.cap > 65536)
        buf_free(&srv->enc);
    return r;
}

int sio_emit(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins, size_t nbins)
{
    if (!event)
        return SIO_E_INVALID;
    int r = check_args(event, args, bins, nbins);
    if (r != SIO_OK)
        return r;
    if (s->state != SIO__SOCK_CONNECTED)
        return SIO_E_CLOSED;
    sio_nsp_t *nsp = s->nsp;
    int recovery = nsp->srv->cfg.recovery;
    encoded_t e = {0};
    r = encode(nsp, SIO_EVENT, 0, 0, event, args, bins, nbins,
               recovery ? sio__rec_peek_offset(nsp) : 0, &e);
    if (r != SIO_OK)
        return r;
    if (recovery) {
        /* Stored under the socket's own room, so a recovered session gets it
         * even if the transport was already gone when it was sent. */
        const char *room[] = {s->id};
        sio_target_t t = {.rooms = room, .num_rooms = 1};
        sio__rec_store(nsp, &t, e.msgs, e.nmsgs, e.bytes);
        send_encoded(s, &e);
        r = SIO_OK;
    } else {
        r = send_encoded(s, &e);
    }
    encoded_release(&e);
    return r;
}

int sio_emit_ack(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                 size_t nbins, uint64_t timeout_ms, sio_ack_fn cb, void *ud)
{
    if (!event || !cb)
        return SIO_E_INVALID;
    int r = check_args(event, args, bins, nbins);
    if (r != SIO_OK)
        return r;
    if (s->state != SIO__SOCK_CONNECTED || !s->client || s->client->closing)
        return SIO_E_CLOSED;
    encoded_t e = {0};
    uint64_t id = s->next_ack_id;
    r = encode(s->nsp, SIO_EVENT, 1, id, event, args, bins, nbins, 0, &e);
    if (r != SIO_OK)
        return r;
    r = send_encoded(s, &e);
    encoded_release(&e);
    if (r != SIO_OK)
        return r;
    sio__socket_await(s, timeout_ms, cb, ud);
    return SIO_OK;
}

/* Stores e for recovery (when on) and queues it on every socket the last
 * sio__rooms_select picked; releases e. */
static void fan_out(sio_nsp_t *nsp, const sio_target_t *t, encoded_t *e)
{
    if (nsp->srv->cfg.recovery)
        sio__rec_store(nsp, t, e->msgs, e->nmsgs, e->bytes);
    /* The scratch vector belongs to the namespace, and sends do not call
     * back into the application, so it stays valid through the loop. */
    for (size_t i = 0; i < nsp->scratch.n; i++)
        send_encoded(nsp->scratch.v[i], e);
    encoded_release(e);
}

int sio_broadcast(sio_nsp_t *nsp, const sio_target_t *t, const char *event, json_t *args,
                  const sio_bin_t *bins, size_t nbins)
{
    if (!event)
        return SIO_E_INVALID;
    int r = check_args(event, args, bins, nbins);
    if (r != SIO_OK)
        return r;
    int recovery = nsp->srv->cfg.recovery;
    sio__rooms_select(&nsp->rooms, nsp->first, t, &nsp->scratch);
    if (nsp->scratch.n == 0 && !recovery)
        return SIO_OK;
    encoded_t e = {0};
    r = encode(nsp, SIO_EVENT, 0, 0, event, args, bins, nbins,
               recovery ? sio__rec_peek_offset(nsp) : 0, &e);
    if (r != SIO_OK)
        return r;
    fan_out(nsp, t, &e);
    return SIO_OK;
}

int sio_broadcast_json(sio_nsp_t *nsp, const sio_target_t *t, const char *event,
                       const char *args_json, size_t args_len)
{
    if (!event)
        return SIO_E_INVALID;
    int r = check_args(event, NULL, NULL, 0);
    if (r != SIO_OK)
        return r;
    int recovery = nsp->srv->cfg.recovery;
    sio__rooms_select(&nsp->rooms, nsp->first, t, &nsp->scratch);
    if (nsp->scratch.n == 0 && !recovery)
        return SIO_OK;
    encoded_t e = {0};
    r = encode_json(nsp, SIO_EVENT, 0, 0, event, args_json, args_len,
                    recovery ? sio__rec_peek_offset(nsp) : 0, &e);
    if (r != SIO_OK)
        return r;
    fan_out(nsp, t, &e);
    return SIO_OK;
}

/* Sends an ACK for ack: from a tree (args) or from JSON text (args_json). */
static int ack_send(sio_ack_t *ack, json_t *args, const sio_bin_t *bins, size_t nbins,
                    const char *args_json, size_t args_len)
{
    if (ack->answered)
        return SIO_E_ANSWERED;
    int r = check_args(NULL, args, bins, nbins);
    if (r != SIO_OK)
        return r;
    sio_socket_t *s = ack->sock;
    ack->answered = 1;
    if (s->state != SIO__SOCK_CONNECTED) {
        r = SIO_E_CLOSED;
    } else {
        encoded_t e = {0};
        r = args_json ? encode_json(s->nsp, SIO_ACK, 1, ack->id, NULL, args_json, args_len, 0, &e)
                      : encode(s->nsp, SIO_ACK, 1, ack->id, NULL, args, bins, nbins, 0, &e);
        if (r == SIO_OK) {
            r = send_encoded(s, &e);
            encoded_release(&e);
        } else {
            ack->answered = 0;
            return r;
        }
    }
    sio_ack_release(ack);
    return r;
}

int sio_ack_send(sio_ack_t *ack, json_t *args, const sio_bin_t *bins, size_t nbins)
{
    return ack_send(ack, args, bins, nbins, NULL, 0);
}

int sio_ack_send_json(sio_ack_t *ack, const char *args_json, size_t args_len)
{
    if (!args_json)
        return SIO_E_INVALID;
    return ack_send(ack, NULL, NULL, 0, args_json, args_len);
}
