// app.js — Parley's web UI: sign-in, channels and DMs, messages, and the
// connection banner, on top of parley-client.js (which does everything that
// is about reliability: outbox, retries, resync, reconnection, health).
//
// Every piece of user data reaches the page through textContent or an
// attribute value, never as markup: el() below makes text nodes from
// strings, and there is no innerHTML in this file.
//
// What it is not: no framework, no bundler, no build step. The page keeps
// a small view model per channel (messages by id) and redraws what changed.

import { io } from '/socket.io/socket.io.esm.min.js';
import { ParleyClient } from './parley-client.js';

const SESSION_KEY = 'parley:session';
const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '👀'];
const HISTORY_PAGE = 50;

const $ = (id) => document.getElementById(id);

// el('div', {class: 'x', dataset: {id}}, 'text', child, ...): strings become
// text nodes; attributes are set as attributes (never as HTML).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const S = {
  client: null,
  me: null,
  active: null,
  views: new Map(), // channel -> {msgs: Map id->message, system: Map seq->item, loaded, hasMore, loading, divider}
  names: new Map(), // user id -> display name
  presence: new Map(), // user id -> status
  presenceAsked: new Set(),
  typing: new Map(), // channel -> Map user id -> {name, until}
  readBy: new Map(), // channel -> Map user id -> seq
  outbox: [],
  connection: { state: 'idle', queued: 0 },
  health: { state: 'offline', rtt: null },
  notifUnread: 0,
  liveNotifs: [], // [{id, channel}] received since load and not yet read
  replyTo: null,
  editing: null,
  confirmDelete: null,
  picker: null,
  pendingInvite: null,
  unsubs: [],
};
window.parley = S; // a handle for debugging and the end-to-end tests

// ---- small helpers ----------------------------------------------------------

function slug(name) {
  const s = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9_.@-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return s || `user-${Math.random().toString(36).slice(2, 8)}`;
}

function nameOf(id) {
  return S.names.get(id) || id;
}

function learnName(user) {
  if (user && user.id && user.name) S.names.set(user.id, user.name);
}

function dmPeer(ch) {
  const parts = ch.id.split(':');
  if (parts.length !== 3) return ch.id;
  return parts[1] === S.me.id ? parts[2] : parts[1];
}

function channelLabel(ch) {
  if (!ch) return '';
  if (ch.kind === 'dm') return nameOf(dmPeer(ch));
  return `# ${ch.name || ch.id}`;
}

function timeOf(ts) {
  const d = new Date(ts);
  const now = new Date();
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === now.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

function toast(text, kind = 'error') {
  const t = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  $('toasts').append(t);
  setTimeout(() => t.remove(), 6000);
}

function view(channel) {
  let v = S.views.get(channel);
  if (!v) {
    v = { msgs: new Map(), system: new Map(), loaded: false, hasMore: true, loading: false, divider: null };
    S.views.set(channel, v);
  }
  return v;
}

function presenceOf(userId) {
  if (S.me && userId === S.me.id) {
    // Ourselves as we chose to appear (invisible shows as offline to others).
    if (S.connection.state !== 'connected') return 'offline';
    const mine = $('me-status').value;
    return mine === 'invisible' ? 'offline' : mine;
  }
  return S.presence.get(userId) || 'offline';
}

function dot(userId) {
  const status = presenceOf(userId);
  return el('span', { class: 'dot', dataset: { status, user: userId }, title: status });
}

// Ask the server for the presence of users we show and know nothing of.
let presenceTimer = null;
function wantPresence(userId) {
  if (!userId || S.presenceAsked.has(userId) || (S.me && userId === S.me.id)) return;
  S.presenceAsked.add(userId);
  clearTimeout(presenceTimer);
  presenceTimer = setTimeout(async () => {
    const users = [...S.presenceAsked].filter((u) => !S.presence.has(u));
    if (!users.length || !S.client) return;
    try {
      const r = await S.client.getPresence(users.slice(0, 100));
      for (const p of r.presence || []) S.presence.set(p.user, p.status);
      render();
    } catch (_) {
      for (const u of users) S.presenceAsked.delete(u);
    }
  }, 50);
}

// ---- rendering ---------------------------------------------------------------

let renderQueued = false;
let stickToBottom = true;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  // A macrotask, not requestAnimationFrame: a hidden tab must still keep its
  // DOM current (it is what the user sees first when they come back).
  setTimeout(() => {
    renderQueued = false;
    renderAll();
  }, 0);
}

function renderAll() {
  if (!S.client || !S.me) return;
  renderBanner();
  renderSidebar();
  renderHeader();
  renderMessages();
  renderTyping();
  renderComposer();
}

function renderBanner() {
  const b = $('banner');
  const { state } = S.connection;
  const queued = S.outbox.filter((e) => e.state !== 'failed').length;
  const q = queued ? ` — ${queued} message${queued === 1 ? '' : 's'} queued` : '';
  let text = '';
  if (state === 'offline') text = `You are offline${q}. They will be sent when you are back online.`;
  else if (state === 'reconnecting') text = `Reconnecting…${q}`;
  else if (state === 'connecting') text = `Connecting…${q}`;
  b.dataset.state = state;
  b.dataset.queued = String(queued);
  b.hidden = !text;
  b.textContent = text;
  if (!text) b.textContent = '';
  const h = $('health');
  h.dataset.state = state === 'connected' ? S.health.state : 'offline';
  const rtt = S.health.rtt !== null && S.health.rtt !== undefined ? ` · ${S.health.rtt} ms` : '';
  h.textContent =
    state === 'connected' ? (S.health.state === 'degraded' ? `Slow connection${rtt}` : `Connected${rtt}`) : state === 'offline' ? 'Offline' : 'Reconnecting…';
}

