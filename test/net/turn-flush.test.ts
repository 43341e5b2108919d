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

test('sparse input: a lone write is flushed at the end of its own turn', () => {
  const { flusher, turn, pending } = manualFlusher();
  const flushed: string[] = [];
  for (let round = 1; round <= 3; round++) {
    flusher.onQueued(() => flushed.push(`a${round}`));
    turn();
    assert.deepEqual(flushed.length, round);
    assert.equal(pending(), 0, 'nothing stays scheduled');
  }
});

test('several writes in a turn poll once more; writes of the following turns join the same flush, each writer once', () => {
  const { flusher, turn, pending } = manualFlusher();
  const flushed: string[] = [];
  const a = () => flushed.push('a');
  const b = () => flushed.push('b');
  flusher.onQueued(a);
  flusher.onQueued();
  turn();
  assert.deepEqual(flushed, [], 'the turn that queued them polls once more');
  flusher.onQueued(b);
  turn();
  assert.deepEqual(flushed, []);
  turn();
  assert.deepEqual(flushed, ['a', 'b']);
  assert.equal(pending(), 0);
});

test('after a busy round even a lone write polls once more', () => {
  const { flusher, turn } = manualFlusher();
  let flushes = 0;
  flusher.onQueued(() => flushes++);
  flusher.onQueued();
  turn();
  turn();
  assert.equal(flushes, 1);
  flusher.onQueued(() => flushes++);
  turn();
  assert.equal(flushes, 1, 'deferred: the round before had two writes');
  turn();
  assert.equal(flushes, 2);
  flusher.onQueued(() => flushes++);
  turn();
  assert.equal(flushes, 3, 'the round before had one write: sparse again');
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
  flusher.onQueued(() => {
    flushed.push('a');
    flusher.onQueued(() => flushed.push('b'));
  });
  turn();
  assert.deepEqual(flushed, ['a']);
  turn();
  assert.deepEqual(flushed, ['a', 'b']);
});

test('a flush that throws does not keep the other writers from flushing; its error still surfaces', () => {
  const { flusher, turn, pending } = manualFlusher();
  const flushed: string[] = [];
  flusher.onQueued(() => {
    throw new Error('socket gone');
  });
  flusher.onQueued(() => flushed.push('b'));
  turn(); // two writes in a turn: polls once more
  assert.throws(() => turn(), /socket gone/);
  assert.deepEqual(flushed, ['b']);
  assert.equal(pending(), 0);
  flusher.onQueued(() => flushed.push('c'));
  turn(); // the round before was busy: polls once more
  turn();
  assert.deepEqual(flushed, ['b', 'c'], 'the flusher keeps working after the error');
});
