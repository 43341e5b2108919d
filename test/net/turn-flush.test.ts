import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DEFERRED_TURNS, TurnFlusher } from '../../src/net/turn-flush.js';

/** A flusher driven by hand: `turn()` ends one event-loop turn (runs what was deferred to it). */
function manualFlusher() {
  let deferred: Array<() => void> = [];
  const flusher = new TurnFlusher((callback) => deferred.push(callback));
  const turn = () => {
    const now = deferred;
    deferred = [];
    for (const callback of now) callback();
  };
  return { flusher, turn, pending: () => deferred.length };
}

test('a lone write is flushed at the end of the first turn that queues nothing new', () => {
  const { flusher, turn, pending } = manualFlusher();
  const flushed: string[] = [];
  flusher.onQueued(() => flushed.push('a'));
  turn();
  assert.deepEqual(flushed, [], 'the turn that queued it polls once more');
  turn();
  assert.deepEqual(flushed, ['a']);
  assert.equal(pending(), 0, 'nothing stays scheduled');
});

test('writes queued in the following turns join the same flush, each writer flushed once', () => {
  const { flusher, turn } = manualFlusher();
  const flushed: string[] = [];
  const a = () => flushed.push('a');
  const b = () => flushed.push('b');
  flusher.onQueued(a);
  turn();
  flusher.onQueued(); // a again (its flush is pending already)
  flusher.onQueued(b);
  turn();
  assert.deepEqual(flushed, []);
  turn();
  assert.deepEqual(flushed, ['a', 'b']);
});

test('steady input delays a flush by at most MAX_DEFERRED_TURNS turns', () => {
  const { flusher, turn } = manualFlusher();
  let flushes = 0;
  flusher.onQueued(() => flushes++);
  let turns = 0;
  while (flushes === 0) {
    flusher.onQueued(); // every turn brings more
    turn();
    turns++;
    assert.ok(turns <= MAX_DEFERRED_TURNS + 1, `still not flushed after ${turns} turns`);
  }
  assert.equal(turns, MAX_DEFERRED_TURNS + 1);
});

test('a write queued while flushing starts a new round', () => {
  const { flusher, turn } = manualFlusher();
  const flushed: string[] = [];
  const b = () => flushed.push('b');
  flusher.onQueued(() => {
    flushed.push('a');
    flusher.onQueued(b);
  });
  turn();
  turn();
  assert.deepEqual(flushed, ['a']);
  turn();
  turn();
  assert.deepEqual(flushed, ['a', 'b']);
});