function renderSidebar() {
  const chans = S.client.channelList().sort((a, b) => channelLabel(a).localeCompare(channelLabel(b)));
  fillList(
    $('channel-list'),
    chans.filter((c) => c.kind !== 'dm'),
    (c) => [el('span', { class: 'chan-kind' }, c.kind === 'private' ? '🔒' : '#'), el('span', { class: 'chan-name' }, c.name || c.id)],
  );
  fillList(
    $('dm-list'),
    chans.filter((c) => c.kind === 'dm'),
    (c) => {
      const peer = dmPeer(c);
      wantPresence(peer);
      return [dot(peer), el('span', { class: 'chan-name' }, nameOf(peer))];
    },
  );
  $('me-name').textContent = S.me.name || S.me.id;
  $('me-dot').dataset.status = presenceOf(S.me.id);
  const n = $('notif-count');
  n.hidden = !S.notifUnread;
  n.textContent = S.notifUnread > 99 ? '99+' : String(S.notifUnread);
  const unreadTotal = chans.reduce((a, c) => a + (c.id !== S.active ? c.unread || 0 : 0), 0);
  document.title = unreadTotal || S.notifUnread ? `(${unreadTotal + S.notifUnread}) Parley` : 'Parley';
}

function fillList(ul, chans, label) {
  const items = chans.map((c) => {
    const unread = c.id !== S.active ? c.unread || 0 : 0;
    return el(
      'li',
      {},
      el(
        'button',
        {
          class: `channel${c.id === S.active ? ' active' : ''}${unread ? ' has-unread' : ''}`,
          dataset: { channel: c.id },
          onclick: () => openChannel(c.id),
        },
        ...label(c),
        unread ? el('span', { class: 'badge', dataset: { unread: String(unread) } }, unread > 99 ? '99+' : String(unread)) : null,
      ),
    );
  });
  ul.replaceChildren(...items);
}

function renderHeader() {
  const ch = S.active && S.client.channels.get(S.active);
  $('chat-title').textContent = ch ? channelLabel(ch) : 'No channel';
  $('chat-topic').textContent = ch ? ch.topic || (ch.kind === 'dm' ? 'Direct message' : '') : 'Create or join a channel to start.';
  $('invite-btn').hidden = !ch || ch.kind === 'dm';
  $('leave-btn').hidden = !ch || ch.kind === 'dm';
  $('composer-input').disabled = !ch;
  $('composer-input').placeholder = ch ? `Message ${channelLabel(ch)}` : 'Join a channel first';
}

// The items of the active channel in display order: committed messages and
// membership notes by seq, then what is still in the outbox.
function items() {
  if (!S.active) return [];
  const v = view(S.active);
  const list = [...v.msgs.values(), ...v.system.values()].sort((a, b) => a.seq - b.seq);
  const committed = new Set();
  for (const m of v.msgs.values()) if (m.clientId && m.author && m.author.id === S.me.id) committed.add(m.clientId);
  const pending = S.outbox.filter((e) => e.channel === S.active && !committed.has(e.clientId));
  return [...list, ...pending.map((e) => ({ pending: true, ...e }))];
}

function keyOf(it) {
  if (it.pending) return `c:${it.clientId}`;
  if (it.system) return `s:${it.seq}`;
  return `m:${it.id}`;
}

function renderMessages() {
  const box = $('messages');
  const list = items();
  const v = S.active ? view(S.active) : null;
  const wasAtBottom = stickToBottom || box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const existing = new Map();
  for (const node of box.children) existing.set(node.dataset.key, node);
  const wanted = [];
  // Nodes whose signature did not change are reused, so a redraw neither
  // moves the scroll position nor takes the focus from an edit box.
  const reuse = (key, sig, make) => {
    const old = existing.get(key);
    if (old && old.dataset.sig === sig) return old;
    const node = make();
    node.dataset.key = key;
    node.dataset.sig = sig;
    return node;
  };
  if (v && v.loaded && !v.hasMore && S.active) {
    const label = channelLabel(S.client.channels.get(S.active));
    wanted.push(reuse('start', label, () => el('div', { class: 'history-start muted' }, `This is the beginning of ${label}.`)));
  } else if (v && v.loading) {
    wanted.push(reuse('loading', '', () => el('div', { class: 'history-start muted' }, 'Loading…')));
  }
  // My messages another member has read, in a DM: "Seen" under the last.
  let seenSeq = 0;
  const ch = S.active && S.client.channels.get(S.active);
  if (ch && ch.kind === 'dm') {
    const r = S.readBy.get(S.active);
    const peerSeq = (r && r.get(dmPeer(ch))) || 0;
    for (const it of list) if (!it.pending && !it.system && it.author.id === S.me.id && it.seq <= peerSeq) seenSeq = it.seq;
  }
  let dividerDone = false;
  for (const it of list) {
    if (!dividerDone && v.divider !== null && !it.pending && !it.system && it.seq > v.divider && it.author.id !== S.me.id) {
      dividerDone = true;
      wanted.push(reuse('divider', '', () => el('div', { class: 'new-divider' }, el('span', {}, 'New'))));
    }
    wanted.push(reuse(keyOf(it), signature(it, seenSeq), () => messageNode(it, seenSeq)));
  }
  const same = wanted.length === box.children.length && wanted.every((n, i) => box.children[i] === n);
  if (!same) box.replaceChildren(...wanted);
  if (S.prepending) {
    box.scrollTop = box.scrollHeight - fromBottom;
    S.prepending = false;
  } else if (wasAtBottom) {
    box.scrollTop = box.scrollHeight;
  }
  stickToBottom = false;
  maybeMarkRead();
}

