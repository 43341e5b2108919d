// Table behaviour: eviction under tight bounds, reset by new instances, two independent links never
// mixing references (a foreign, lost or reordered message is refused, never decoded to wrong bytes),
// and the blob hook of the payload plane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecDecoder, CodecEncoder, CodecError, tableFingerprint, type BlobSink, type BlobSource,
} from '../../src/codec/index.js';
import { loadCorpus } from '../fixtures/corpus.js';

const binary = loadCorpus().filter((r) => r.opcode === 2);
const s2c = binary.filter((r) => r.dir === 1).map((r) => r.bytes);
const c2s = binary.filter((r) => r.dir === 0).map((r) => r.bytes);

test('tight tables evict constantly and still round-trip exactly', () => {
  const tight = { stringEntries: 8, stringBytes: 300, maxStringEntryBytes: 100, objectEntries: 3, objectBytes: 2000,
    maxObjectEntryBytes: 1000, shapeEntries: 2, shapeBytes: 300 };
  const enc = new CodecEncoder(tight);
  const dec = new CodecDecoder(tight);
  for (const m of [...s2c, ...c2s, ...s2c]) assert.deepEqual(dec.decodeBinary(enc.encodeBinary(m)!), m);
});

test('references are reused: the second identical message is much smaller than the first', () => {
  const enc = new CodecEncoder();
  const m = s2c.find((x) => x.length > 300 && x.length < 1000)!;
  const first = enc.encodeBinary(m)!.length;
  const second = enc.encodeBinary(m)!.length;
  assert.ok(second * 4 < first, `${first} then ${second}`);
});

test('a reset (new instances on both sides) starts from empty tables and works', () => {
  let enc = new CodecEncoder();
  let dec = new CodecDecoder();
  for (const m of s2c.slice(0, 20)) dec.decodeBinary(enc.encodeBinary(m)!);
  enc = new CodecEncoder();
  dec = new CodecDecoder();
  for (const m of s2c.slice(0, 20)) assert.deepEqual(dec.decodeBinary(enc.encodeBinary(m)!), m);
});

test('two independent links never mix: foreign messages are refused with DESYNC', () => {
  const encA = new CodecEncoder();
  const decA = new CodecDecoder();
  const encB = new CodecEncoder();
  const decB = new CodecDecoder();
  const encBReplay: Uint8Array[] = [];
  let refused = 0;
  for (let i = 0; i < 40; i++) {
    const a = encA.encodeBinary(s2c[i]!)!;
    const b = encB.encodeBinary(c2s[i]!)!;
    // the genuine decoders get their own messages in order
    assert.deepEqual(decA.decodeBinary(a), s2c[i]);
    assert.deepEqual(decB.decodeBinary(b), c2s[i]);
    // a decoder in the same state as decB that receives A's message: refused or (if the tables
    // happen to agree on everything it uses) exact - never other bytes
    const probe = new CodecDecoder();
    for (let j = 0; j < i; j++) probe.decodeBinary(encBReplay[j]!);
    try {
      assert.deepEqual(probe.decodeBinary(a), s2c[i]);
    } catch (err) {
      assert.ok(err instanceof CodecError && err.code === 'HYPHA_ACCEL_ERR_CODEC_DESYNC', String(err));
      refused++;
    }
    encBReplay.push(b);
  }
  assert.ok(refused > 30, `refused ${refused}`);
});

test('a lost or reordered message is refused, and the instance keeps working once order resumes', () => {
  const enc = new CodecEncoder();
  const dec = new CodecDecoder();
  const compact = s2c.slice(0, 6).map((m) => enc.encodeBinary(m)!);
  dec.decodeBinary(compact[0]!);
  assert.throws(() => dec.decodeBinary(compact[2]!), (e: CodecError) => e.code === 'HYPHA_ACCEL_ERR_CODEC_DESYNC' && !e.fatal);
  for (let i = 1; i < 6; i++) assert.deepEqual(dec.decodeBinary(compact[i]!), s2c[i]);
});

test('table fingerprints differ when bounds differ (checked by the link handshake)', () => {
  assert.equal(tableFingerprint({}), tableFingerprint({}));
  assert.notEqual(tableFingerprint({}), tableFingerprint({ stringEntries: 100 }));
  assert.throws(() => new CodecEncoder({ stringEntries: 0 }), { code: 'HYPHA_ACCEL_ERR_CODEC_CONFIG' });
});

test('blob hook: large bins leave the message through the sink and come back exactly', () => {
  const store = new Map<string, Uint8Array>();
  const sink: BlobSink = { put: (p) => { const ref = Buffer.from(`blob-${store.size}`); store.set(ref.toString(), p.slice()); return ref; } };
  const source: BlobSource = { get: (ref) => store.get(Buffer.from(ref).toString()) };
  const enc = new CodecEncoder({ blobThresholdBytes: 1024, blobSink: sink });
  const dec = new CodecDecoder({ blobSource: source });
  const big = binary.filter((r) => r.bytes.length > 100_000).map((r) => r.bytes);
  assert.ok(big.length > 0, 'big.length > 0');
  for (const m of big) {
    const c = enc.encodeBinary(m)!;
    assert.ok(c.length < 2000, `blob lifted out: ${c.length} bytes left`);
    assert.deepEqual(dec.decodeBinary(c), m);
  }
  assert.ok(enc.stats.blobs >= big.length, 'enc.stats.blobs >= big.length');
  const lost = new CodecDecoder({ blobSource: { get: () => undefined } });
  assert.throws(() => lost.decodeBinary(new CodecEncoder({ blobThresholdBytes: 1024, blobSink: sink }).encodeBinary(big[0]!)!),
    { code: 'HYPHA_ACCEL_ERR_CODEC_BLOB' });
});

test('a failing blob sink poisons the encoder (its tables moved for a message never sent)', () => {
  const enc = new CodecEncoder({ blobThresholdBytes: 16, blobSink: { put: () => { throw new Error('full'); } } });
  const m = Uint8Array.of(0x82, 0xa1, 0x61, 0xa3, 0x61, 0x62, 0x63, 0xa1, 0x62, 0xc4, 20, ...new Uint8Array(20));
  assert.throws(() => enc.encodeBinary(m), { code: 'HYPHA_ACCEL_ERR_CODEC_BLOB' });
  assert.throws(() => enc.encodeBinary(m), { code: 'HYPHA_ACCEL_ERR_CODEC_POISONED' });
});
