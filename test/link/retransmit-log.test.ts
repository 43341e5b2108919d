// The retransmit log against a plain array of messages: random pushes (small, large, traced and piece-by-piece
// messages), confirms and releases; replay must give back the same messages in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResumeBudget, RetransmitLog, type LoggedMessage } from '../../src/link/retransmit-log.js';

/** A small deterministic PRNG (mulberry32), so a failure names its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bytesOf = (m: LoggedMessage) => (m.pieces ? Buffer.concat(m.pieces) : Buffer.from(m.data));

for (let seed = 1; seed <= 40; seed++) {
  test(`random pushes and confirms replay the same bytes in order (seed ${seed})`, () => {
    const random = prng(seed);
    const budget = new ResumeBudget(1 << 30);
    const log = new RetransmitLog(1 << 30, budget);
    const model: Array<{ bytes: Buffer; isText: boolean; trace?: unknown }> = [];
    let firstSeq = 0;
    let sendingPieces: LoggedMessage | undefined;
    for (let step = 0; step < 600; step++) {
      const r = random();
      if (r < 0.55 && !sendingPieces) {
        const size = random() < 0.9 ? Math.floor(random() * 900) : Math.floor(random() * 40_000);
        const source = Buffer.alloc(size + 8);
        for (let i = 0; i < source.length; i++) source[i] = Math.floor(random() * 256);
        const data = source.subarray(4, 4 + size);
        const isText = random() < 0.3;
        const traced = random() < 0.1;
        const expected = Buffer.from(data);
        if (traced) assert.ok(log.push({ data, isText, trace: { traceId: `t${step}` } as never }));
        else assert.ok(log.push({ data, isText }));
        model.push({ bytes: expected, isText, trace: traced ? `t${step}` : undefined });
      } else if (r < 0.65) {
        // A message sent piece by piece (held by reference, its pieces unchanged until confirmed).
        if (!sendingPieces) {
          sendingPieces = { data: new Uint8Array(0), isText: false, pieces: [], open: true };
          assert.ok(log.push(sendingPieces));
          model.push({ bytes: Buffer.alloc(0), isText: false });
        }
        const piece = Buffer.alloc(1 + Math.floor(random() * 3000), step & 0xff);
        assert.ok(log.grow(sendingPieces, piece));
        const last = model[model.length - 1]!;
        last.bytes = Buffer.concat([last.bytes, piece]);
        if (random() < 0.3) {
          sendingPieces.open = false;
          sendingPieces = undefined;
        }
      } else if (r < 0.97) {
        const upTo = firstSeq + Math.floor(random() * (model.length + 1) * (random() < 0.8 ? 0.5 : 1));
        assert.ok(log.confirm(upTo));
        // A confirmed open message is gone from the log; its pieces would not be logged again.
        if (sendingPieces && upTo - firstSeq >= model.length) sendingPieces = undefined;
        model.splice(0, upTo - firstSeq);
        firstSeq = upTo;
      } else {
        assert.equal(log.confirm(firstSeq + model.length + 1), false, 'a count beyond what was sent is refused');
      }
      assert.equal(log.firstSeq, firstSeq);
      assert.equal(log.length, model.length);
      assert.equal(log.nextSeq, firstSeq + model.length);
      const held = model.reduce((sum, m) => sum + m.bytes.length, 0);
      assert.equal(log.bytes, held);
      assert.equal(budget.usedBytes, held);
      if (step % 7 === 0 || step === 599) {
        const pending = log.pending();
        assert.equal(pending.length, model.length);
        pending.forEach((m, i) => {
          assert.ok(bytesOf(m).equals(model[i]!.bytes), `message ${firstSeq + i} replays its bytes`);
          assert.equal(m.isText, model[i]!.isText);
          assert.equal((m.trace as { traceId: string } | undefined)?.traceId, model[i]!.trace);
        });
      }
    }
    log.release();
    assert.equal(budget.usedBytes, 0);
    assert.equal(log.length, 0);
  });
}

test('the session bound: a refused push keeps nothing', () => {
  const budget = new ResumeBudget(1 << 20);
  const log = new RetransmitLog(1000, budget);
  assert.ok(log.push({ data: Buffer.alloc(600, 1), isText: false }));
  assert.ok(!log.push({ data: Buffer.alloc(500, 2), isText: false }));
  assert.equal(log.length, 1);
  assert.equal(budget.usedBytes, 600);
  assert.ok(log.push({ data: Buffer.alloc(400, 3), isText: true }));
  assert.ok(log.confirm(1));
  assert.deepEqual(log.pending().map((m) => [m.data.length, m.data[0], m.isText]), [[400, 3, true]]);
});