function signature(it, seenSeq) {
  if (it.pending) {
    return JSON.stringify(['p', it.state, it.error, it.text, S.connection.state, it.replyTo]);
  }
  if (it.system) return 's';
  const reply = it.replyTo ? view(it.channel).msgs.get(it.replyTo) : null;
  return JSON.stringify([
    it.text, it.editedAt, it.deleted, it.reactions, presenceOf(it.author.id), nameOf(it.author.id),
    S.editing === it.id, S.confirmDelete === it.id, S.picker === it.id, it.seq === seenSeq,
    reply ? [reply.text, reply.deleted] : null,
  ]);
}

function messageNode(it, seenSeq) {
  if (it.system) {
    return el('div', { class: 'system muted', dataset: { seq: String(it.seq) } }, it.text);
  }
  if (it.pending) return pendingNode(it);
  const mine = it.author.id === S.me.id;
  wantPresence(it.author.id);
  const node = el('article', {
    class: `msg${mine ? ' mine' : ''}${it.deleted ? ' deleted' : ''}`,
    dataset: { id: it.id, seq: String(it.seq), clientId: it.clientId || '', author: it.author.id, state: 'sent' },
  });
  const head = el(
    'div',
    { class: 'msg-head' },
    dot(it.author.id),
    el('span', { class: 'author' }, nameOf(it.author.id)),
    el('time', { datetime: new Date(it.ts).toISOString(), title: new Date(it.ts).toLocaleString() }, timeOf(it.ts)),
    it.editedAt && !it.deleted ? el('span', { class: 'edited muted', title: new Date(it.editedAt).toLocaleString() }, '(edited)') : null,
    mine ? el('span', { class: 'state sent', title: 'Delivered' }, it.seq === seenSeq ? 'Seen' : '✓') : null,
  );
  node.append(head);
  if (it.replyTo) node.append(replyQuote(it.channel, it.replyTo));
  if (it.deleted) {
    node.append(el('div', { class: 'text muted' }, 'This message was deleted.'));
    return node;
  }
  if (S.editing === it.id) {
    const ta = el('textarea', { class: 'edit-box', rows: 2, 'aria-label': 'Edit message' });
    ta.value = it.text;
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        saveEdit(it, ta.value);
      } else if (e.key === 'Escape') {
        S.editing = null;
        render();
      }
    });
    node.append(
      ta,
      el(
        'div',
        { class: 'edit-tools muted' },
        el('button', { class: 'link', onclick: () => saveEdit(it, ta.value) }, 'Save'),
        ' · ',
        el('button', { class: 'link', onclick: () => ((S.editing = null), render()) }, 'Cancel'),
        ' (Enter to save, Escape to cancel)',
      ),
    );
    setTimeout(() => {
      ta.focus();
      ta.setSelectionRange(ta.value.length, ta.value.length);
    }, 0);
    return node;
  }
  node.append(el('div', { class: 'text' }, it.text));
  const reactions = Object.entries(it.reactions || {}).filter(([, users]) => users.length);
  if (reactions.length) {
    node.append(
      el(
        'div',
        { class: 'reactions' },
        reactions.map(([emoji, users]) =>
          el(
            'button',
            {
              class: `reaction${users.includes(S.me.id) ? ' mine' : ''}`,
              dataset: { emoji },
              title: users.map(nameOf).join(', '),
              onclick: () => react(it, emoji, !users.includes(S.me.id)),
            },
            el('span', {}, emoji),
            el('span', { class: 'count' }, String(users.length)),
          ),
        ),
      ),
    );
  }
  if (S.confirmDelete === it.id) {
    node.append(
      el(
        'div',
        { class: 'confirm' },
        'Delete this message? ',
        el('button', { class: 'danger', onclick: () => removeMessage(it) }, 'Delete'),
        ' ',
        el('button', { onclick: () => ((S.confirmDelete = null), render()) }, 'Cancel'),
      ),
    );
  }
  if (S.picker === it.id) {
    node.append(
      el(
        'div',
        { class: 'picker' },
        EMOJI.map((e) => el('button', { class: 'icon', title: e, onclick: () => react(it, e, !((it.reactions || {})[e] || []).includes(S.me.id)) }, e)),
      ),
    );
  }
  const canDelete = mine || ['owner', 'admin'].includes((S.client.channels.get(it.channel) || {}).role);
  node.append(
    el(
      'div',
      { class: 'actions' },
      el('button', { class: 'icon act-reply', title: 'Reply', 'aria-label': 'Reply', onclick: () => startReply(it) }, '↩'),
      el('button', { class: 'icon act-react', title: 'React', 'aria-label': 'React', onclick: () => ((S.picker = S.picker === it.id ? null : it.id), render()) }, '☺'),
      mine ? el('button', { class: 'icon act-edit', title: 'Edit', 'aria-label': 'Edit', onclick: () => ((S.editing = it.id), render()) }, '✎') : null,
      canDelete ? el('button', { class: 'icon act-delete', title: 'Delete', 'aria-label': 'Delete', onclick: () => ((S.confirmDelete = it.id), render()) }, '🗑') : null,
    ),
  );
  return node;
}

