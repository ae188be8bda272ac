/* tail.h — the per-channel in-memory tail of recent messages (DESIGN.md
 * "Storage": recent history from memory, older pages from a reader
 * connection off the loop).
 *
 * What it is: for each channel someone reads, the channel's last N messages
 * as protocol `message` objects in seq order. A tail is filled lazily: the
 * first read of a channel's newest page loads it with one store read; from
 * then on it is kept equal to the store by chat__tail_event, which the
 * store callbacks of messages.c call for every committed message:new,
 * message:updated, message:deleted and reaction:updated. A history page
 * that lies wholly inside the tail is answered from memory, with no store
 * read; any other page is a store read on its reader threads, as before.
 *
 * Equal to the store means: the same messages, fields and values
 * (json_equal), the same hasMore. Two things can differ in form only: the
 * key order of a `reactions` object after a removal (JSON objects are
 * unordered; the arrays of users are in the store's order), and an
 * author's name, which is taken from the in-memory model when a page is
 * served (the store joins the current name; the model gets a new name at
 * sign-in, a moment before the store commits it).
 *
 * Memory: at most cfg.messages messages per channel, at most cfg.channels
 * channels cached and about cfg.bytes bytes over all of them; past either
 * cap the least recently read tails are dropped (reloaded when read again).
 * Tails of channels nobody reads are never loaded.
 *
 * What it is not: no channel:sync (events come from the store's log), no
 * write path, nothing persisted. One chat per process: the tails belong to
 * the chat given to chat__tail_init (as the handler table of server.c does).
 * Everything runs on the loop thread.
 */
#ifndef PARLEY_CHAT_TAIL_H
#define PARLEY_CHAT_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chat/internal.h"
#include "store/store.h"

#define CHAT_TAIL_MESSAGES 200              /* messages kept per channel */
#define CHAT_TAIL_CHANNELS 1024             /* channels cached at once */
#define CHAT_TAIL_BYTES (64u * 1024 * 1024) /* estimated bytes over all tails */

typedef struct {
    size_t messages; /* 0 = CHAT_TAIL_MESSAGES; at most 1000 (a store page) */
    size_t channels; /* 0 = CHAT_TAIL_CHANNELS */
    size_t bytes;    /* 0 = CHAT_TAIL_BYTES */
} chat_tail_config_t;

typedef struct {
    uint64_t hits;         /* pages answered from memory */
    uint64_t misses;       /* pages read from the store */
    uint64_t loads;        /* tail loads issued (retries included) */
    uint64_t load_retries; /* loads redone: a reaction raced the load */
    uint64_t evictions;    /* tails dropped by the caps */
    size_t channels;       /* tails loaded now */
    size_t messages;       /* messages held now */
    size_t bytes;          /* their estimated size */
} chat_tail_stats_t;

/* Binds the tails to c with cfg (NULL: the defaults), dropping any tails of
 * an earlier chat. Called by chat__history_init. */
void chat__tail_init(chat_t *c, const chat_tail_config_t *cfg);

/* Drops every tail of c. A load still running is detached: its callback
 * answers its waiting pages with STORE_E_CLOSED and frees it. */
void chat__tail_free(chat_t *c);

/* A committed channel event, from a store write callback, in commit order
 * (every message event of the store must come through here, or the tail
 * goes stale). Other event types and unchanged results are ignored; ev is
 * borrowed. */
void chat__tail_event(chat_t *c, const store_event_t *ev);

/* A history page: messages is a JSON array of `message` objects, oldest
 * first, borrowed (valid during the callback only; do not modify it or
 * its elements, json_incref/copy to keep); has_more: older messages exist.
 * err as store_history_page's (STORE_E_NOT_FOUND: no such channel). */
typedef void (*chat_tail_page_cb)(store_err_t err, json_t *messages, bool has_more, void *arg);

/* The page of channel's messages with seq < before (0: the newest), at
 * most limit (1..1000), as store_history_page defines it.
 *
 * Unlike the store's calls, cb may run from inside this call: when the
 * page is in a loaded tail it is answered at once. Otherwise cb runs later:
 * after the tail's load (a newest page of a channel not cached yet), or
 * from a store read. Returns STORE_OK when cb has run or will run exactly
 * once; an error (STORE_E_INVALID, STORE_E_CLOSED) when nothing was queued
 * and cb never runs. */
store_err_t chat__tail_page(chat_t *c, const char *channel, uint64_t before, unsigned limit,
                            chat_tail_page_cb cb, void *arg);

void chat__tail_stats(const chat_t *c, chat_tail_stats_t *out);

#endif
