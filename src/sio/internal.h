/* internal.h — what the files of the Socket.IO layer share with each other
 * (and with its unit tests): the structs behind the opaque types of sio.h,
 * the hash table, rooms, deadlines and the recovery buffer.
 *
 * What it is not: an API. Nothing outside src/sio/ and tests/unit/sio/
 * includes this; names carry the sio__ prefix to say so.
 */
#ifndef PARLEY_SIO_INTERNAL_H
#define PARLEY_SIO_INTERNAL_H

#include "sio/sio.h"

#include "core/buf.h"
#include "core/hmap.h"
#include "core/refbuf.h"

#include <stddef.h>
#include <stdint.h>

#define SIO__CONTAINER(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

/* ---- Deadlines (timer.c) ----------------------------------------------- */

/* One libuv timer per server serves every deadline (connect timeouts, ack
 * timeouts, recovery expiry): a list sorted by due time, mostly appended
 * at the tail since most deadlines of a kind share one duration. */
typedef struct sio__deadline {
    struct sio__deadline *prev, *next;
    uint64_t due; /* uv_now() milliseconds */
    void (*fire)(struct sio__deadline *d);
    int armed;
} sio__deadline_t;

typedef struct {
    uv_loop_t *loop;
    uv_timer_t timer;
    sio__deadline_t *head, *tail;
    uint64_t timer_due; /* when the uv timer fires; 0 = stopped */
} sio__timers_t;

void sio__timers_init(sio__timers_t *t, uv_loop_t *loop);
/* Closes the uv timer; close_cb(handle) as for uv_close. */
void sio__timers_close(sio__timers_t *t, uv_close_cb close_cb);
/* Arms d to fire after ms (re-arming moves it). */
void sio__deadline_arm(sio__timers_t *t, sio__deadline_t *d, uint64_t ms);
void sio__deadline_disarm(sio__timers_t *t, sio__deadline_t *d);

/* ---- Rooms (room.c) ---------------------------------------------------- */

/* A membership is indexed from both sides, with no allocation of its own:
 * the room's members array says where the room sits in the socket's rooms
 * array, and the other way round, so leaving is O(1) on the room side and
 * O(the socket's rooms) on the socket's. */
typedef struct {
    sio_socket_t *sock;
    uint32_t idx; /* position of this room in sock->rooms */
} sio__member_t;

typedef struct sio__room {
    hmap_node_t node; /* key: name, length: node.klen */
    sio__member_t *members;
    uint32_t count, cap;
    char name[]; /* NUL-terminated */
} sio__room_t;

typedef struct {
    sio__room_t *room;
    uint32_t idx; /* position of the socket in room->members */
} sio__membership_t;

typedef struct {
    hmap_t map; /* name -> sio__room_t */
    uint64_t gen;   /* selection stamp, see sio__rooms_select */
} sio__rooms_t;

/* A growable array of sockets (selection results). */
typedef struct {
    sio_socket_t **v;
    size_t n, cap;
} sio__sockvec_t;

void sio__rooms_init(sio__rooms_t *r);
/* Frees the rooms; every socket must have left them. */
void sio__rooms_free(sio__rooms_t *r);
sio__room_t *sio__room_find(const sio__rooms_t *r, const char *name, size_t len);
/* 1 if joined now, 0 if it was a member already. */
int sio__room_join(sio__rooms_t *r, sio_socket_t *s, const char *name, size_t len);
/* 1 if it left, 0 if it was not a member. Empty rooms are deleted. */
int sio__room_leave(sio__rooms_t *r, sio_socket_t *s, const char *name, size_t len);
void sio__room_leave_all(sio__rooms_t *r, sio_socket_t *s);
int sio__room_has(const sio_socket_t *s, const char *name, size_t len);
/* Fills out with the targets of t among the rooms (or, with no rooms in t,
 * among the sockets of the list starting at all, linked by nsp_next),
 * each once, minus the members of t's except rooms. out is reset first. */
void sio__rooms_select(sio__rooms_t *r, sio_socket_t *all, const sio_target_t *t,
                       sio__sockvec_t *out);
void sio__sockvec_push(sio__sockvec_t *v, sio_socket_t *s);
void sio__sockvec_free(sio__sockvec_t *v);

/* ---- Recovery (recovery.c) --------------------------------------------- */

/* One event kept for replay: its encoded messages (shared with the live
 * sends) and to whom it went, by room names. */
