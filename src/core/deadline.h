/* deadline.h — many one-shot deadlines on one libuv timer.
 *
 * What it is: a binary min-heap of deadlines ordered by due time, and one
 * uv_timer_t set to the earliest. A layer that needs a timeout per
 * connection (idle, heartbeat, slowloris, close) embeds a 16-byte
 * deadline_t in its state instead of a 152-byte uv_timer_t, and keeps one
 * deadline_queue_t per server. Arming and disarming are O(log n); the heap
 * array holds one pointer per armed deadline.
 *
 * Every deadline of a queue fires through the queue's one callback, which
 * finds its holder with offsetof (a queue per kind of deadline).
 * Deadlines fire from the loop, in due order (ties in no particular
 * order), never from inside deadline_arm; a deadline is disarmed before
 * its callback runs, so the callback may arm it again. Time is uv_now()
 * in milliseconds, as for uv_timer_start.
 *
 * What it is not: no repeating deadlines, no thread safety (loop thread
 * only), no sub-millisecond precision.
 */
#ifndef PARLEY_CORE_DEADLINE_H
#define PARLEY_CORE_DEADLINE_H

#include <stdint.h>
#include <uv.h>

/* Embed in the holder; zero-initialised means not armed. */
typedef struct deadline {
    uint64_t due;  /* uv_now() milliseconds; valid while armed */
    uint32_t slot; /* 1 + index in the heap; 0 when not armed */
} deadline_t;

typedef struct deadline_queue deadline_queue_t;

/* Called for each deadline that comes due, already disarmed. */
typedef void (*deadline_fire_fn)(deadline_queue_t *q, deadline_t *d);

struct deadline_queue {
    uv_loop_t *loop;
    uv_timer_t timer;
    deadline_fire_fn fire;
    void *data;        /* the owner's, untouched here */
    deadline_t **heap; /* heap[0] is the earliest */
    uint32_t count, cap;
    uint64_t timer_due; /* when the uv timer is set to fire; 0 = stopped */
    int firing;         /* inside the timer callback */
};

/* Sets up an empty queue on loop. fire is required. */
void deadline_queue_init(deadline_queue_t *q, uv_loop_t *loop, deadline_fire_fn fire, void *data);
/* Disarms every deadline (none fires) and closes the uv timer; close_cb
 * (may be NULL) gets the timer handle, as from uv_close, once the queue's
 * memory may be freed. */
void deadline_queue_close(deadline_queue_t *q, uv_close_cb close_cb);

/* Arms d to fire after ms milliseconds; re-arming an armed deadline moves
 * it. An arm of 0 ms from inside a callback fires on a later loop turn
 * (1 ms), so a callback that keeps re-arming cannot spin the loop. */
void deadline_arm(deadline_queue_t *q, deadline_t *d, uint64_t ms);
/* Disarms d; does nothing when it is not armed. */
void deadline_disarm(deadline_queue_t *q, deadline_t *d);

static inline int deadline_armed(const deadline_t *d)
{
    return d->slot != 0;
}

static inline uint32_t deadline_queue_count(const deadline_queue_t *q)
{
    return q->count;
}

#endif
