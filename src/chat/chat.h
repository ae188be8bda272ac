/* chat.h — the Parley chat protocol (../shared/PROTOCOL.md) on Socket.IO.
 *
 * What it is: the namespace "/" of a Socket.IO server, with authentication,
 * channels, messages, history and sync, typing, presence, receipts,
 * notifications, voice state and signalling, and the limits. Persistent
 * state goes through the store; everything runs on the loop thread.
 *
 * What it is not: no transport, no HTTP; main.c wires those.
 */
#ifndef PARLEY_CHAT_CHAT_H
#define PARLEY_CHAT_CHAT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "chat/auth.h"
#include "sio/sio.h"
#include "store/store.h"

typedef struct chat chat_t;

typedef struct {
    const char *default_channels; /* comma-separated public channels; "" for none */
    unsigned max_sockets_per_user;  /* 0 = 10 */
    double send_rate, send_burst;   /* message:send per user: 10/s, burst 20 */
    double event_rate, event_burst; /* all events per socket: 50/s, burst 100 */
    unsigned max_refusals;          /* refusals per minute before disconnect: 100 */
    double connect_rate, connect_burst; /* connection attempts per user: 5/s, burst 20 */
    size_t max_text_chars;          /* 4000 */
    size_t max_text_bytes;          /* 10240 */
    uint64_t presence_grace_ms;     /* 5000 */
    uint64_t typing_throttle_ms;    /* 3000 */
    uint64_t typing_expiry_ms;      /* 10000 */
    size_t max_reply_bytes;         /* byte budget of one channel:sync answer: 1 MiB */
} chat_config_t;

typedef struct {
    uint64_t connects, disconnects, refused;
    uint64_t events_in, events_out;
    uint64_t rate_limited, errors;
    uint64_t messages;
} chat_stats_t;

/* Loads the model from the store (blocking, once) and serves the chat on
 * the namespace "/" of sio. Returns NULL with a message in err on failure.
 * sio, store and auth must outlive the chat. */
chat_t *chat_new(uv_loop_t *loop, sio_server_t *sio, store_t *store, chat_auth_t *auth,
                 const chat_config_t *cfg, char *err, size_t errsz);
void chat_free(chat_t *c);
const chat_stats_t *chat_stats(const chat_t *c);

#endif
