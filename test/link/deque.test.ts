import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deque } from '../../src/link/deque.js';

/** A small deterministic generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the ring deque behaves as an array model under random operations (bursts past the shrink size included)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const next = random(seed);
    const deque = new Deque<number>();
    let model: number[] = [];
    let counter = 0;
    for (let step = 0; step < 5000; step++) {
      const r = next();
      // Phases that mostly push, then mostly shift, so the ring grows well past 1024 and drains to empty.
      const pushBias = Math.floor(step / 1250) % 2 === 0 ? 0.7 : 0.3;
      if (r < pushBias) {
        const burst = next() < 0.05 ? 300 : 1;
        for (let i = 0; i < burst; i++) {
          deque.push(counter);
          model.push(counter++);
        }
      } else if (r < 0.9) {
        assert.equal(deque.shift(), model.shift());
      } else if (r < 0.94) {
        assert.equal(deque.peek(), model[0]);
      } else if (r < 0.96) {
        if (model.length > 0) model[0] = -counter;
        deque.replaceHead(-counter);
      } else if (r < 0.98) {
        const odd = (x: number) => (x & 1) === 1;
        deque.removeWhere(odd);
        model = model.filter((x) => !odd(x));
      } else if (r < 0.985) {
        deque.clear();
        model = [];
      } else {
        assert.deepEqual(deque.toArray(), model);
      }
      assert.equal(deque.length, model.length);
    }
    assert.deepEqual(deque.toArray(), model);
  }
});

test('an empty deque shifts and peeks undefined and keeps working after being drained', () => {
  const deque = new Deque<string>();
  assert.equal(deque.shift(), undefined);
  assert.equal(deque.peek(), undefined);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2000; i++) deque.push(`${round}:${i}`);
    for (let i = 0; i < 2000; i++) assert.equal(deque.shift(), `${round}:${i}`);
    assert.equal(deque.length, 0);
    assert.equal(deque.shift(), undefined);
  }
});