function pendingNode(e) {
  const waiting = S.connection.state !== 'connected';
  const label = e.state === 'failed' ? 'Not sent' : e.state === 'queued' && waiting ? 'Queued' : 'Sending…';
  const node = el(
    'article',
    { class: `msg mine pending ${e.state}`, dataset: { clientId: e.clientId, state: e.state, author: S.me.id } },
    el(
      'div',
      { class: 'msg-head' },
      dot(S.me.id),
      el('span', { class: 'author' }, S.me.name || S.me.id),
      el('time', {}, timeOf(e.createdAt)),
      el('span', { class: `state ${e.state}` }, label),
    ),
  );
  if (e.replyTo) node.append(replyQuote(e.channel, e.replyTo));
  node.append(el('div', { class: 'text' }, e.text));
  if (e.state === 'failed') {
    node.append(
      el(
        'div',
        { class: 'msg-error', role: 'alert' },
        el('span', { class: 'error-text' }, describeError(e.error)),
        ' ',
        el('button', { class: 'act-retry', onclick: () => S.client.retry(e.clientId) }, 'Retry'),
        ' ',
        el('button', { class: 'act-edit-failed', onclick: () => editFailed(e) }, 'Edit'),
        ' ',
        el('button', { class: 'act-discard', onclick: () => S.client.discard(e.clientId) }, 'Discard'),
      ),
    );
  }
  return node;
}

function describeError(err) {
  if (!err) return 'Not sent.';
  const why = {
    too_large: 'Too long to send',
    bad_request: 'The server refused it',
    forbidden: 'You cannot post here',
    not_found: 'This channel is gone',
    unauthorized: 'You are signed out',
  }[err.code] || 'Not sent';
  return `${why}: ${err.message}`;
}

function replyQuote(channel, id) {
  const m = view(channel).msgs.get(id);
  const text = !m ? 'an earlier message' : m.deleted ? 'a deleted message' : m.text;
  return el(
    'div',
    { class: 'reply-quote', dataset: { replyTo: id } },
    '↪ ',
    m ? el('span', { class: 'author' }, nameOf(m.author.id)) : null,
    m ? ' ' : null,
    el('span', { class: 'quote-text' }, text.length > 140 ? `${text.slice(0, 140)}…` : text),
  );
}

function renderTyping() {
  const box = $('typing');
  const now = Date.now();
  const t = S.active ? S.typing.get(S.active) : null;
  const names = [];
  if (t) for (const [id, x] of t) if (x.until > now) names.push(x.name || nameOf(id));
  box.textContent =
    names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
}

function renderComposer() {
  const bar = $('reply-bar');
  if (S.replyTo && S.replyTo.channel === S.active) {
    bar.hidden = false;
    $('reply-text').textContent = `Replying to ${nameOf(S.replyTo.author.id)}: ${S.replyTo.text.slice(0, 80)}`;
  } else {
    bar.hidden = true;
    $('reply-text').textContent = '';
  }
}

// ---- reading ------------------------------------------------------------------

// The open channel counts as read once the newest message has been on
// screen (scrolled to the bottom, tab visible) for a moment; leaving the
// channel before the moment is over still counts.
let markTimer = null;
let markChannel = null;
// The newest messages of the open channel are on screen.
function onScreen() {
  const box = $('messages');
  return document.visibilityState === 'visible' && box.scrollHeight - box.scrollTop - box.clientHeight <= 40;
}

function maybeMarkRead() {
  if (!S.active || !S.client.connected || !onScreen()) return;
  const ch = S.client.channels.get(S.active);
  if (!ch || !ch.seq || (ch.seq <= (ch.lastRead || 0) && !ch.unread)) return;
  if (markTimer && markChannel === S.active) return;
  flushMark();
  markChannel = S.active;
  markTimer = setTimeout(flushMark, 250);
}

function flushMark() {
  clearTimeout(markTimer);
  markTimer = null;
  const channel = markChannel;
  markChannel = null;
  const c = channel && S.client && S.client.channels.get(channel);
  if (c && c.seq && (c.seq > (c.lastRead || 0) || c.unread)) S.client.markRead(channel, c.seq).then(() => readNotificationsOf(channel), () => {});
}

