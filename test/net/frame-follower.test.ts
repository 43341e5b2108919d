import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameFollower } from '../../src/net/frame-follower.js';
import { closeFrame, newFrameHeader, readFrameHeader } from '../../src/net/ws-frame-header.js';
import { wsFrame } from '../helpers/ws-frames.js';

const MASK = Buffer.from([0x91, 0x0c, 0x5e, 0xa7]);
const HEAD_BYTES = 64;

/** One WebSocket frame as a client (masked) or a server (unmasked) sends it. */
function frame(opcode: number, fin: boolean, payload: Buffer, masked: boolean): Buffer {
  return wsFrame(opcode, fin, payload, masked ? MASK : undefined);
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

interface Seen { passed: number; heads: Array<{ head: string; isBinary: boolean; bytes: number | undefined }>; failure?: boolean }

function run(chunks: Buffer[], maxMessageBytes = 1 << 20): Seen {
  const seen: Seen = { passed: 0, heads: [] };
  const follower = new FrameFollower({
    maxMessageBytes, headBytes: HEAD_BYTES,
    onMessageHead: (head, isBinary, messageBytes) => seen.heads.push({ head: head.toString('hex'), isBinary, bytes: messageBytes }),
  });
  for (const chunk of chunks) {
    seen.passed += follower.follow(chunk);
    if (follower.failure) {
      seen.failure = true;
      break;
    }
  }
  return seen;
}

/** Splits `all` at the given cut points (any order, duplicates allowed). */
function split(all: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, all.length]) {
    out.push(all.subarray(from, p));
    from = p;
  }
  return out;
}

/** A message as frames: the payload cut into `parts` fragments, a ping between fragments. */
const messageArb = fc.record({
  binary: fc.boolean(),
  size: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 60000, max: 70000 })),
  parts: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 0, max: 255 }),
});

function encode(messages: Array<{ binary: boolean; size: number; parts: number; seed: number }>, masked: boolean): { wire: Buffer; expected: Seen['heads'] } {
  const frames: Buffer[] = [];
  const expected: Seen['heads'] = [];
  for (const m of messages) {
    const payload = bytes(m.size, m.seed);
    const step = Math.ceil(m.size / m.parts) || 1;
    for (let i = 0, at = 0; i < m.parts; i++, at += step) {
      const fin = i === m.parts - 1;
      frames.push(frame(i === 0 ? (m.binary ? 2 : 1) : 0, fin, fin ? payload.subarray(at) : payload.subarray(at, at + step), masked));
      if (!fin) frames.push(frame(9, true, Buffer.from('ping'), masked)); // a control frame between fragments
    }
    // The head: all of a message of at most HEAD_BYTES, else its first HEAD_BYTES and what had arrived then.
    const firstFrame = Math.min(step, m.size);
    const whole = m.size <= HEAD_BYTES;
    const arrived = whole ? undefined : firstFrame >= HEAD_BYTES ? firstFrame : undefined;
    expected.push({ head: payload.subarray(0, Math.min(HEAD_BYTES, m.size)).toString('hex'), isBinary: m.binary, bytes: arrived ?? (whole ? undefined : -1) });
  }
  return { wire: Buffer.concat(frames), expected };
}

test('property: split or merged reads, every byte passes and each message head is the unmasked start of its payload', () => {
  fc.assert(
    fc.property(fc.array(messageArb, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (messages, masked, cuts) => {
      const { wire, expected } = encode(messages, masked);
      const whole = run([wire]);
      const pieces = run(split(wire, cuts));
      const bytewise = wire.length < 4000 ? run([...wire].map((b) => Buffer.from([b]))) : pieces;
      for (const seen of [whole, pieces, bytewise]) {
        assert.equal(seen.passed, wire.length);
        assert.equal(seen.failure, undefined);
        assert.equal(seen.heads.length, messages.length);
        seen.heads.forEach((h, i) => {
          assert.equal(h.head, expected[i]!.head);
          assert.equal(h.isBinary, expected[i]!.isBinary);
          // A head handed on early carries a length: at least what it holds, at most the message.
          if (expected[i]!.bytes === undefined) assert.equal(h.bytes, undefined);
          else assert.ok(h.bytes! >= HEAD_BYTES && h.bytes! <= messages[i]!.size, `bytes ${h.bytes}`);
        });
      }
      assert.deepEqual(pieces.heads, whole.heads);
    }),
    { numRuns: 150 },
  );
});

test('a message above maxMessageBytes stops the bytes at its frame header (1009), even when fragmented', () => {
  const ok = frame(2, true, bytes(100, 1), true);
  const big = frame(2, true, bytes(3000, 2), true);
  for (const wire of [Buffer.concat([ok, big]), Buffer.concat([ok, frame(1, false, bytes(1500, 3), true), frame(0, true, bytes(1500, 4), true)])]) {
    for (const cut of [0, 1, ok.length - 1, ok.length, ok.length + 1, ok.length + 5, wire.length - 1]) {
      const follower = new FrameFollower({ maxMessageBytes: 2048, headBytes: HEAD_BYTES });
      let passed = 0;
      for (const chunk of split(wire, [cut])) {
        passed += follower.follow(chunk);
        if (follower.failure) break;
      }
      assert.equal(follower.failure?.code, 1009);
      // Everything before the offending frame passes; a header split across reads is reported as not clean.
      const failedFrameStart = wire.length === ok.length + big.length ? ok.length : ok.length + 2 + 2 + 4 + 1500;
      if (follower.failure!.cleanCut) assert.equal(passed, failedFrameStart);
      else assert.ok(passed > failedFrameStart && passed < failedFrameStart + 14);
    }
  }
});

test('stopAtBoundary cuts at the next frame boundary, never inside a frame', () => {
  const wire = Buffer.concat([frame(2, true, bytes(500, 1), false), frame(2, true, bytes(10, 2), false)]);
  const follower = new FrameFollower({ maxMessageBytes: 1 << 20, headBytes: HEAD_BYTES });
  assert.equal(follower.follow(wire.subarray(0, 100)), 100);
  follower.stopAtBoundary();
  assert.equal(follower.stopped, false);
  assert.equal(follower.follow(wire.subarray(100)), 504 - 100); // the first frame's header is 4 bytes
  assert.equal(follower.stopped, true);
  assert.equal(follower.follow(wire.subarray(504)), 0);
});

test('closeFrame: a Close with code and reason, masked toward a server and readable back', () => {
  for (const masked of [false, true]) {
    const f = closeFrame(1001, 'going away', masked);
    const header = readFrameHeader(f, newFrameHeader());
    assert.deepEqual([header.fin, header.opcode, header.masked, header.payloadBytes], [true, 8, masked, 12]);
    const payload = Buffer.from(f.subarray(masked ? 6 : 2));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= f[2 + (i & 3)]!;
    assert.equal(payload.readUInt16BE(0), 1001);
    assert.equal(payload.subarray(2).toString(), 'going away');
  }
});
