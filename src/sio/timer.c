/* timer.c — deadlines of the Socket.IO layer on one libuv timer.
 *
 * What it is: a list of deadlines sorted by due time and one uv_timer_t set
 * to the earliest. Connect timeouts, ack timeouts and recovery expiries of
 * one kind share a duration, so arming walks back from the tail one step in
 * the usual case.
 *
 * What it is not: not a general timer wheel; deadlines fire in due order,
 * from the loop, never from inside sio__deadline_arm.
 */
#include "sio/internal.h"

static void schedule(sio__timers_t *t);

static void on_timer(uv_timer_t *h)
{
    sio__timers_t *t = h->data;
    t->timer_due = 0;
    uint64_t now = uv_now(t->loop);
    /* A fired deadline may arm or disarm others (even itself): unlink first,
     * and re-read the head each time. */
    while (t->head && t->head->due <= now) {
        sio__deadline_t *d = t->head;
        t->head = d->next;
        if (t->head)
            t->head->prev = NULL;
        else
            t->tail = NULL;
        d->prev = d->next = NULL;
        d->armed = 0;
        d->fire(d);
    }
    schedule(t);
}

static void schedule(sio__timers_t *t)
{
    if (!t->head) {
        if (t->timer_due) {
            uv_timer_stop(&t->timer);
            t->timer_due = 0;
        }
        return;
    }
    if (t->timer_due == t->head->due)
        return;
    uint64_t now = uv_now(t->loop);
    uint64_t wait = t->head->due > now ? t->head->due - now : 0;
    uv_timer_start(&t->timer, on_timer, wait, 0);
    t->timer_due = t->head->due;
}

void sio__timers_init(sio__timers_t *t, uv_loop_t *loop)
{
    t->loop = loop;
    t->head = t->tail = NULL;
    t->timer_due = 0;
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
}

void sio__timers_close(sio__timers_t *t, uv_close_cb close_cb)
{
    uv_timer_stop(&t->timer);
    t->head = t->tail = NULL;
    uv_close((uv_handle_t *)&t->timer, close_cb);
}

static void unlink_deadline(sio__timers_t *t, sio__deadline_t *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        t->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        t->tail = d->prev;
    d->prev = d->next = NULL;
    d->armed = 0;
}

void sio__deadline_arm(sio__timers_t *t, sio__deadline_t *d, uint64_t ms)
{
    if (d->armed)
        unlink_deadline(t, d);
    d->due = uv_now(t->loop) + ms;
    sio__deadline_t *after = t->tail;
    while (after && after->due > d->due)
        after = after->prev;
    d->prev = after;
    d->next = after ? after->next : t->head;
    if (d->next)
        d->next->prev = d;
    else
        t->tail = d;
    if (after)
        after->next = d;
    else
        t->head = d;
    d->armed = 1;
    schedule(t);
}

void sio__deadline_disarm(sio__timers_t *t, sio__deadline_t *d)
{
    if (!d->armed)
        return;
    unlink_deadline(t, d);
    schedule(t);
}
