import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IngressParser, type IngressSink } from '../../src/net/ingress-parser.js';
import { unmaskInPlace } from '../../src/net/ws-mask.js';
import { wsFrame } from '../helpers/ws-frames.js';

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** One WebSocket frame as a client (masked) or a server (unmasked) sends it. */
function frame(opcode: number, fin: boolean, payload: Buffer, masked: boolean, rsv = 0): Buffer {
  return wsFrame(opcode, fin, payload, masked ? MASK : undefined, rsv);
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

interface Run { passed: Buffer; messages: Buffer[]; fins: number; failed?: number }

function run(chunks: Buffer[], options: { isServer: boolean; maxMessageBytes?: number; sink?: 'big' | 'all' | 'none' }): Run {
  const passed: Buffer[] = [];
  const messages: Buffer[] = [];
  let current: Buffer[] = [];
  let fins = 0;
  let failed: number | undefined;
  const parser = new IngressParser({ isServer: options.isServer, maxMessageBytes: options.maxMessageBytes ?? 1 << 20 }, {
    pass: (b) => passed.push(Buffer.from(b)),
    fail: (code) => { failed = code; },
  });
  const policy = options.sink ?? 'big';
  if (policy !== 'none') {
    const sink: IngressSink = {
      wants: (frameBytes) => policy === 'all' || frameBytes > 1000,
      piece: (data, fin) => {
        current.push(Buffer.from(data));
        if (fin) {
          fins++;
          messages.push(Buffer.concat(current));
          current = [];
        }
      },
    };
    parser.sink = sink;
  }
  for (const chunk of chunks) parser.write(Buffer.from(chunk)); // fresh copies: unmasking is in place
  return { passed: Buffer.concat(passed), messages, fins, failed };
}

function scenario(masked: boolean) {
  const big1 = bytes(70_000, 1);
  const big2 = Buffer.concat([bytes(3000, 2), bytes(5, 3), bytes(4001, 4)]);
  const smallText = frame(1, true, Buffer.from('{"hello":1}'), masked);
  const ping = frame(9, true, Buffer.from('p'), masked);
  const smallBinary = frame(2, true, bytes(500, 5), masked);
  const wsFragmented = [frame(2, false, bytes(40, 6), masked), frame(0, true, bytes(5000, 7), masked)]; // first frame small: ws keeps it
  const stream = Buffer.concat([
    smallText,
    frame(2, true, big1, masked),
    ping,
    frame(2, false, big2.subarray(0, 3000), masked), ping, frame(0, false, big2.subarray(3000, 3005), masked), frame(0, false, Buffer.alloc(0), masked), frame(0, true, big2.subarray(3005), masked),
    smallBinary,
    ...wsFragmented,
    frame(2, true, bytes(1001, 8), masked),
    frame(8, true, Buffer.from([0x03, 0xe8]), masked),
    frame(2, true, bytes(2000, 9), masked), // after a close: ws's, never taken
  ]);
  const expectPassed = Buffer.concat([smallText, ping, ping, smallBinary, ...wsFragmented, frame(8, true, Buffer.from([0x03, 0xe8]), masked), frame(2, true, bytes(2000, 9), masked)]);
  return { stream, expectPassed, expectMessages: [big1, big2, bytes(1001, 8)] };
}

for (const masked of [true, false]) {
  test(`ingress parser (${masked ? 'client frames, masked' : 'server frames'}): split at every offset, ws gets exactly the frames it keeps, taken messages are exact`, () => {
    const { stream, expectPassed, expectMessages } = scenario(masked);
    const whole = run([stream], { isServer: masked });
    assert.deepEqual(whole.passed, expectPassed);
    assert.deepEqual(whole.messages, expectMessages);
    for (let cut = 1; cut < stream.length; cut += cut < 200 ? 1 : 97) {
      const split = run([stream.subarray(0, cut), stream.subarray(cut)], { isServer: masked });
      assert.ok(split.passed.equals(expectPassed), `passed bytes at cut ${cut}`);
      assert.equal(split.fins, 3);
      for (let i = 0; i < 3; i++) assert.ok(split.messages[i].equals(expectMessages[i]), `message ${i} at cut ${cut}`);
    }
  });
}

test('ingress parser: any splits into 1..40 pieces give the same result (property)', () => {
  const { stream, expectPassed, expectMessages } = scenario(true);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
    const points = [...new Set(cuts)].sort((a, b) => a - b);
    const chunks = [0, ...points].map((from, i) => stream.subarray(from, i < points.length ? points[i] : stream.length));
    const result = run(chunks, { isServer: true });
    return result.passed.equals(expectPassed) && result.messages.length === 3 && result.messages.every((m, i) => m.equals(expectMessages[i]));
  }), { numRuns: 300 });
});

test('ingress parser: without a sink every byte reaches ws unchanged, in order, for any input (garbage included)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 8 }), (input, cutSeeds) => {
    const data = Buffer.from(input);
    const cuts = [...new Set(cutSeeds.map((s) => (data.length ? s % data.length : 0)))].sort((a, b) => a - b);
    const chunks = [0, ...cuts].map((from, i) => data.subarray(from, i < cuts.length ? cuts[i] : data.length));
    const result = run(chunks, { isServer: true, sink: 'none' });
    // Only an incomplete frame header at the very end may still be held (at most 13 bytes).
    return data.subarray(0, result.passed.length).equals(result.passed) && data.length - result.passed.length <= 13;
  }), { numRuns: 500 });
});

