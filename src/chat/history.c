/* history.c — history:get and channel:sync (PROTOCOL.md "History and sync").
 *
 * Both are reads of the store on its reader threads. A read sees every write
 * whose callback has already run, and broadcasts happen in those callbacks,
 * so a client that saw seq N in a broadcast always finds N here.
 *
 * Decisions: both need membership (not_found for an unknown channel,
 * forbidden for a non-member); `before` is a seq >= 1 (absent: newest);
 * `limit` is 1-100 (default 50) for history and 1-500 (default 500) for
 * sync, anything else bad_request. Deleted messages stay in history as
 * {deleted:true, text:""} so seqs have no holes a client would try to fill.
 *
 * history:get pages go through the per-channel tail (tail.c): a page inside
 * a channel's recent messages is answered from memory, older ones are store
 * reads.
 *
 * What it is not: channel:sync has no cache (every call is a store read).
 */
#include "chat/internal.h"
#include "chat/tail.h"
#include "core/log.h"

#include <stdint.h>

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 100
#define SYNC_DEFAULT 500
#define SYNC_MAX 500
#define SEQ_MAX ((uint64_t)INT64_MAX)

/* An optional limit in 1..max; absent gives dflt. */
static int field_limit(chat_req_t *req, json_t *payload, uint64_t max, uint64_t dflt, uint64_t *out)
{
    return chat__field_uint_range(req, payload, "limit", 1, max, true, dflt, out);
}

/* ---- history:get ---- */

static void on_page(store_err_t err, json_t *messages, bool has_more, void *arg)
{
    chat_req_t *req = arg;
    if (err == STORE_E_NOT_FOUND)
        chat__reply_error(req, "not_found", "channel not found");
    else if (err != STORE_OK)
        chat__reply_store_error(req, err, "history");
    else
        chat__reply_ok(req, json_pack("{s:O, s:b}", "messages", messages, "hasMore", has_more));
    chat__req_free(req);
}

static void on_history(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *channel;
    uint64_t before, limit;
    if (chat__field_channel_id(req, payload, "channel", true, &channel) != 0 ||
        chat__field_uint(req, payload, "before", SEQ_MAX, true, 0, &before) != 0 ||
        field_limit(req, payload, HISTORY_MAX, HISTORY_DEFAULT, &limit) != 0)
        return;
    json_t *b = json_object_get(payload, "before");
    if (b && !json_is_null(b) && before == 0) {
        chat__reply_error(req, "bad_request", "before: expected a seq >= 1");
        return;
    }
    if (!chat__require_member(cc, req, channel))
        return;
    chat_req_t *k = chat__req_keep(req);
    store_err_t err = chat__tail_page(cc->chat, channel, before, (unsigned)limit, on_page, k);
    if (err != STORE_OK) {
        chat__reply_store_error(k, err, "history");
        chat__req_free(k);
    }
}

/* ---- channel:sync ---- */

static void on_range(store_err_t err, json_t *events, bool has_more, void *arg)
{
    chat_req_t *req = arg;
    if (err == STORE_E_NOT_FOUND)
        chat__reply_error(req, "not_found", "channel not found");
    else if (err != STORE_OK)
        chat__reply_store_error(req, err, "events");
    else {
        /* One answer must fit well inside the connection's output cap, or
         * a client catching up on large messages would be cut off as a slow
         * consumer by its own sync: past the byte budget, stop early and say
         * hasMore (at least one event always goes). */
        size_t budget = req->chat->cfg.max_reply_bytes, used = 0, n = json_array_size(events);
        size_t keep = n;
        for (size_t i = 0; i < n; i++) {
            used += json_dumpb(json_array_get(events, i), NULL, 0, JSON_COMPACT) + 1;
            if (used > budget && i > 0) {
                keep = i;
                break;
            }
        }
        json_t *out = events;
        if (keep < n) {
            out = json_array();
            for (size_t i = 0; i < keep; i++)
                json_array_append(out, json_array_get(events, i));
            has_more = true;
        } else {
            json_incref(out);
        }
        chat__reply_ok(req, json_pack("{s:o, s:b}", "events", out, "hasMore", has_more));
    }
    chat__req_free(req);
}

static void on_sync(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *channel;
    uint64_t after, limit;
    if (chat__field_channel_id(req, payload, "channel", true, &channel) != 0 ||
        chat__field_uint(req, payload, "after", SEQ_MAX, false, 0, &after) != 0 ||
        field_limit(req, payload, SYNC_MAX, SYNC_DEFAULT, &limit) != 0)
        return;
    if (!chat__require_member(cc, req, channel))
        return;
    chat_req_t *k = chat__req_keep(req);
    store_err_t err =
        store_sync_range(cc->chat->store, channel, after, (unsigned)limit, on_range, k);
    if (err != STORE_OK) {
        chat__reply_store_error(k, err, "events");
        chat__req_free(k);
    }
}

void chat__history_init(chat_t *c)
{
    chat__tail_init(c, NULL);
    chat__on(c, "history:get", on_history, false);
    chat__on(c, "channel:sync", on_sync, false);
}