// Notifications that came in live for a channel the user has now read are
// read too (a mention you have seen in place needs no second look).
async function readNotificationsOf(channel) {
  const ids = S.liveNotifs.filter((n) => n.channel === channel).map((n) => n.id);
  S.liveNotifs = S.liveNotifs.filter((n) => n.channel !== channel);
  if (ids.length) {
    try {
      const r = await S.client.readNotifications(ids);
      S.notifUnread = r.unread;
    } catch (_) {
      // they stay unread; the panel can mark them
    }
  }
  render();
}

// ---- channels ------------------------------------------------------------------

async function openChannel(id) {
  if (!S.client.channels.has(id)) return;
  const ch = S.client.channels.get(id);
  if (S.active !== id) {
    if (markChannel === S.active) flushMark();
    S.active = id;
    S.replyTo = null;
    S.editing = null;
    S.picker = null;
    stickToBottom = true;
    const v = view(id);
    v.divider = ch.unread ? ch.lastRead || 0 : null;
    try {
      localStorage.setItem(`parley:last:${S.me.id}`, id);
    } catch (_) {
      // not important
    }
    $('composer-input').value = draftOf(id);
  }
  render();
  const v = view(id);
  if (!v.loaded) await loadHistory(id, true);
}

const drafts = new Map();
function draftOf(id) {
  return drafts.get(id) || '';
}

async function loadHistory(channel, initial) {
  const v = view(channel);
  if (v.loading || (!initial && !v.hasMore)) return;
  v.loading = true;
  render();
  try {
    let before;
    if (!initial) {
      for (const m of v.msgs.values()) if (before === undefined || m.seq < before) before = m.seq;
    }
    const r = await S.client.history(channel, before, HISTORY_PAGE);
    for (const m of r.messages) addMessage(m);
    if (initial || before !== undefined) v.hasMore = r.hasMore;
    v.loaded = true;
    if (!initial) S.prepending = true;
  } catch (e) {
    if (e.code !== 'offline') toast(`Could not load history: ${e.message}`);
  } finally {
    v.loading = false;
    render();
  }
}

function addMessage(m) {
  learnName(m.author);
  const v = view(m.channel);
  const old = v.msgs.get(m.id);
  // History can be older than an edit we already applied: keep the newer.
  if (old && old.seq >= m.seq && (old.editedAt || 0) >= (m.editedAt || 0) && !(m.deleted && !old.deleted)) return;
  v.msgs.set(m.id, old ? { ...old, ...m, seq: old.seq } : m);
}

function onEvent(ev) {
  const v = view(ev.channel);
  switch (ev.type) {
    case 'message:new': {
      const { type, source, ...m } = ev;
      addMessage(m);
      const t = S.typing.get(ev.channel);
      if (t) t.delete(m.author.id);
      if (m.author.id !== S.me.id) notifyLocal(m);
      break;
    }
    case 'message:updated': {
      const m = v.msgs.get(ev.id);
      if (m) v.msgs.set(ev.id, { ...m, text: ev.text, editedAt: ev.editedAt });
      break;
    }
    case 'message:deleted': {
      const m = v.msgs.get(ev.id);
      if (m) v.msgs.set(ev.id, { ...m, deleted: true, text: '' });
      break;
    }
    case 'reaction:updated': {
      const m = v.msgs.get(ev.id);
      if (!m) break;
      const reactions = { ...(m.reactions || {}) };
      const users = new Set(reactions[ev.emoji] || []);
      const uid = typeof ev.user === 'string' ? ev.user : ev.user && ev.user.id;
      if (ev.op === 'add') users.add(uid);
      else users.delete(uid);
      reactions[ev.emoji] = [...users];
      if (!users.size) delete reactions[ev.emoji];
      v.msgs.set(ev.id, { ...m, reactions });
      break;
    }
    case 'member:joined':
    case 'member:left':
      learnName(ev.user);
      v.system.set(ev.seq, {
        system: true,
        seq: ev.seq,
        text: `${nameOf(ev.user.id)} ${ev.type === 'member:joined' ? 'joined' : 'left'}.`,
      });
      break;
    default:
      break;
  }
  render();
}

// A new message in a channel the user is not looking at (or a hidden tab):
// the unread badge moves; a desktop notice only comes with a notification.
function notifyLocal() {
  render();
}

function startReply(m) {
  S.replyTo = m;
  render();
  $('composer-input').focus();
}

async function saveEdit(m, text) {
  const t = text.trim();
  S.editing = null;
  render();
  if (!t || t === m.text) return;
  try {
    await S.client.edit(m.channel, m.id, t);
  } catch (e) {
    toast(`Could not edit: ${e.message}`);
  }
}

async function removeMessage(m) {
  S.confirmDelete = null;
  render();
  try {
    await S.client.remove(m.channel, m.id);
  } catch (e) {
    toast(`Could not delete: ${e.message}`);
  }
}

async function react(m, emoji, on) {
  S.picker = null;
  render();
  try {
    await S.client.react(m.channel, m.id, emoji, on);
  } catch (e) {
    toast(`Could not react: ${e.message}`);
  }
}

function editFailed(e) {
  const input = $('composer-input');
  input.value = e.text;
  S.client.discard(e.clientId);
  input.focus();
}

// ---- composer -----------------------------------------------------------------