typedef struct {
    uint64_t offset;
    uint64_t at_ms;
    char **rooms;
    size_t nrooms;
    char **except;
    size_t nexcept;
    eio_msg_t *msgs[1 + SIO_MAX_ATTACHMENTS];
    size_t nmsgs;
    size_t bytes;
} sio__stored_t;

/* A disconnected socket kept for recovery. */
typedef struct sio__session {
    hmap_node_t node; /* keyed by pid */
    sio_nsp_t *nsp;
    char sid[24];
    char pid[24];
    char **rooms;
    size_t nrooms;
    void *data;
    uint64_t first_offset; /* offsets >= this were emitted after it connected */
    uint64_t disconnected_at;
    sio__deadline_t expiry;
} sio__session_t;

typedef struct {
    sio__stored_t *ring; /* capacity max_packets */
    size_t cap, head, count;
    size_t bytes;
    uint64_t next_offset; /* offset of the next stored event; starts at 1 */
    hmap_t sessions;  /* pid -> sio__session_t */
} sio__recovery_t;

/* ---- Core structs ------------------------------------------------------ */

#define SIO__ID_LEN 20

typedef struct sio__client sio__client_t;

typedef struct sio__handler {
    hmap_node_t node;
    char *event;
    sio_event_fn fn;
    void *ud;
} sio__handler_t;

typedef struct {
    sio_middleware_fn fn;
    void *ud;
} sio__middleware_t;

struct sio_nsp {
    sio_server_t *srv;
    sio_nsp_t *next;
    char *name;
    size_t name_len;
    sio__rooms_t rooms;
    sio_socket_t *first; /* connected sockets, linked by nsp_next */
    size_t count;
    sio__middleware_t *mw;
    size_t nmw;
    sio_connect_fn on_connect;
    void *on_connect_ud;
    sio_disconnect_fn on_disconnect;
    void *on_disconnect_ud;
    sio_free_data_fn free_data;
    void *free_data_ud;
    hmap_t handlers; /* event -> sio__handler_t */
    sio_event_fn any;
    void *any_ud;
    sio__recovery_t rec;
    sio__sockvec_t scratch; /* reused by broadcasts */
};

/* An ack the server waits for from the client. */
typedef struct sio__await {
    struct sio__await *next;
    uint64_t id;
    sio_ack_fn cb;
    void *ud;
    sio_socket_t *sock;
    sio__deadline_t deadline;
} sio__await_t;

typedef enum {
    SIO__SOCK_PENDING = 0, /* middleware running */
    SIO__SOCK_CONNECTED,
    SIO__SOCK_CLOSED,
} sio__sock_state_t;

struct sio_socket {
    unsigned refs; /* the client's, a dispatch in progress, retained acks */
    uint8_t state; /* sio__sock_state_t */
    uint8_t recovered;
    sio_nsp_t *nsp;
    sio__client_t *client; /* NULL once disconnected */
    json_t *auth; /* NULL when the client sent none or {}: sio_socket_auth gives srv->empty */
    void *data;
    uint64_t first_offset; /* recovery watermark, see sio__session_t */
    sio__membership_t *rooms;
    uint32_t nrooms, caprooms;
    sio_socket_t *nsp_prev, *nsp_next;
    uint64_t mark, xmark; /* selection stamps (sio__rooms_select) */
    sio__await_t *awaits;
    uint64_t next_ack_id;
    char id[SIO__ID_LEN + 1];
    char pid[SIO__ID_LEN + 1]; /* empty without recovery */
};

struct sio_ack {
    unsigned refs;      /* the dispatch's, and one while retained */
    sio_socket_t *sock; /* holds a reference */
    uint64_t id;
    int answered;
    int retained;
};

/* A binary packet waiting for its attachments. */
typedef struct {
    sio_packet_t packet;
    refbuf_t *bins[SIO_MAX_ATTACHMENTS];
    size_t nbins;
    char nsp[]; /* the namespace bytes packet.nsp points at */
} sio__partial_t;

/* One Engine.IO session: Node's "Client". Holds one socket per namespace
 * the session connected to, and the packet being reassembled while its
 * binary attachments arrive. */
struct sio__client {
    sio_server_t *srv;
    eio_socket_t *eio;
    sio__client_t *prev, *next;
    sio_socket_t **socks; /* pending or connected sockets, one per namespace; */
    sio_socket_t *sock1;  /* socks points here until a second one comes */
    uint32_t nsocks, capsocks;
    sio__deadline_t connect_deadline;
    sio__partial_t *partial; /* reassembly; NULL when no packet waits */
    /* Set when we close the session ourselves, overriding eio's reason. */
    const char *close_reason;
    uint8_t ever_connected;
    uint8_t closing;
};

