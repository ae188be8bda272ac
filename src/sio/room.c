/* room.c — room membership of one namespace, and the selection of a
 * broadcast's receivers.
 *
 * What it is: rooms by name (hmap_t), each an array of members; each
 * socket keeps the array of its own memberships, each side holding the
 * other's index (internal.h), so a socket leaves a room in O(its rooms) and
 * a room loses a member in O(1). A room is one allocation with its name,
 * and exists while it has members, as with Node's in-memory adapter.
 *
 * What it is not: no packets, no emits (broadcast.c walks the selection).
 */
#include "sio/internal.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void sio__rooms_init(sio__rooms_t *r)
{
    hmap_init(&r->map);
    r->gen = 0;
}

static void room_free(sio__room_t *room)
{
    free(room->members);
    free(room);
}

void sio__rooms_free(sio__rooms_t *r)
{
    size_t cur;
    hmap_node_t *n = hmap_first(&r->map, &cur);
    while (n) {
        hmap_node_t *next = hmap_next(&r->map, n, &cur);
        room_free(SIO__CONTAINER(n, sio__room_t, node));
        n = next;
    }
    hmap_free(&r->map);
}

sio__room_t *sio__room_find(const sio__rooms_t *r, const char *name, size_t len)
{
    hmap_node_t *n = hmap_get(&r->map, name, len);
    return n ? SIO__CONTAINER(n, sio__room_t, node) : NULL;
}

static ssize_t membership_index(const sio_socket_t *s, const sio__room_t *room)
{
    for (uint32_t i = 0; i < s->nrooms; i++)
        if (s->rooms[i].room == room)
            return (ssize_t)i;
    return -1;
}

int sio__room_has(const sio_socket_t *s, const char *name, size_t len)
{
    for (uint32_t i = 0; i < s->nrooms; i++) {
        const sio__room_t *room = s->rooms[i].room;
        if (room->node.klen == len && memcmp(room->name, name, len) == 0)
            return 1;
    }
    return 0;
}

/* Both arrays start with room for one: most rooms are a socket's own, and
 * most sockets are in a few rooms. */
static uint32_t grown(uint32_t cap)
{
    return cap ? cap * 2 : 1;
}

int sio__room_join(sio__rooms_t *r, sio_socket_t *s, const char *name, size_t len)
{
    sio__room_t *room = sio__room_find(r, name, len);
    if (room && membership_index(s, room) >= 0)
        return 0;
    if (!room) {
        room = xmalloc(sizeof *room + len + 1);
        room->members = NULL;
        room->count = room->cap = 0;
        memcpy(room->name, name, len);
        room->name[len] = '\0';
        hmap_put(&r->map, &room->node, room->name, len);
    }
    if (room->count == room->cap) {
        room->cap = grown(room->cap);
        room->members = xrealloc(room->members, room->cap * sizeof *room->members);
    }
    if (s->nrooms == s->caprooms) {
        s->caprooms = grown(s->caprooms);
        s->rooms = xrealloc(s->rooms, s->caprooms * sizeof *s->rooms);
    }
    room->members[room->count] = (sio__member_t){s, s->nrooms};
    s->rooms[s->nrooms] = (sio__membership_t){room, room->count};
    room->count++;
    s->nrooms++;
    return 1;
}

/* Takes the membership at s->rooms[i] out of both sides: swap-remove in
 * each array, and fix the back index of the entry that moved. */
static void drop_membership(sio__rooms_t *r, sio_socket_t *s, uint32_t i)
{
    sio__room_t *room = s->rooms[i].room;
    uint32_t at = s->rooms[i].idx;

    uint32_t n = --room->count;
    if (at != n) {
        sio__member_t last = room->members[n]; /* another socket */
        room->members[at] = last;
        last.sock->rooms[last.idx].idx = at;
    }
    uint32_t k = --s->nrooms;
    if (i != k) {
        sio__membership_t mine = s->rooms[k]; /* another room */
        s->rooms[i] = mine;
        mine.room->members[mine.idx].idx = i;
    }

    if (room->count == 0) {
        hmap_del(&r->map, &room->node);
        room_free(room);
    }
}

int sio__room_leave(sio__rooms_t *r, sio_socket_t *s, const char *name, size_t len)
{
    sio__room_t *room = sio__room_find(r, name, len);
    if (!room)
        return 0;
    ssize_t i = membership_index(s, room);
    if (i < 0)
        return 0;
    drop_membership(r, s, (uint32_t)i);
    return 1;
}

void sio__room_leave_all(sio__rooms_t *r, sio_socket_t *s)
{
    while (s->nrooms)
        drop_membership(r, s, s->nrooms - 1);
    free(s->rooms);
    s->rooms = NULL;
    s->caprooms = 0;
}

void sio__sockvec_push(sio__sockvec_t *v, sio_socket_t *s)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->v = xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = s;
}

void sio__sockvec_free(sio__sockvec_t *v)
{
    free(v->v);
    memset(v, 0, sizeof *v);
}

/* Stamps rather than a set: a socket is taken when its mark is not this
 * selection's generation, and skipped when its except mark is. Each
 * selection is O(members of the named rooms), allocation-free once the
 * output vector has grown. */
void sio__rooms_select(sio__rooms_t *r, sio_socket_t *all, const sio_target_t *t,
                       sio__sockvec_t *out)
{
    uint64_t gen = ++r->gen;
    out->n = 0;
    size_t nexcept = t ? t->num_except : 0;
    for (size_t i = 0; i < nexcept; i++) {
        sio__room_t *room = sio__room_find(r, t->except[i], strlen(t->except[i]));
        for (size_t j = 0; room && j < room->count; j++)
            room->members[j].sock->xmark = gen;
    }
    if (!t || t->num_rooms == 0) {
        for (sio_socket_t *s = all; s; s = s->nsp_next)
            if (s->xmark != gen)
                sio__sockvec_push(out, s);
        return;
    }
    for (size_t i = 0; i < t->num_rooms; i++) {
        sio__room_t *room = sio__room_find(r, t->rooms[i], strlen(t->rooms[i]));
        for (size_t j = 0; room && j < room->count; j++) {
            sio_socket_t *s = room->members[j].sock;
            if (s->xmark == gen || s->mark == gen)
                continue;
            s->mark = gen;
            sio__sockvec_push(out, s);
        }
    }
}
