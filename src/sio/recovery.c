/* recovery.c — connection state recovery (Socket.IO 4.6+): the per-namespace
 * buffer of emitted events with their offsets, and the sessions of sockets
 * that disconnected for a transport reason.
 *
 * What it is: a ring of stored events, bounded by count, bytes and age, each
 * holding references to the very eio messages that went out live (nothing is
 * re-encoded for a replay); and a table of kept sessions by private id, each
 * expiring after max_disconnection_ms.
 *
 * Offsets are decimal strings of a per-namespace counter, so the stored
 * event for an offset is found by arithmetic, not by search. Which events a
 * session missed is decided as Node's in-memory adapter does: an event
 * after the offset reaches the session if it went to the whole namespace or
 * to one of the session's rooms, and to none of its excepted rooms.
 *
 * (Parley) A client that never received an offset (nothing was emitted to it
 * before the cut) may reconnect with a pid and no offset; Node refuses that,
 * we replay from the moment the socket connected, which is exact.
 *
 * What it is not: no encoding (broadcast.c), no socket creation (namespace.c).
 */
#include "sio/internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char **copy_names(const char *const *names, size_t n)
{
    if (!n)
        return NULL;
    char **out = xmalloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(names[i]);
    return out;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void stored_clear(sio__stored_t *e)
{
    free_names(e->rooms, e->nrooms);
    free_names(e->except, e->nexcept);
    for (size_t i = 0; i < e->nmsgs; i++)
        eio_msg_unref(e->msgs[i]);
    memset(e, 0, sizeof *e);
}

void sio__rec_init(sio__recovery_t *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->next_offset = 1;
    hmap_init(&rec->sessions);
}

static sio__stored_t *stored_at(sio__recovery_t *rec, size_t i)
{
    return &rec->ring[(rec->head + i) % rec->cap];
}

static void drop_oldest(sio__recovery_t *rec)
{
    sio__stored_t *e = stored_at(rec, 0);
    rec->bytes -= e->bytes;
    stored_clear(e);
    rec->head = (rec->head + 1) % rec->cap;
    rec->count--;
}

static void session_free(sio__session_t *sess, int free_data)
{
    sio_nsp_t *nsp = sess->nsp;
    if (free_data && sess->data && nsp->free_data)
        nsp->free_data(sess->data, nsp->free_data_ud);
    free_names(sess->rooms, sess->nrooms);
    free(sess);
}

void sio__rec_free(sio_nsp_t *nsp)
{
    sio__recovery_t *rec = &nsp->rec;
    while (rec->count)
        drop_oldest(rec);
    free(rec->ring);
    size_t cur;
    hmap_node_t *n = hmap_first(&rec->sessions, &cur);
    while (n) {
        hmap_node_t *next = hmap_next(&rec->sessions, n, &cur);
        sio__session_t *sess = SIO__CONTAINER(n, sio__session_t, node);
        sio__deadline_disarm(&nsp->srv->timers, &sess->expiry);
        session_free(sess, 1);
        n = next;
    }
    hmap_free(&rec->sessions);
    memset(rec, 0, sizeof *rec);
}

/* Drops events older than the longest disconnection that can still be
 * recovered: no session could ask for them. */
static void prune_by_age(sio_nsp_t *nsp, uint64_t now)
{
    sio__recovery_t *rec = &nsp->rec;
    uint64_t max_age = nsp->srv->cfg.max_disconnection_ms;
    while (rec->count && stored_at(rec, 0)->at_ms + max_age < now)
        drop_oldest(rec);
}

uint64_t sio__rec_store(sio_nsp_t *nsp, const sio_target_t *t, eio_msg_t *const *msgs, size_t nmsgs,
                        size_t bytes)
{
    sio__recovery_t *rec = &nsp->rec;
    const sio_config_t *cfg = &nsp->srv->cfg;
    uint64_t now = uv_now(nsp->srv->loop);
    uint64_t offset = rec->next_offset++;
    prune_by_age(nsp, now);
    /* An event bigger than the whole budget cannot be kept: the offsets up
     * to it become unrecoverable, which the sessions learn at restore. */
    if (bytes > cfg->recovery_max_bytes) {
        while (rec->count)
            drop_oldest(rec);
        return offset;
    }
    while (rec->count && (rec->count >= cfg->recovery_max_packets ||
                          rec->bytes + bytes > cfg->recovery_max_bytes))
        drop_oldest(rec);
    if (rec->count == rec->cap) {
        /* Grow (count < max here, the ring is full only below the max):
         * unroll into a bigger array. */
        size_t ncap = rec->cap ? rec->cap * 2 : 64;
        if (ncap > cfg->recovery_max_packets)
            ncap = cfg->recovery_max_packets;
        sio__stored_t *nring = xcalloc(ncap, sizeof *nring);
        for (size_t i = 0; i < rec->count; i++)
            nring[i] = *stored_at(rec, i);
        free(rec->ring);
        rec->ring = nring;
        rec->cap = ncap;
        rec->head = 0;
    }
    sio__stored_t *e = stored_at(rec, rec->count);
    e->offset = offset;
    e->at_ms = now;
    e->rooms = copy_names(t ? t->rooms : NULL, t ? t->num_rooms : 0);
    e->nrooms = t ? t->num_rooms : 0;
    e->except = copy_names(t ? t->except : NULL, t ? t->num_except : 0);
    e->nexcept = t ? t->num_except : 0;
    for (size_t i = 0; i < nmsgs; i++)
        e->msgs[i] = eio_msg_ref(msgs[i]);
    e->nmsgs = nmsgs;
    e->bytes = bytes;
    rec->bytes += bytes;
    rec->count++;
    return offset;
}

uint64_t sio__rec_peek_offset(const sio_nsp_t *nsp)
{
    return nsp->rec.next_offset;
}

static void on_session_expired(sio__deadline_t *d)
{
    sio__session_t *sess = SIO__CONTAINER(d, sio__session_t, expiry);
    hmap_del(&sess->nsp->rec.sessions, &sess->node);
    session_free(sess, 1);
}

sio__session_t *sio__rec_capture(const sio_socket_t *s)
{
    sio_nsp_t *nsp = s->nsp;
    sio__session_t *sess = xcalloc(1, sizeof *sess);
    sess->nsp = nsp;
    memcpy(sess->sid, s->id, sizeof s->id);
    memcpy(sess->pid, s->pid, sizeof s->pid);
    sess->nrooms = s->nrooms;
    sess->rooms = s->nrooms ? xmalloc(s->nrooms * sizeof *sess->rooms) : NULL;
    for (size_t i = 0; i < s->nrooms; i++)
        sess->rooms[i] = xstrndup(s->rooms[i].room->name, s->rooms[i].room->node.klen);
    sess->first_offset = s->first_offset;
    return sess;
}

void sio__rec_keep(sio__session_t *sess, void *data)
{
    sio_nsp_t *nsp = sess->nsp;
    sess->data = data;
    sess->disconnected_at = uv_now(nsp->srv->loop);
    sess->expiry.fire = on_session_expired;
    /* A pid is unique per socket, but a client could race two recoveries of
     * one session; the newer disconnection wins. */
    hmap_node_t *old = hmap_get(&nsp->rec.sessions, sess->pid, strlen(sess->pid));
    if (old) {
        sio__session_t *o = SIO__CONTAINER(old, sio__session_t, node);
        sio__deadline_disarm(&nsp->srv->timers, &o->expiry);
        hmap_del(&nsp->rec.sessions, old);
        session_free(o, 1);
    }
    hmap_put(&nsp->rec.sessions, &sess->node, sess->pid, strlen(sess->pid));
    sio__deadline_arm(&nsp->srv->timers, &sess->expiry, nsp->srv->cfg.max_disconnection_ms);
}

/* Strict decimal without sign, leading zeros allowed; 0 on failure. */
static uint64_t parse_offset(const char *s, size_t len)
{
    if (!len || len > 19)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

sio__session_t *sio__rec_take(sio_nsp_t *nsp, const char *pid, size_t pid_len, const char *offset,
                              size_t offset_len, uint64_t *replay_from)
{
    sio__recovery_t *rec = &nsp->rec;
    hmap_node_t *n = hmap_get(&rec->sessions, pid, pid_len);
    if (!n)
        return NULL;
    sio__session_t *sess = SIO__CONTAINER(n, sio__session_t, node);
    uint64_t from;
    if (offset) {
        uint64_t off = parse_offset(offset, offset_len);
        /* An offset this namespace never issued, or one issued before the
         * socket connected, is not this session's. */
        if (off == 0 || off >= rec->next_offset)
            return NULL;
        from = off + 1;
        if (from < sess->first_offset)
            from = sess->first_offset;
    } else {
        from = sess->first_offset;
    }
    prune_by_age(nsp, uv_now(nsp->srv->loop));
    uint64_t oldest = rec->count ? stored_at(rec, 0)->offset : rec->next_offset;
    if (from < oldest)
        return NULL; /* some of what it missed is gone */
    sio__deadline_disarm(&nsp->srv->timers, &sess->expiry);
    hmap_del(&rec->sessions, n);
    *replay_from = from;
    return sess;
}

void sio__rec_session_free(sio__session_t *sess, int free_data)
{
    session_free(sess, free_data);
}

static int name_in(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static int reaches(const sio__stored_t *e, char **rooms, size_t nrooms)
{
    int included = e->nrooms == 0;
    for (size_t i = 0; i < nrooms; i++) {
        if (name_in(e->except, e->nexcept, rooms[i]))
            return 0;
        if (!included && name_in(e->rooms, e->nrooms, rooms[i]))
            included = 1;
    }
    return included;
}

size_t sio__rec_replay(sio_socket_t *s, const sio__session_t *sess, uint64_t from)
{
    sio__recovery_t *rec = &s->nsp->rec;
    if (!rec->count || !s->client)
        return 0;
    uint64_t oldest = stored_at(rec, 0)->offset;
    size_t start = from > oldest ? (size_t)(from - oldest) : 0;
    size_t sent = 0;
    for (size_t i = start; i < rec->count; i++) {
        sio__stored_t *e = stored_at(rec, i);
        if (!reaches(e, sess->rooms, sess->nrooms))
            continue;
        for (size_t k = 0; k < e->nmsgs; k++)
            sio__client_send_msg(s->client, e->msgs[k]);
        sent++;
    }
    return sent;
}
