// Decoder fuzzing: random and mutated compact input raises only coded errors (never another
// exception, never a silent wrong answer for a declared length); errors found in the header leave the
// instance usable, later ones poison it, and a fresh instance always works afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CodecDecoder, CodecEncoder, CodecError } from '../../src/codec/index.js';
import { loadCorpus } from '../fixtures/corpus.js';

const samples = loadCorpus().filter((r) => r.opcode === 2 && r.dir === 1 && r.bytes.length < 4000).slice(0, 12);

function compactOf(n: number): { compact: Uint8Array[]; originals: Uint8Array[] } {
  const enc = new CodecEncoder();
  const originals = samples.slice(0, n).map((r) => r.bytes);
  return { compact: originals.map((m) => enc.encodeBinary(m)!), originals };
}

function decodeOrCoded(dec: CodecDecoder, input: Uint8Array): Uint8Array | CodecError {
  try {
    return dec.decodeBinary(input);
  } catch (err) {
    assert.ok(err instanceof CodecError, `uncoded error: ${String(err)}`);
    assert.match(err.code, /^HYPHA_ACCEL_ERR_CODEC_/);
    return err;
  }
}

test('random bytes: only coded errors; a fresh decoder works afterwards', () => {
  const { compact, originals } = compactOf(3);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
    const dec = new CodecDecoder({ maxMessageBytes: 1 << 16 });
    decodeOrCoded(dec, junk);
    const fresh = new CodecDecoder();
    compact.forEach((c, i) => assert.deepEqual(fresh.decodeBinary(c), originals[i]));
  }), { numRuns: 500 });
});

test('mutated valid messages: only coded errors; header errors keep the instance, body errors poison it', () => {
  const { compact, originals } = compactOf(8);
  fc.assert(fc.property(
    fc.integer({ min: 0, max: compact.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    fc.boolean(),
    (idx, edits, truncate) => {
      const dec = new CodecDecoder();
      for (let i = 0; i < idx; i++) dec.decodeBinary(compact[i]!);
      const m = compact[idx]!.slice();
      for (const [at, v] of edits) m[at % m.length] = v;
      const input = truncate ? m.subarray(0, Math.max(0, m.length - 3)) : m;
      const r = decodeOrCoded(dec, input);
      if (r instanceof CodecError) {
        if (!r.fatal) {
          // header error: the same instance still decodes the genuine message
          assert.deepEqual(dec.decodeBinary(compact[idx]!), originals[idx]);
        } else {
          assert.throws(() => dec.decodeBinary(compact[idx]!), { code: 'HYPHA_ACCEL_ERR_CODEC_POISONED' });
        }
      }
      const fresh = new CodecDecoder();
      for (let i = 0; i <= idx; i++) assert.deepEqual(fresh.decodeBinary(compact[i]!), originals[i]);
    },
  ), { numRuns: 800 });
});

test('declared lengths are checked before allocating', () => {
  const dec = new CodecDecoder({ maxMessageBytes: 1000 });
  // header: version 1, one value, seq 0, digest 0, length 2^40
  const huge = Uint8Array.of(0x12, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0xc0);
  assert.throws(() => dec.decodeBinary(huge), { code: 'HYPHA_ACCEL_ERR_CODEC_LIMIT' });
  // a raw value claiming more bytes than the message holds
  const raw = Uint8Array.of(0x12, 0, 0, 0, 10, 0x45, 0xff, 0xff, 0x03, 0xc0);
  assert.throws(() => new CodecDecoder().decodeBinary(raw), { code: 'HYPHA_ACCEL_ERR_CODEC_MALFORMED' });
  // still usable after the header-level refusal
  const enc = new CodecEncoder();
  const m = Uint8Array.of(0x81, 0xa1, 0x61, 0xc3);
  assert.deepEqual(dec.decodeBinary(enc.encodeBinary(m)!), m);
});
