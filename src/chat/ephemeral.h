/* ephemeral.h — what typing.c, presence.c and voice.c share: the shutdown
 * hooks chat__user_free_modules (voice.c) calls for each user.
 *
 * Each closes the user's timers without telling anyone (the handles are
 * freed in their close callbacks, so the loop must run once more) and
 * frees the module's state hanging on the user. The user itself is freed
 * by the caller afterwards.
 */
#ifndef PARLEY_CHAT_EPHEMERAL_H
#define PARLEY_CHAT_EPHEMERAL_H

#include "chat/internal.h"

void chat__typing_free_user(chat_user_t *u);
void chat__presence_free_user(chat_user_t *u);

#endif