function sendFromComposer() {
  const input = $('composer-input');
  const text = input.value.replace(/^\s+|\s+$/g, '');
  if (!text || !S.active) return;
  const opts = S.replyTo && S.replyTo.channel === S.active ? { replyTo: S.replyTo.id } : {};
  S.client.send(S.active, text, opts);
  input.value = '';
  drafts.delete(S.active);
  S.replyTo = null;
  stickToBottom = true;
  autosize(input);
  render();
}

function autosize(ta) {
  ta.style.height = 'auto';
  ta.style.height = `${Math.min(ta.scrollHeight, 200)}px`;
}

function wireComposer() {
  const input = $('composer-input');
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendFromComposer();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendFromComposer();
    } else if (e.key === 'Escape' && S.replyTo) {
      S.replyTo = null;
      render();
    }
  });
  input.addEventListener('input', () => {
    autosize(input);
    if (!S.active) return;
    drafts.set(S.active, input.value);
    S.client.typing(S.active, input.value.trim().length > 0);
  });
  input.addEventListener('blur', () => S.active && S.client && S.client.typing(S.active, false));
  $('reply-cancel').addEventListener('click', () => {
    S.replyTo = null;
    render();
  });
  $('messages').addEventListener('scroll', () => {
    const box = $('messages');
    if (box.scrollTop < 80 && S.active) {
      const v = view(S.active);
      if (v.loaded && v.hasMore && !v.loading) loadHistory(S.active, false);
    }
    maybeMarkRead();
  });
  document.addEventListener('visibilitychange', () => maybeMarkRead());
}

// ---- dialogs -------------------------------------------------------------------

function showDialog(title, body, actions = []) {
  const d = $('dialog');
  const close = el('button', { type: 'button', class: 'icon dialog-close', 'aria-label': 'Close', onclick: () => d.close() }, '×');
  d.replaceChildren(el('header', {}, el('h2', {}, title), close), body, actions.length ? el('footer', {}, ...actions) : '');
  if (!d.open) d.showModal();
  return d;
}

function field(label, input) {
  return el('label', {}, label, input);
}

function createDialog() {
  const id = el('input', { name: 'id', required: true, pattern: '[a-z0-9_-]{1,64}', placeholder: 'design-team', maxlength: 64 });
  const name = el('input', { name: 'name', placeholder: 'Design team', maxlength: 100 });
  const topic = el('input', { name: 'topic', placeholder: 'What it is about', maxlength: 250 });
  const kind = el('select', { name: 'kind' }, el('option', { value: 'public' }, 'Public — anyone can join'), el('option', { value: 'private' }, 'Private — by invitation'));
  const err = el('p', { class: 'error', role: 'alert' });
  name.addEventListener('input', () => {
    if (!id.dataset.touched) id.value = slug(name.value).replace(/[.@]/g, '-');
  });
  id.addEventListener('input', () => (id.dataset.touched = '1'));
  const form = el('form', { class: 'form', id: 'create-form' }, field('Name', name), field('Id (lower case, digits, - and _)', id), field('Topic', topic), field('Visibility', kind), err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const spec = { id: id.value.trim(), kind: kind.value };
      if (name.value.trim()) spec.name = name.value.trim();
      if (topic.value.trim()) spec.topic = topic.value.trim();
      const r = await S.client.createChannel(spec);
      $('dialog').close();
      view(r.channel.id).loaded = false;
      openChannel(r.channel.id);
    } catch (x) {
      err.textContent = x.message;
    }
  });
  showDialog('Create a channel', form, [el('button', { type: 'submit', form: 'create-form', class: 'primary' }, 'Create')]);
  name.focus();
}

async function browseDialog() {
  const list = el('ul', { class: 'browse-list' }, el('li', { class: 'muted' }, 'Loading…'));
  showDialog('Browse channels', list);
  try {
    const r = await S.client.browse();
    if (!r.channels.length) {
      list.replaceChildren(el('li', { class: 'muted' }, 'No public channels yet.'));
      return;
    }
    list.replaceChildren(
      ...r.channels.map((c) => {
        const joined = S.client.channels.has(c.id);
        return el(
          'li',
          { dataset: { channel: c.id } },
          el('div', {}, el('strong', {}, `# ${c.name || c.id}`), ' ', el('span', { class: 'muted' }, `${c.members} member${c.members === 1 ? '' : 's'}`)),
          c.topic ? el('div', { class: 'muted' }, c.topic) : null,
          el(
            'button',
            {
              class: joined ? '' : 'primary',
              onclick: async () => {
                try {
                  if (!joined) {
                    const j = await S.client.join(c.id);
                    for (const m of j.messages || []) addMessage(m);
                  }
                  $('dialog').close();
                  openChannel(c.id);
                } catch (x) {
                  toast(`Could not join: ${x.message}`);
                }
              },
            },
            joined ? 'Open' : 'Join',
          ),
        );
      }),
    );
  } catch (x) {
    list.replaceChildren(el('li', { class: 'error' }, x.message));
  }
}

function dmDialog() {
  const who = el('input', { name: 'user', required: true, placeholder: 'user id, e.g. ada', maxlength: 64 });
  const err = el('p', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'form', id: 'dm-form' }, field('Send a direct message to', who), err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await S.client.openDm(who.value.trim().toLowerCase());
      $('dialog').close();
      openChannel(r.channel.id);
    } catch (x) {
      err.textContent = x.message;
    }
  });
  showDialog('New direct message', form, [el('button', { type: 'submit', form: 'dm-form', class: 'primary' }, 'Open')]);
  who.focus();
}

