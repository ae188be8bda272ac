/* notifications.h — how messages.c asks notifications.c to notify people
 * about a committed message or reaction.
 *
 * What it is: two cross-file internals of the chat module (double
 * underscore), kept out of internal.h because only these two files use
 * them. What it is not: the notification:* requests (notifications.c
 * registers those itself).
 */
#ifndef PARLEY_CHAT_NOTIFICATIONS_H
#define PARLEY_CHAT_NOTIFICATIONS_H

#include "chat/internal.h"

/* Called when the notifications of one message or reaction are stored and
 * delivered (or failed: logged, nothing more to do). */
typedef void (*chat_notified_fn)(void *arg);

/* After message m (just committed in channel ch) : stores one notification
 * per user it concerns — a mention (@id of a member other than the author),
 * a reply to their message, a message in their DM — at most one per user
 * (mention > reply > dm), then emits `notification` to each of them.
 * Returns true when a store write was queued: done(arg) runs once, after
 * the commit and the emits. Returns false when nobody is concerned (or the
 * write could not be queued): done is never called. ch may be NULL (the
 * channel vanished from the model): then nobody is notified. */
bool chat__notify_message(chat_t *c, const chat_channel_t *ch, const store_message_t *m,
                          chat_notified_fn done, void *arg);

/* After `reactor` added a reaction to message m in ch: notifies m's author
 * (kind "reaction") unless that is the reactor or no longer a member. Same
 * return and done rules as chat__notify_message. */
bool chat__notify_reaction(chat_t *c, const chat_channel_t *ch, const store_message_t *m,
                           const char *reactor, chat_notified_fn done, void *arg);

#endif
