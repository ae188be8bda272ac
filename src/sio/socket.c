/* socket.c — one socket: a session's connection to one namespace. Its
 * lifetime (reference counted, so a handler may disconnect its own socket),
 * incoming events and acks, the acks the server awaits with their
 * timeouts, rooms, and the disconnect with Node's reasons.
 *
 * What it is not: no encoding (broadcast.c), no handshake (namespace.c).
 */
#include "sio/internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* Disconnections after which Node keeps the session for recovery: the
 * client did not mean to leave. */
static int recoverable(const char *reason)
{
    static const char *const reasons[] = {"transport error", "transport close", "forced close",
                                          "ping timeout", "server shutting down"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(reason, reasons[i]) == 0)
            return 1;
    return 0;
}

sio_socket_t *sio__socket_new(sio_nsp_t *nsp, sio__client_t *c, json_t *auth)
{
    sio_socket_t *s = xcalloc(1, sizeof *s);
    s->refs = 1; /* the client's */
    s->state = SIO__SOCK_PENDING;
    s->nsp = nsp;
    s->client = c;
    s->auth = auth;
    s->next_ack_id = 0;
    sio__client_add_socket(c, s);
    return s;
}

void sio__socket_ref(sio_socket_t *s)
{
    s->refs++;
}

void sio__socket_unref(sio_socket_t *s)
{
    if (--s->refs > 0)
        return;
    json_decref(s->auth);
    free(s->rooms);
    free(s);
}

void sio__socket_attach(sio_socket_t *s)
{
    sio_nsp_t *nsp = s->nsp;
    s->state = SIO__SOCK_CONNECTED;
    s->nsp_prev = NULL;
    s->nsp_next = nsp->first;
    if (nsp->first)
        nsp->first->nsp_prev = s;
    nsp->first = s;
    nsp->count++;
    sio__room_join(&nsp->rooms, s, s->id, strlen(s->id));
}

static void drop_data(sio_socket_t *s)
{
    if (s->data && s->nsp->free_data)
        s->nsp->free_data(s->data, s->nsp->free_data_ud);
    s->data = NULL;
}

void sio__socket_discard(sio_socket_t *s)
{
    s->state = SIO__SOCK_CLOSED;
    drop_data(s);
    if (s->client) {
        sio__client_remove_socket(s->client, s);
        s->client = NULL;
    }
    sio__socket_unref(s);
}

static void await_free(sio__await_t *a)
{
    free(a);
}

void sio__socket_close(sio_socket_t *s, const char *reason, int notify)
{
    if (s->state != SIO__SOCK_CONNECTED)
        return;
    sio_nsp_t *nsp = s->nsp;
    sio_server_t *srv = nsp->srv;
    sio__client_t *c = s->client;
    sio__socket_ref(s);
    s->state = SIO__SOCK_CLOSED;
    if (notify && c && !c->closing)
        sio__send_simple(c, SIO_DISCONNECT, nsp->name, nsp->name_len, NULL);

    /* The session is captured with its rooms before they are left; its user
     * data joins it after on_disconnect, which may still read it. */
    sio__session_t *keep = NULL;
    if (srv->cfg.recovery && !srv->freeing && recoverable(reason))
        keep = sio__rec_capture(s);
    sio__room_leave_all(&nsp->rooms, s);
    if (s->nsp_prev)
        s->nsp_prev->nsp_next = s->nsp_next;
    else
        nsp->first = s->nsp_next;
    if (s->nsp_next)
        s->nsp_next->nsp_prev = s->nsp_prev;
    s->nsp_prev = s->nsp_next = NULL;
    nsp->count--;

    while (s->awaits) {
        sio__await_t *a = s->awaits;
        s->awaits = a->next;
        sio__deadline_disarm(&srv->timers, &a->deadline);
        a->cb(s, SIO_E_CLOSED, NULL, NULL, 0, a->ud);
        await_free(a);
    }
    if (nsp->on_disconnect)
        nsp->on_disconnect(s, reason, nsp->on_disconnect_ud);
    if (keep) {
        sio__rec_keep(keep, s->data);
        s->data = NULL;
    } else {
        drop_data(s);
    }
    if (c) {
        sio__client_remove_socket(c, s);
        s->client = NULL;
        sio__socket_unref(s); /* the client's reference */
    }
    sio__socket_unref(s);
}

/* ---- incoming events ----------------------------------------------------- */

static void ack_unref(sio_ack_t *a);

void sio__socket_on_event(sio_socket_t *s, sio_packet_t *p)
{
    json_t *arr = p->data;
    json_t *name = json_incref(json_array_get(arr, 0));
    json_array_remove(arr, 0);
    const char *event = json_string_value(name);

    sio_bin_t bins[SIO_MAX_ATTACHMENTS];
    for (unsigned i = 0; i < p->nbins; i++) {
        bins[i].data = p->bins[i]->data;
        bins[i].len = p->bins[i]->len;
    }
    sio_ack_t *ack = NULL;
    if (p->has_id) {
        ack = xcalloc(1, sizeof *ack);
        ack->refs = 1;
        ack->sock = s;
        ack->id = p->id;
        sio__socket_ref(s);
    }
    void *ud;
    sio_event_fn fn = sio__nsp_handler(s->nsp, event, &ud);
    if (fn) {
        sio__socket_ref(s);
        fn(s, event, arr, bins, p->nbins, ack, ud);
        sio__socket_unref(s);
    }
    if (ack)
        ack_unref(ack);
    json_decref(name);
}