async function inviteDialog() {
  if (!S.active) return;
  const out = el('input', { readonly: true, class: 'invite-url', 'aria-label': 'Invite link' });
  const err = el('p', { class: 'error', role: 'alert' });
  const copy = el('button', {
    class: 'primary',
    onclick: async () => {
      out.select();
      try {
        await navigator.clipboard.writeText(out.value);
        copy.textContent = 'Copied';
      } catch (_) {
        copy.textContent = 'Press Ctrl+C';
      }
    },
  }, 'Copy');
  showDialog(`Invite to ${channelLabel(S.client.channels.get(S.active))}`, el('div', { class: 'form' }, el('p', { class: 'muted' }, 'Anyone with this link can join.'), out, err), [copy]);
  try {
    const r = await S.client.createInvite(S.active);
    out.value = `${location.origin}${location.pathname}#invite=${encodeURIComponent(r.code)}`;
    out.select();
  } catch (x) {
    err.textContent = x.message;
  }
}

function leaveDialog() {
  const ch = S.client.channels.get(S.active);
  if (!ch) return;
  showDialog(`Leave ${channelLabel(ch)}?`, el('p', {}, 'You can join a public channel again later; a private one needs an invitation.'), [
    el('button', { onclick: () => $('dialog').close() }, 'Cancel'),
    el(
      'button',
      {
        class: 'danger',
        onclick: async () => {
          try {
            await S.client.leave(ch.id);
            $('dialog').close();
            S.active = null;
            openFirst();
          } catch (x) {
            toast(`Could not leave: ${x.message}`);
          }
        },
      },
      'Leave',
    ),
  ]);
}

const KIND_TEXT = {
  mention: 'mentioned you',
  dm: 'sent you a message',
  reply: 'replied to you',
  reaction: 'reacted to your message',
};

function notificationText(n) {
  const ch = S.client.channels.get(n.channel);
  const where = ch && ch.kind !== 'dm' ? ` in ${channelLabel(ch)}` : '';
  return `${(n.from && n.from.name) || (n.from && n.from.id) || 'Someone'} ${KIND_TEXT[n.kind] || n.kind}${where}`;
}

async function notificationsDialog() {
  const list = el('ul', { class: 'notif-list' }, el('li', { class: 'muted' }, 'Loading…'));
  const actions = [el('button', { onclick: () => markAllNotifications() }, 'Mark all read')];
  if ('Notification' in window && Notification.permission === 'default') {
    actions.unshift(el('button', { onclick: () => Notification.requestPermission().then(() => notificationsDialog()) }, 'Enable desktop notifications'));
  }
  showDialog('Notifications', list, actions);
  try {
    const r = await S.client.notifications({ limit: 50 });
    if (!r.notifications.length) {
      list.replaceChildren(el('li', { class: 'muted' }, 'Nothing yet.'));
      return;
    }
    list.replaceChildren(
      ...r.notifications.map((n) =>
        el(
          'li',
          { class: n.read ? 'read' : 'unread' },
          el(
            'button',
            {
              class: 'link',
              onclick: async () => {
                $('dialog').close();
                if (!n.read) {
                  try {
                    const x = await S.client.readNotifications([n.id]);
                    S.notifUnread = x.unread;
                  } catch (_) {
                    // shown again next time
                  }
                }
                openChannel(n.channel);
              },
            },
            notificationText(n),
          ),
          ' ',
          el('time', { class: 'muted' }, timeOf(n.ts)),
        ),
      ),
    );
  } catch (x) {
    list.replaceChildren(el('li', { class: 'error' }, x.message));
  }
}

async function markAllNotifications() {
  try {
    const r = await S.client.readNotifications(true);
    S.notifUnread = r.unread;
    $('dialog').close();
    render();
  } catch (x) {
    toast(x.message);
  }
}

// ---- signing in and out ----------------------------------------------------------

function showSignin(error) {
  $('app').hidden = true;
  $('banner').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = error || '';
  $('signin-name').focus();
}

function savedSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
  } catch (_) {
    return null;
  }
}

