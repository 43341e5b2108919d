// Property tests: random msgpack of every format (non-minimal encodings included), packaged like hypha
// messages (main || extra || trailing bytes), round-trips byte-identically through encoder/decoder
// pairs, with default tables and with tiny tables that evict all the time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CodecDecoder, CodecEncoder, type CodecOptions } from '../../src/codec/index.js';
import { msgpackPackage } from './msgpack-arbitrary.js';

function roundTripAll(messages: Uint8Array[], opts: CodecOptions): void {
  const enc = new CodecEncoder(opts);
  const dec = new CodecDecoder(opts);
  for (const m of messages) {
    const c = enc.encodeBinary(m);
    if (c === null) continue; // did not scan: sent raw by the link
    assert.deepEqual(Buffer.from(dec.decodeBinary(c)), Buffer.from(m));
  }
}

test('random packages round-trip byte-identically (default tables)', () => {
  fc.assert(fc.property(fc.array(msgpackPackage, { minLength: 1, maxLength: 12 }), (msgs) => roundTripAll(msgs, {})),
    { numRuns: 300 });
});

test('random packages round-trip with tiny tables (constant eviction)', () => {
  const tiny: CodecOptions = {
    stringEntries: 3, stringBytes: 40, maxStringEntryBytes: 20, objectEntries: 2, objectBytes: 200,
    maxObjectEntryBytes: 100, minObjectEntryBytes: 2, shapeEntries: 2, shapeBytes: 64, maxShapeKeys: 3, maxDepth: 3,
  };
  fc.assert(fc.property(fc.array(msgpackPackage, { minLength: 1, maxLength: 20 }), (msgs) => roundTripAll(msgs, tiny)),
    { numRuns: 300 });
});

test('a package repeated many times keeps round-tripping as tables fill and hit', () => {
  fc.assert(fc.property(msgpackPackage, fc.integer({ min: 2, max: 6 }), (m, times) => {
    roundTripAll(Array.from({ length: times }, () => m), {});
  }), { numRuns: 200 });
});

test('only unscannable input falls back to raw, and it is counted', () => {
  const enc = new CodecEncoder();
  assert.equal(enc.encodeBinary(Uint8Array.of(0xc1)), null);
  assert.equal(enc.encodeBinary(Uint8Array.of(0xdc, 0x00, 0x05, 0x01)), null); // truncated array16
  assert.equal(enc.encodeBinary(new Uint8Array(0)), null);
  assert.equal(enc.stats.rawFallbacks, 3);
  // main scans, the rest does not: it travels as trailing bytes, still exact
  const m = Uint8Array.of(0x81, 0xa1, 0x61, 0x01, 0xc1, 0xff);
  const c = enc.encodeBinary(m);
  assert.ok(c, 'c');
  assert.deepEqual(new CodecDecoder().decodeBinary(c), m);
});

test('nesting deeper than maxDepth is carried verbatim and decodes exactly', () => {
  const depth = 200;
  const m = new Uint8Array(depth + 1).fill(0x91);
  m[depth] = 0x2a;
  const enc = new CodecEncoder({ maxDepth: 16 });
  const dec = new CodecDecoder({ maxDepth: 16 });
  assert.deepEqual(dec.decodeBinary(enc.encodeBinary(m)!), m);
});
