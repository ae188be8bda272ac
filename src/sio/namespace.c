/* namespace.c — namespaces: their registration by the application, their
 * middleware and event handlers, and the CONNECT handshake that turns a
 * session's request into a connected socket (fresh or recovered).
 *
 * What it is not: no packet parsing (server.c dispatches), no socket
 * teardown (socket.c).
 */
#include "sio/internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

sio_nsp_t *sio_of(sio_server_t *srv, const char *name)
{
    if (!name || name[0] != '/')
        return NULL;
    size_t len = strlen(name);
    sio_nsp_t *nsp = sio__server_find_nsp(srv, name, len);
    if (nsp)
        return nsp;
    nsp = xcalloc(1, sizeof *nsp);
    nsp->srv = srv;
    nsp->name = xstrndup(name, len);
    nsp->name_len = len;
    sio__rooms_init(&nsp->rooms);
    hmap_init(&nsp->handlers);
    sio__rec_init(&nsp->rec);
    /* Append: lookups are linear and "/" is the most used, keep it first. */
    sio_nsp_t **pp = &srv->nsps;
    while (*pp)
        pp = &(*pp)->next;
    *pp = nsp;
    return nsp;
}

void sio__nsp_free(sio_nsp_t *nsp)
{
    sio__rec_free(nsp);
    sio__rooms_free(&nsp->rooms);
    size_t cur;
    hmap_node_t *n = hmap_first(&nsp->handlers, &cur);
    while (n) {
        hmap_node_t *next = hmap_next(&nsp->handlers, n, &cur);
        sio__handler_t *h = SIO__CONTAINER(n, sio__handler_t, node);
        free(h->event);
        free(h);
        n = next;
    }
    hmap_free(&nsp->handlers);
    sio__sockvec_free(&nsp->scratch);
    free(nsp->mw);
    free(nsp->name);
    free(nsp);
}

const char *sio_nsp_name(const sio_nsp_t *nsp)
{
    return nsp->name;
}

sio_server_t *sio_nsp_server(const sio_nsp_t *nsp)
{
    return nsp->srv;
}

size_t sio_nsp_count(const sio_nsp_t *nsp)
{
    return nsp->count;
}

sio_socket_t *sio_nsp_socket(const sio_nsp_t *nsp, const char *id)
{
    sio__room_t *room = sio__room_find(&nsp->rooms, id, strlen(id));
    if (!room)
        return NULL;
    /* The application may have put others in a room named like an id. */
    for (size_t i = 0; i < room->count; i++)
        if (strcmp(room->members[i].sock->id, id) == 0)
            return room->members[i].sock;
    return NULL;
}

void sio_use(sio_nsp_t *nsp, sio_middleware_fn fn, void *ud)
{
    nsp->mw = xrealloc(nsp->mw, (nsp->nmw + 1) * sizeof *nsp->mw);
    nsp->mw[nsp->nmw].fn = fn;
    nsp->mw[nsp->nmw].ud = ud;
    nsp->nmw++;
}

void sio_on_connect(sio_nsp_t *nsp, sio_connect_fn fn, void *ud)
{
    nsp->on_connect = fn;
    nsp->on_connect_ud = ud;
}

void sio_on_disconnect(sio_nsp_t *nsp, sio_disconnect_fn fn, void *ud)
{
    nsp->on_disconnect = fn;
    nsp->on_disconnect_ud = ud;
}

void sio_on_free_data(sio_nsp_t *nsp, sio_free_data_fn fn, void *ud)
{
    nsp->free_data = fn;
    nsp->free_data_ud = ud;
}

int sio_on(sio_nsp_t *nsp, const char *event, sio_event_fn fn, void *ud)
{
    if (!event || !event[0])
        return SIO_E_INVALID;
    size_t len = strlen(event);
    hmap_node_t *n = hmap_get(&nsp->handlers, event, len);
    sio__handler_t *h = n ? SIO__CONTAINER(n, sio__handler_t, node) : NULL;
    if (!fn) {
        if (h) {
            hmap_del(&nsp->handlers, &h->node);
            free(h->event);
            free(h);
        }
        return SIO_OK;
    }
    if (!h) {
        h = xcalloc(1, sizeof *h);
        h->event = xstrndup(event, len);
        hmap_put(&nsp->handlers, &h->node, h->event, len);
    }
    h->fn = fn;
    h->ud = ud;
    return SIO_OK;
}

void sio_on_any(sio_nsp_t *nsp, sio_event_fn fn, void *ud)
{
    nsp->any = fn;
    nsp->any_ud = ud;
}