function readInvite() {
  const m = /(?:^#|&)invite=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

async function signIn(auth) {
  const client = new ParleyClient({ auth, io });
  S.client = client;
  S.me = auth.user ? { id: auth.user, name: auth.name || auth.user } : { id: '', name: '' };
  const u = S.unsubs;
  u.push(
    client.on('connection', (c) => {
      S.connection = c;
      render();
    }),
    client.on('health', (h) => {
      S.health = h;
      render();
    }),
    client.on('outbox', (o) => {
      S.outbox = o;
      render();
    }),
    client.on('channels', () => render()),
    client.on('channel:removed', ({ channel }) => {
      S.views.delete(channel);
      if (S.active === channel) {
        S.active = null;
        openFirst();
      }
      render();
    }),
    client.on('event', onEvent),
    client.on('ready', onReady),
    client.on('auth_error', (e) => {
      signOut(`Could not sign in: ${e.message}`);
    }),
    client.on('typing', (t) => {
      learnName(t.user);
      if (!S.typing.has(t.channel)) S.typing.set(t.channel, new Map());
      const m = S.typing.get(t.channel);
      if (t.typing) {
        m.set(t.user.id, { name: t.user.name, until: Date.now() + 12000 });
        setTimeout(render, 12100);
      } else m.delete(t.user.id);
      render();
    }),
    client.on('presence', (p) => {
      S.presence.set(p.user, p.status);
      render();
    }),
    client.on('read', (r) => {
      if (!S.readBy.has(r.channel)) S.readBy.set(r.channel, new Map());
      S.readBy.get(r.channel).set(r.user, r.seq);
      render();
    }),
    client.on('notification', (n) => {
      S.notifUnread++;
      S.liveNotifs.push({ id: n.id, channel: n.channel });
      // Already looking at it: read as soon as it is seen.
      if (n.channel === S.active) setTimeout(() => n.channel === S.active && onScreen() && readNotificationsOf(n.channel), 250);
      learnName(n.from);
      if (document.visibilityState === 'hidden' && 'Notification' in window && Notification.permission === 'granted') {
        try {
          const note = new Notification('Parley', { body: notificationText(n), tag: `parley-${n.id}` });
          note.onclick = () => {
            window.focus();
            openChannel(n.channel);
          };
        } catch (_) {
          // some browsers only allow notifications from a service worker
        }
      }
      render();
    }),
  );
  $('signin').hidden = true;
  $('app').hidden = false;
  await client.start();
  render();
}

let firstReady = true;
function onReady(r) {
  S.me = r.user;
  learnName(r.user);
  S.notifUnread = (r.notifications && r.notifications.unread) || 0;
  try {
    localStorage.setItem(SESSION_KEY, JSON.stringify(S.client.opts.auth));
  } catch (_) {
    // the next visit asks again
  }
  // Each connection starts out online: say again what the user chose.
  const status = $('me-status').value;
  if (status !== 'online') S.client.setPresence(status).catch(() => {});
  if (r.reconnect) {
    // Views we loaded are kept current by the event stream (sync included);
    // views of channels we never opened load on open.
    render();
    return;
  }
  if (firstReady) {
    firstReady = false;
    const code = S.pendingInvite || readInvite();
    if (code) {
      S.pendingInvite = null;
      history.replaceState(null, '', location.pathname + location.search);
      acceptInvite(code);
      return;
    }
  }
  if (!S.active) openFirst();
  render();
}

async function acceptInvite(code) {
  try {
    const r = await S.client.acceptInvite(code);
    for (const m of r.messages || []) addMessage(m);
    toast(`You joined ${channelLabel(S.client.channels.get(r.channel.id) || r.channel)}.`, 'info');
    openChannel(r.channel.id);
  } catch (x) {
    toast(`This invite did not work: ${x.message}`);
    openFirst();
  }
}

function openFirst() {
  const chans = S.client.channelList();
  if (!chans.length) {
    render();
    return;
  }
  let last = null;
  try {
    last = localStorage.getItem(`parley:last:${S.me.id}`);
  } catch (_) {
    last = null;
  }
  const pick = chans.find((c) => c.id === last) || chans.find((c) => c.id === 'general') || chans.sort((a, b) => a.id.localeCompare(b.id))[0];
  openChannel(pick.id);
}

function signOut(error) {
  for (const f of S.unsubs) f();
  S.unsubs = [];
  if (S.client) S.client.close();
  S.client = null;
  S.active = null;
  S.views.clear();
  S.typing.clear();
  S.presence.clear();
  S.presenceAsked.clear();
  S.outbox = [];
  S.liveNotifs = [];
  firstReady = true;
  try {
    localStorage.removeItem(SESSION_KEY);
  } catch (_) {
    // nothing to forget
  }
  $('messages').replaceChildren();
  showSignin(error);
}

function wireChrome() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('signin-token').value.trim();
    const name = $('signin-name').value.trim();
    if (!token && !name) {
      $('signin-error').textContent = 'Enter your name (or a token).';
      return;
    }
    $('signin-error').textContent = '';
    signIn(token ? { token } : { user: slug(name), name }).catch((x) => showSignin(x.message));
  });
  $('signout-btn').addEventListener('click', () => signOut());
  $('create-btn').addEventListener('click', createDialog);
  $('browse-btn').addEventListener('click', browseDialog);
  $('dm-btn').addEventListener('click', dmDialog);
  $('invite-btn').addEventListener('click', inviteDialog);
  $('leave-btn').addEventListener('click', leaveDialog);
  $('notif-btn').addEventListener('click', notificationsDialog);
  $('me-status').addEventListener('change', async (e) => {
    try {
      await S.client.setPresence(e.target.value);
    } catch (x) {
      toast(`Could not set your status: ${x.message}`);
    }
    render();
  });
  window.addEventListener('hashchange', () => {
    const code = readInvite();
    if (!code) return;
    if (S.client && S.client.connected) {
      history.replaceState(null, '', location.pathname + location.search);
      acceptInvite(code);
    } else S.pendingInvite = code;
  });
  setInterval(renderTyping, 2000);
}

function main() {
  wireChrome();
  wireComposer();
  const saved = savedSession();
  if (saved && (saved.user || saved.token)) {
    signIn(saved).catch((x) => showSignin(x.message));
  } else {
    showSignin();
  }
}

main();