struct sio_server {
    uv_loop_t *loop;
    eio_server_t *eio;
    sio_config_t cfg;
    sio_nsp_t *nsps;
    sio__timers_t timers;
    sio__client_t *clients;
    size_t nclients;
    int freeing, finished;
    buf_t enc;     /* scratch for encoding; reset per packet */
    json_t *empty; /* the auth of every socket that sent none */
};

/* ---- Cross-file functions ---------------------------------------------- */

/* server.c */
/* Closes the session for a protocol violation ("parse error"). */
void sio__client_protocol_error(sio__client_t *c, const char *what, const char *detail);
void sio__client_send_msg(sio__client_t *c, eio_msg_t *m);
void sio__client_add_socket(sio__client_t *c, sio_socket_t *s);
void sio__client_remove_socket(sio__client_t *c, sio_socket_t *s);
sio_nsp_t *sio__server_find_nsp(const sio_server_t *srv, const char *name, size_t len);
/* Random ids for sockets and private session ids (SIO__ID_LEN chars). */
void sio__random_id(char out[SIO__ID_LEN + 1]);

/* namespace.c */
/* Handles a CONNECT for nsp on c; data is the CONNECT payload (borrowed,
 * may be NULL). */
void sio__nsp_connect(sio__client_t *c, sio_nsp_t *nsp, json_t *data);
void sio__nsp_free(sio_nsp_t *nsp);
sio_event_fn sio__nsp_handler(const sio_nsp_t *nsp, const char *event, void **ud);

/* socket.c */
sio_socket_t *sio__socket_new(sio_nsp_t *nsp, sio__client_t *c, json_t *auth);
void sio__socket_ref(sio_socket_t *s);
void sio__socket_unref(sio_socket_t *s);
/* Marks connected, joins its own room and links it into the namespace. */
void sio__socket_attach(sio_socket_t *s);
/* Disconnects with reason; notify: send a DISCONNECT packet first. */
void sio__socket_close(sio_socket_t *s, const char *reason, int notify);
/* Drops a socket that never connected (refused, or its session ended). */
void sio__socket_discard(sio_socket_t *s);
void sio__socket_on_event(sio_socket_t *s, sio_packet_t *p);
void sio__socket_on_ack(sio_socket_t *s, sio_packet_t *p);
/* Registers an awaited ack (timeout_ms 0: none) and returns its id. */
uint64_t sio__socket_await(sio_socket_t *s, uint64_t timeout_ms, sio_ack_fn cb, void *ud);
/* Forgets an awaited ack without calling it (the emit failed). */
void sio__socket_cancel_await(sio_socket_t *s, uint64_t id);

/* broadcast.c */
/* Encodes a packet of nsp with payload data (borrowed, may be NULL) and
 * sends it to c as one text message. */
int sio__send_simple(sio__client_t *c, sio_type_t type, const char *nsp, size_t nsp_len,
                     json_t *data);

/* recovery.c */
void sio__rec_init(sio__recovery_t *rec);
void sio__rec_free(sio_nsp_t *nsp);
/* The offset the next stored event will get. */
uint64_t sio__rec_peek_offset(const sio_nsp_t *nsp);
/* Stores an emitted event (takes references on msgs); returns its offset. */
uint64_t sio__rec_store(sio_nsp_t *nsp, const sio_target_t *t, eio_msg_t *const *msgs, size_t nmsgs,
                        size_t bytes);
/* Copies what recovery keeps of a socket (id, pid, rooms) while it is still
 * in its rooms; sio__rec_keep then stores it, with the user data. */
sio__session_t *sio__rec_capture(const sio_socket_t *s);
void sio__rec_keep(sio__session_t *sess, void *data);
/* Takes the kept session for pid if the offset (NULL: none sent) allows a
 * complete replay; *replay_from is the first offset to replay. */
sio__session_t *sio__rec_take(sio_nsp_t *nsp, const char *pid, size_t pid_len, const char *offset,
                              size_t offset_len, uint64_t *replay_from);
/* Sends s every stored event from offset `from` that reached the session. */
size_t sio__rec_replay(sio_socket_t *s, const sio__session_t *sess, uint64_t from);
void sio__rec_session_free(sio__session_t *sess, int free_data);

#endif
