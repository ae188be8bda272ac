// audit-check.js — checks that the audit catches what it must: a lost acked
// message, one stored twice, a seq gap, a view that differs from history or
// stops short of its end, a conflicting event. A check that cannot fail
// proves nothing, so the suite runs this before any scenario.
'use strict';
const assert = require('assert');
const { checkHistory, checkAcked, checkViews } = require('./audit');
const { viewHash } = require('./client');

function sum(user, sent, views, extra = {}) {
  return { user, sent, views, conflicts: [], errors: [], st: {}, ...extra };
}

function view(entries, base = 0, last = entries.length + base) {
  return { base, last, max: last, hash: viewHash(new Map(entries), base, last) };
}

function checkAudit(log = console.log) {
  const good = [[1, 'j|a'], [2, 'm|M1|a|a-1'], [3, 'm|M2|b|b-1'], [4, 'm|M3|a|a-2']];
  const hist = { general: good };
  const sentA = [{ clientId: 'a-1', channel: 'general', seq: 2, id: 'M1' }, { clientId: 'a-2', channel: 'general', seq: 4, id: 'M3' }];
  const sums = [sum('a', sentA, { general: view(good) }), sum('b', [{ clientId: 'b-1', channel: 'general', seq: 3, id: 'M2' }], { general: view(good.slice(1), 1) })];
  assert.deepStrictEqual(checkHistory(hist), [], 'a good history flagged');
  assert.deepStrictEqual(checkAcked(sums, hist).fails, [], 'good sends flagged');
  assert.deepStrictEqual(checkViews(sums, hist), [], 'good views flagged');

  const lost = { general: good.filter(([s]) => s !== 4).concat([[4, 'm|MX|b|b-9']]) };
  assert(checkAcked(sums, lost).fails.some((f) => f.includes('LOST')), 'a lost acked message passed');
  const twice = { general: [...good, [5, 'm|M9|a|a-2']] };
  assert(checkHistory(twice).some((f) => f.includes('stored twice')), 'a duplicate passed');
  assert(checkAcked(sums, twice).fails.some((f) => f.includes('2 times')), 'a duplicate acked message passed');
  const gap = { general: good.filter(([s]) => s !== 3) };
  assert(checkHistory(gap).length > 0, 'a seq gap passed');
  const unacked = [sum('a', [{ clientId: 'a-3', channel: 'general', seq: 0, id: null }], {})];
  assert(checkAcked(unacked, hist).fails.some((f) => f.includes('never acked')), 'an unacked send passed');
  const wrong = [sum('a', [], { general: view([[1, 'j|a'], [2, 'm|M1|a|a-1'], [3, 'm|M3|a|a-2'], [4, 'm|M2|b|b-1']]) })];
  assert(checkViews(wrong, hist).some((f) => f.includes('differs')), 'a reordered view passed');
  const short = [sum('a', [], { general: view(good.slice(0, 3)) })];
  assert(checkViews(short, hist).some((f) => f.includes('ends at')), 'a view short of the end passed');
  const conflict = [sum('a', [], { general: view(good) }, { conflicts: [{ channel: 'general', seq: 2, had: 'x', got: 'y', src: 'live' }] })];
  assert(checkViews(conflict, hist).length === 1, 'a conflict passed');
  log('audit check: lost, duplicate, gap, unacked, reordered view, short view, conflict all caught');
}

module.exports = { checkAudit };
if (require.main === module) checkAudit();
