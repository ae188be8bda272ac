/* deadline.c — deadlines on a binary min-heap and one uv timer; see
 * deadline.h. */
#include "core/deadline.h"
#include "core/alloc.h"

#include <stdlib.h>

#define MIN_CAP 16

static void place(deadline_queue_t *q, deadline_t *d, uint32_t i)
{
    q->heap[i] = d;
    d->slot = i + 1;
}

static void sift_up(deadline_queue_t *q, uint32_t i)
{
    deadline_t *d = q->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (q->heap[parent]->due <= d->due)
            break;
        place(q, q->heap[parent], i);
        i = parent;
    }
    place(q, d, i);
}

static void sift_down(deadline_queue_t *q, uint32_t i)
{
    deadline_t *d = q->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= q->count)
            break;
        if (child + 1 < q->count && q->heap[child + 1]->due < q->heap[child]->due)
            child++;
        if (d->due <= q->heap[child]->due)
            break;
        place(q, q->heap[child], i);
        i = child;
    }
    place(q, d, i);
}

/* Takes d out of the heap. */
static void remove_at(deadline_queue_t *q, deadline_t *d)
{
    uint32_t i = d->slot - 1;
    d->slot = 0;
    deadline_t *last = q->heap[--q->count];
    if (last != d) {
        q->heap[i] = last;
        last->slot = i + 1;
        if (i > 0 && q->heap[(i - 1) / 2]->due > last->due)
            sift_up(q, i);
        else
            sift_down(q, i);
    }
    /* A burst of connections leaves a big array behind: give it back. */
    if (q->cap > MIN_CAP && q->count < q->cap / 4) {
        q->cap /= 2;
        q->heap = xrealloc(q->heap, q->cap * sizeof *q->heap);
    }
}

static void on_timer(uv_timer_t *t);

/* Points the uv timer at the earliest deadline, or stops it. */
static void schedule(deadline_queue_t *q)
{
    if (q->count == 0) {
        if (q->timer_due) {
            uv_timer_stop(&q->timer);
            q->timer_due = 0;
        }
        return;
    }
    uint64_t due = q->heap[0]->due;
    if (q->timer_due == due)
        return;
    uint64_t now = uv_now(q->loop);
    uv_timer_start(&q->timer, on_timer, due > now ? due - now : 0, 0);
    q->timer_due = due;
}

static void on_timer(uv_timer_t *t)
{
    deadline_queue_t *q = t->data;
    uint64_t now = uv_now(q->loop);
    q->timer_due = 0;
    q->firing = 1;
    /* A callback may arm or disarm any deadline, itself included: take the
     * root afresh each time. */
    while (q->count > 0 && q->heap[0]->due <= now) {
        deadline_t *d = q->heap[0];
        remove_at(q, d);
        q->fire(q, d);
    }
    q->firing = 0;
    schedule(q);
}

void deadline_queue_init(deadline_queue_t *q, uv_loop_t *loop, deadline_fire_fn fire, void *data)
{
    q->loop = loop;
    q->fire = fire;
    q->data = data;
    q->heap = NULL;
    q->count = q->cap = 0;
    q->timer_due = 0;
    q->firing = 0;
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
}

void deadline_queue_close(deadline_queue_t *q, uv_close_cb close_cb)
{
    for (uint32_t i = 0; i < q->count; i++)
        q->heap[i]->slot = 0;
    free(q->heap);
    q->heap = NULL;
    q->count = q->cap = 0;
    uv_timer_stop(&q->timer);
    q->timer_due = 0;
    uv_close((uv_handle_t *)&q->timer, close_cb);
}

void deadline_arm(deadline_queue_t *q, deadline_t *d, uint64_t ms)
{
    if (ms == 0 && q->firing)
        ms = 1;
    uint64_t due = uv_now(q->loop) + ms;
    if (d->slot) {
        uint64_t old = d->due;
        d->due = due;
        if (due < old)
            sift_up(q, d->slot - 1);
        else
            sift_down(q, d->slot - 1);
    } else {
        if (q->count == q->cap) {
            q->cap = q->cap ? q->cap * 2 : MIN_CAP;
            q->heap = xrealloc(q->heap, q->cap * sizeof *q->heap);
        }
        d->due = due;
        q->heap[q->count] = d;
        d->slot = ++q->count;
        sift_up(q, q->count - 1);
    }
    if (!q->firing)
        schedule(q);
}

void deadline_disarm(deadline_queue_t *q, deadline_t *d)
{
    if (!d->slot)
        return;
    remove_at(q, d);
    if (!q->firing)
        schedule(q);
}
