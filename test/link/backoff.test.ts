// Reconnect backoff: every delay lies in [base/2, base] (base = initial * multiplier^attempt, capped),
// the cap holds, jitter comes from the injected random source, and reset starts over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Backoff } from '../../src/link/backoff.js';

const optionsArb = fc
  .record({
    initialDelayMs: fc.integer({ min: 1, max: 10_000 }),
    multiplier: fc.double({ min: 1, max: 4, noNaN: true }),
    extraMs: fc.integer({ min: 0, max: 120_000 }),
  })
  .map(({ extraMs, ...o }) => ({ ...o, maxDelayMs: o.initialDelayMs + extraMs }));

test('property: every delay is within [base/2, base] of its attempt, and never above maxDelayMs', () => {
  fc.assert(
    fc.property(optionsArb, fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 }), (options, randoms) => {
      let i = 0;
      const backoff = new Backoff({ ...options, random: () => randoms[i]! });
      for (i = 0; i < randoms.length; i++) {
        const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** i);
        const delay = backoff.nextDelayMs();
        assert.ok(Number.isInteger(delay), `delay ${delay} is whole milliseconds`);
        assert.ok(delay >= Math.round(base / 2) && delay <= Math.round(base), `attempt ${i}: ${delay} outside [${base / 2}, ${base}]`);
        assert.ok(delay <= options.maxDelayMs, `attempt ${i}: ${delay} above the cap ${options.maxDelayMs}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('with a fixed random source the delays never shrink, grow by the multiplier, and stop at the cap', () => {
  fc.assert(
    fc.property(optionsArb, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (options, r) => {
      const backoff = new Backoff({ ...options, random: () => r });
      let previous = 0;
      for (let attempt = 0; attempt < 30; attempt++) {
        const delay = backoff.nextDelayMs();
        assert.ok(delay >= previous, `attempt ${attempt}: ${delay} < ${previous}`);
        previous = delay;
      }
    }),
  );
  const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, random: () => 0.5 });
  assert.deepEqual(Array.from({ length: 6 }, () => backoff.nextDelayMs()), [75, 150, 300, 600, 750, 750]);
});

test('jitter spreads the delays between base/2 (random 0) and base (random -> 1)', () => {
  const low = new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, multiplier: 2, random: () => 0 });
  const high = new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, multiplier: 2, random: () => 0.999999 });
  assert.deepEqual([low.nextDelayMs(), low.nextDelayMs(), low.nextDelayMs()], [500, 1000, 2000]);
  assert.deepEqual([high.nextDelayMs(), high.nextDelayMs(), high.nextDelayMs()], [1000, 2000, 4000]);
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) seen.add(new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, multiplier: 2 }).nextDelayMs());
  assert.ok(seen.size > 10, `Math.random jitter gives varied first delays (${seen.size} distinct of 50)`);
  for (const delay of seen) assert.ok(delay >= 500 && delay <= 1000, `delay ${delay} outside [500, 1000]`);
});

test('reset() starts over from the initial delay', () => {
  const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 3, random: () => 0 });
  assert.deepEqual([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()], [50, 150, 450]);
  backoff.reset();
  assert.equal(backoff.nextDelayMs(), 50);
});