sio_event_fn sio__nsp_handler(const sio_nsp_t *nsp, const char *event, void **ud)
{
    hmap_node_t *n = hmap_get(&nsp->handlers, event, strlen(event));
    if (n) {
        sio__handler_t *h = SIO__CONTAINER(n, sio__handler_t, node);
        *ud = h->ud;
        return h->fn;
    }
    *ud = nsp->any_ud;
    return nsp->any;
}

/* ---- the CONNECT handshake ---------------------------------------------- */

static void send_refusal(sio__client_t *c, sio_nsp_t *nsp, const sio_refusal_t *r)
{
    json_t *err = json_object();
    json_object_set_new(err, "message", json_string(r->message ? r->message : "refused"));
    if (!json_object_get(err, "message")) /* not UTF-8 */
        json_object_set_new(err, "message", json_string("refused"));
    if (r->data)
        json_object_set(err, "data", r->data);
    sio__send_simple(c, SIO_CONNECT_ERROR, nsp->name, nsp->name_len, err);
    json_decref(err);
}

/* Recovery fields of the auth payload: a string pid, and an offset that is
 * a string or absent. Anything else is an ordinary auth payload. */
static sio__session_t *try_recover(sio_nsp_t *nsp, json_t *auth, uint64_t *from)
{
    json_t *pid = json_object_get(auth, "pid");
    json_t *off = json_object_get(auth, "offset");
    if (!json_is_string(pid) || (off && !json_is_string(off)))
        return NULL;
    return sio__rec_take(nsp, json_string_value(pid), json_string_length(pid),
                         off ? json_string_value(off) : NULL, off ? json_string_length(off) : 0,
                         from);
}

void sio__nsp_connect(sio__client_t *c, sio_nsp_t *nsp, json_t *data)
{
    sio_server_t *srv = c->srv;
    json_t *auth = data ? json_incref(data) : NULL;
    sio__session_t *sess = NULL;
    uint64_t replay_from = 0;
    if (srv->cfg.recovery && auth) {
        sess = try_recover(nsp, auth, &replay_from);
        /* What the client sends for recovery is no business of the app. */
        json_object_del(auth, "pid");
        json_object_del(auth, "offset");
    }
    if (auth && json_is_object(auth) && json_object_size(auth) == 0) {
        /* Most sockets send none: they all share the server's {}. */
        json_decref(auth);
        auth = NULL;
    }

    sio_socket_t *s = sio__socket_new(nsp, c, auth);
    if (sess) {
        memcpy(s->id, sess->sid, sizeof s->id);
        memcpy(s->pid, sess->pid, sizeof s->pid);
        s->data = sess->data;
        sess->data = NULL;
        s->first_offset = sess->first_offset;
        s->recovered = 1;
    } else {
        sio__random_id(s->id);
        if (srv->cfg.recovery)
            sio__random_id(s->pid);
        s->first_offset = sio__rec_peek_offset(nsp);
    }

    if (!sess || srv->cfg.recovery_run_middlewares) {
        for (size_t i = 0; i < nsp->nmw; i++) {
            sio_refusal_t r = {0};
            if (nsp->mw[i].fn(s, sio_socket_auth(s), &r, nsp->mw[i].ud) == 0) {
                json_decref(r.data); /* only a refusal uses it */
                continue;
            }
            log_debug("sio_refused", "socket %s refused on %s: %s", s->id, nsp->name,
                      r.message ? r.message : "refused");
            send_refusal(c, nsp, &r);
            json_decref(r.data);
            if (sess)
                sio__rec_session_free(sess, 0);
            sio__socket_discard(s);
            return;
        }
    }

    sio__socket_attach(s);
    if (sess) {
        for (size_t i = 0; i < sess->nrooms; i++)
            sio__room_join(&nsp->rooms, s, sess->rooms[i], strlen(sess->rooms[i]));
    }
    json_t *ok = s->pid[0] ? json_pack("{s:s,s:s}", "sid", s->id, "pid", s->pid)
                           : json_pack("{s:s}", "sid", s->id);
    sio__send_simple(c, SIO_CONNECT, nsp->name, nsp->name_len, ok);
    json_decref(ok);
    if (!c->ever_connected) {
        c->ever_connected = 1;
        sio__deadline_disarm(&srv->timers, &c->connect_deadline);
    }
    if (sess) {
        size_t n = sio__rec_replay(s, sess, replay_from);
        log_debug("sio_recovered", "socket %s recovered on %s, %zu events replayed", s->id,
                  nsp->name, n);
        sio__rec_session_free(sess, 0);
    }
    if (nsp->on_connect) {
        sio__socket_ref(s);
        nsp->on_connect(s, nsp->on_connect_ud);
        sio__socket_unref(s);
    }
}