void sio__socket_on_ack(sio_socket_t *s, sio_packet_t *p)
{
    sio__await_t **pp = &s->awaits;
    while (*pp && (*pp)->id != p->id)
        pp = &(*pp)->next;
    sio__await_t *a = *pp;
    if (!a) {
        log_debug("sio_stray_ack", "socket %s: ack %llu matches nothing we sent", s->id,
                  (unsigned long long)p->id);
        return;
    }
    *pp = a->next;
    sio__deadline_disarm(&s->nsp->srv->timers, &a->deadline);
    sio_bin_t bins[SIO_MAX_ATTACHMENTS];
    for (unsigned i = 0; i < p->nbins; i++) {
        bins[i].data = p->bins[i]->data;
        bins[i].len = p->bins[i]->len;
    }
    sio__socket_ref(s);
    a->cb(s, SIO_OK, p->data, bins, p->nbins, a->ud);
    sio__socket_unref(s);
    await_free(a);
}

/* ---- acks the server awaits ---------------------------------------------- */

static void on_await_timeout(sio__deadline_t *d)
{
    sio__await_t *a = SIO__CONTAINER(d, sio__await_t, deadline);
    sio_socket_t *s = a->sock;
    sio__await_t **pp = &s->awaits;
    while (*pp && *pp != a)
        pp = &(*pp)->next;
    if (*pp)
        *pp = a->next;
    sio__socket_ref(s);
    a->cb(s, SIO_E_TIMEOUT, NULL, NULL, 0, a->ud);
    sio__socket_unref(s);
    await_free(a);
}

uint64_t sio__socket_await(sio_socket_t *s, uint64_t timeout_ms, sio_ack_fn cb, void *ud)
{
    sio__await_t *a = xcalloc(1, sizeof *a);
    a->id = s->next_ack_id++;
    a->cb = cb;
    a->ud = ud;
    a->sock = s;
    a->deadline.fire = on_await_timeout;
    a->next = s->awaits;
    s->awaits = a;
    if (timeout_ms)
        sio__deadline_arm(&s->nsp->srv->timers, &a->deadline, timeout_ms);
    return a->id;
}

void sio__socket_cancel_await(sio_socket_t *s, uint64_t id)
{
    sio__await_t **pp = &s->awaits;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    sio__await_t *a = *pp;
    if (!a)
        return;
    *pp = a->next;
    sio__deadline_disarm(&s->nsp->srv->timers, &a->deadline);
    await_free(a);
}

/* ---- ack handles --------------------------------------------------------- */

static void ack_unref(sio_ack_t *a)
{
    if (--a->refs > 0)
        return;
    sio__socket_unref(a->sock);
    free(a);
}

sio_ack_t *sio_ack_retain(sio_ack_t *ack)
{
    if (!ack->retained) {
        ack->retained = 1;
        ack->refs++;
    }
    return ack;
}

void sio_ack_release(sio_ack_t *ack)
{
    if (!ack->retained)
        return;
    ack->retained = 0;
    ack_unref(ack);
}

/* ---- accessors ----------------------------------------------------------- */

const char *sio_socket_id(const sio_socket_t *s)
{
    return s->id;
}

sio_nsp_t *sio_socket_nsp(const sio_socket_t *s)
{
    return s->nsp;
}

const json_t *sio_socket_auth(const sio_socket_t *s)
{
    return s->auth ? s->auth : s->nsp->srv->empty;
}

int sio_socket_recovered(const sio_socket_t *s)
{
    return s->recovered;
}

int sio_socket_connected(const sio_socket_t *s)
{
    return s->state == SIO__SOCK_CONNECTED;
}

eio_socket_t *sio_socket_eio(const sio_socket_t *s)
{
    return s->client && s->state != SIO__SOCK_CLOSED ? s->client->eio : NULL;
}

void sio_socket_set_data(sio_socket_t *s, void *data)
{
    s->data = data;
}

void *sio_socket_data(const sio_socket_t *s)
{
    return s->data;
}

void sio_disconnect(sio_socket_t *s, int close_session)
{
    if (s->state != SIO__SOCK_CONNECTED)
        return;
    sio__client_t *c = s->client;
    sio__socket_close(s, "server namespace disconnect", 1);
    if (!close_session || !c || c->closing)
        return;
    while (c->nsocks) {
        sio_socket_t *o = c->socks[c->nsocks - 1];
        if (o->state == SIO__SOCK_CONNECTED)
            sio__socket_close(o, "server namespace disconnect", 1);
        else
            sio__socket_discard(o);
    }
    c->closing = 1;
    eio_close(c->eio);
}

/* ---- rooms --------------------------------------------------------------- */

int sio_join(sio_socket_t *s, const char *room)
{
    if (!room || !room[0])
        return SIO_E_INVALID;
    if (s->state != SIO__SOCK_CONNECTED)
        return SIO_E_CLOSED;
    sio__room_join(&s->nsp->rooms, s, room, strlen(room));
    return SIO_OK;
}

int sio_leave(sio_socket_t *s, const char *room)
{
    if (!room || !room[0])
        return SIO_E_INVALID;
    if (s->state != SIO__SOCK_CONNECTED)
        return SIO_E_CLOSED;
    sio__room_leave(&s->nsp->rooms, s, room, strlen(room));
    return SIO_OK;
}

int sio_in_room(const sio_socket_t *s, const char *room)
{
    return room && sio__room_has(s, room, strlen(room));
}

size_t sio_room_size(const sio_nsp_t *nsp, const char *room)
{
    sio__room_t *r = room ? sio__room_find(&nsp->rooms, room, strlen(room)) : NULL;
    return r ? r->count : 0;
}