test('ingress parser: garbage with a sink that takes everything never throws and hands on no more than it read', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.boolean(), (input, isServer) => {
    const result = run([Buffer.from(input)], { isServer, sink: 'all', maxMessageBytes: 4096 });
    const taken = result.messages.reduce((n, m) => n + m.length, 0);
    return taken + result.passed.length <= input.length;
  }), { numRuns: 500 });
});

test('ingress parser: a taken message that grows past maxMessageBytes fails 1009 before its bytes are handed on; nothing after is read', () => {
  const first = frame(2, false, bytes(3000, 1), true);
  const tooMuch = frame(0, true, bytes(2000, 2), true);
  const result = run([Buffer.concat([first, tooMuch, frame(1, true, Buffer.from('x'), true)])], { isServer: true, maxMessageBytes: 4096 });
  assert.equal(result.failed, 1009);
  assert.equal(result.passed.length, 0);
  assert.equal(result.fins, 0);
  // A 64-bit length beyond 2^53 inside a taken message: 1009 from the header alone.
  const huge = Buffer.from([0x00, 0x80 | 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
  assert.equal(run([first, huge], { isServer: true }).failed, 1009);
});

test('ingress parser: a first frame larger than maxMessageBytes is left to ws (which refuses it with 1009)', () => {
  const big = frame(2, true, bytes(5000, 1), true);
  const result = run([big], { isServer: true, maxMessageBytes: 4096 });
  assert.equal(result.failed, undefined);
  assert.ok(result.passed.equals(big));
});

test('ingress parser: protocol errors inside a taken message fail 1002 (new data frame, RSV bits, wrong masking)', () => {
  const first = frame(2, false, bytes(3000, 1), true);
  assert.equal(run([first, frame(2, true, bytes(10, 2), true)], { isServer: true }).failed, 1002);
  assert.equal(run([first, frame(0, true, bytes(10, 2), true, 0x40)], { isServer: true }).failed, 1002);
  assert.equal(run([first, frame(0, true, bytes(10, 2), false)], { isServer: true }).failed, 1002);
  // A wrongly masked first frame is never taken: ws refuses it.
  const unmasked = frame(2, true, bytes(3000, 1), false);
  assert.ok(run([unmasked], { isServer: true }).passed.equals(unmasked));
});

test('unmaskInPlace matches a byte-by-byte XOR at every mask offset and alignment (short: JS, long: native)', () => {
  for (const size of [11, 301]) {
  const source = bytes(size, 3);
  for (let offset = 0; offset < 4; offset++) {
    for (let start = 0; start < 8; start++) {
      const backing = Buffer.from(source);
      const view = backing.subarray(start);
      unmaskInPlace(view, MASK, offset);
      for (let i = 0; i < view.length; i++) assert.equal(view[i], source[start + i] ^ MASK[(offset + i) & 3]);
    }
  }
  }
});

/** Runs with a sink that also takes small whole messages; returns ws's bytes and the whole messages re-framed, in order. */
function runWhole(chunks: Buffer[], masked: boolean, reading = () => true): { inOrder: Buffer; whole: Buffer[]; pieces: number } {
  const inOrder: Buffer[] = [];
  const whole: Buffer[] = [];
  let pieces = 0;
  const parser = new IngressParser({ isServer: masked, maxMessageBytes: 1 << 20, wholeMessageBytes: 600 }, {
    pass: (b) => inOrder.push(Buffer.from(b)),
    fail: () => assert.fail('no failure expected'),
    reading,
  });
  parser.sink = {
    wants: (frameBytes) => frameBytes > 1000,
    piece: () => { pieces++; },
    message: (data) => {
      whole.push(Buffer.from(data));
      inOrder.push(frame(2, true, data, masked)); // the same mask: the very bytes that came in
    },
  };
  for (const chunk of chunks) parser.write(Buffer.from(chunk));
  return { inOrder: Buffer.concat(inOrder), whole, pieces };
}

for (const masked of [true, false]) {
  test(`ingress parser (${masked ? 'masked' : 'server frames'}): a small binary message whole in one read is handed on whole, in order with ws's frames, at every split`, () => {
    const { stream, expectPassed } = scenario(masked);
    const smallBinary = bytes(500, 5);
    const smallFrame = frame(2, true, smallBinary, masked);
    const smallAt = stream.indexOf(smallFrame);
    for (let cut = 1; cut < stream.length; cut += cut < 200 ? 1 : 53) {
      const result = runWhole([stream.subarray(0, cut), stream.subarray(cut)], masked);
      assert.ok(result.inOrder.equals(expectPassed), `order and bytes at cut ${cut}`);
      const inside = cut > smallAt && cut < smallAt + smallFrame.length;
      assert.deepEqual(result.whole, inside ? [] : [smallBinary], `whole messages at cut ${cut}`);
    }
  });
}

test('ingress parser: text, fragmented, oversized and RSV-flagged frames are never taken whole; nothing once ws stopped reading', () => {
  const frames = [frame(1, true, Buffer.from('text'), true), frame(2, false, bytes(10, 1), true), frame(0, true, bytes(10, 2), true), frame(2, true, bytes(700, 3), true), frame(2, true, bytes(10, 4), true, 0x40)];
  assert.deepEqual(runWhole([Buffer.concat(frames)], true).whole, []);
  const small = frame(2, true, bytes(10, 5), true);
  assert.deepEqual(runWhole([small], true, () => false).whole, []);
  assert.deepEqual(runWhole([small], false).whole, [], 'a masked frame toward a client is ws\'s to refuse');
});
