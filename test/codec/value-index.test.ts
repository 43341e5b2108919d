// The value index: one validating pass recording, per value in pre-order, start, end, subtree size
// and the big-bin flag; malformed or truncated input is refused without leaving ordinals behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FLAG_BIG_BIN, ValueIndex } from '../../src/codec/value-index.js';
import { skipValue } from '../../src/codec/msgpack-scan.js';
import { msgpackValue } from './msgpack-arbitrary.js';

test('a nested value: starts, ends and subtree sizes in pre-order', () => {
  // {"a": [1, "xy"], "b": bin8(300 would not fit; use 3 bytes)}
  const m = Uint8Array.of(0x82, 0xa1, 0x61, 0x92, 0x01, 0xa2, 0x78, 0x79, 0xa1, 0x62, 0xc4, 0x03, 7, 8, 9);
  const ix = new ValueIndex(1000, 2);
  assert.equal(ix.add(m, 0, m.length), m.length);
  assert.equal(ix.count, 7);
  assert.deepEqual([...ix.starts.subarray(0, 7)], [0, 1, 3, 4, 5, 8, 10]);
  assert.deepEqual([...ix.ends.subarray(0, 7)], [15, 3, 8, 5, 8, 10, 15]);
  assert.deepEqual([...ix.sizes.subarray(0, 7)], [7, 1, 3, 1, 1, 1, 1]);
  assert.equal(ix.flags[0]! & FLAG_BIG_BIN, FLAG_BIG_BIN, 'the map holds a bin >= 2 bytes');
  assert.equal(ix.flags[2]! & FLAG_BIG_BIN, 0, 'the array does not');
});

test('agrees with skipValue on random msgpack, and refuses truncations', () => {
  fc.assert(fc.property(msgpackValue, fc.nat(), (v, cut) => {
    const ix = new ValueIndex(1 << 20, 256);
    assert.equal(ix.add(v, 0, v.length), skipValue(v, 0, v.length, new Int32Array(1)));
    assert.equal(ix.sizes[0], ix.count);
    const short = cut % v.length;
    const ix2 = new ValueIndex(1 << 20, 256);
    assert.equal(ix2.add(v, 0, short), -1);
    assert.equal(ix2.count, 0);
  }), { numRuns: 500 });
});

test('more values than the limit are refused (the message then travels raw)', () => {
  const m = new Uint8Array(1 + 2 + 300);
  m[0] = 0xdc; m[1] = 0x01; m[2] = 0x2c; // array16 of 300 zeros
  assert.equal(new ValueIndex(100, 256).add(m, 0, m.length), -1);
  assert.equal(new ValueIndex(1000, 256).add(m, 0, m.length), m.length);
});
