import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckScheduler, EAGER_ACKS } from '../../src/link/ack-scheduler.js';
import { FakeClock } from '../helpers/fake-clock.js';

function scheduler() {
  const clock = new FakeClock();
  const acks: Array<{ cumulativeBytes: number; ackDelayMs: number }> = [];
  const acker = new AckScheduler(clock, (cumulativeBytes, ackDelayMs) => acks.push({ cumulativeBytes, ackDelayMs }));
  return { clock, acks, acker };
}

test('128 KiB unacknowledged are acknowledged at once; small amounts wait for the timer, with their delay', () => {
  const { clock, acks, acker } = scheduler();
  acker.onReceived(128 * 1024, clock.now());
  assert.deepEqual(acks, [{ cumulativeBytes: 128 * 1024, ackDelayMs: 0 }]);
  acker.onReceived(100, clock.now());
  assert.equal(acks.length, 1);
  clock.advance(20); // an eager ACK (one of the link's first)
  assert.deepEqual(acks[1], { cumulativeBytes: 128 * 1024 + 100, ackDelayMs: 20 });
});

test('after the eager ones, a lazy ACK rides along only once it waited 2 s, or goes alone after 4 s', () => {
  const { clock, acks, acker } = scheduler();
  for (let i = 0; i < EAGER_ACKS; i++) {
    acker.onReceived(10, clock.now());
    clock.advance(20);
  }
  assert.equal(acks.length, EAGER_ACKS);
  acker.onReceived(10, clock.now());
  clock.advance(1000);
  acker.rideAlong();
  assert.equal(acks.length, EAGER_ACKS, 'too fresh to ride along');
  clock.advance(1000);
  acker.rideAlong();
  assert.equal(acks.length, EAGER_ACKS + 1);
  acker.onReceived(10, clock.now());
  clock.advance(3999);
  assert.equal(acks.length, EAGER_ACKS + 1);
  clock.advance(1);
  assert.equal(acks.length, EAGER_ACKS + 2, 'alone after 4 s');
});

test('stop leaves no timer behind; nothing pending sends nothing', () => {
  const { clock, acks, acker } = scheduler();
  acker.rideAlong();
  acker.onReceived(10, clock.now());
  acker.stop();
  clock.advance(10_000);
  assert.equal(acks.length, 0);
});
