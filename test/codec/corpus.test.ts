// Round trip of the captured corpus (real hypha server, Python and JS clients): every message is
// byte-identical after encode/decode, per connection and with all connections of a direction
// interleaved on one pair (as one link carries many sessions); text frames too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodecDecoder, CodecEncoder, decodeText, encodeText } from '../../src/codec/index.js';
import { loadCorpus } from '../fixtures/corpus.js';

const corpus = loadCorpus();

test('corpus covers both directions, both client libraries, text and binary', () => {
  for (const dir of [0, 1]) for (const lib of [0, 1]) {
    assert.ok(corpus.some((r) => r.dir === dir && r.lib === lib && r.opcode === 2), `binary dir=${dir} lib=${lib}`);
  }
  assert.ok(corpus.some((r) => r.opcode === 1), 'corpus.some((r) => r.opcode === 1)');
  assert.ok(corpus.some((r) => r.bytes.length > 200_000), 'message_cache chunks');
});

for (const dir of [0, 1] as const) {
  test(`corpus ${dir === 0 ? 'client->server' : 'server->client'}: one pair per direction, byte-identical`, () => {
    const enc = new CodecEncoder();
    const dec = new CodecDecoder();
    let inBytes = 0;
    let outBytes = 0;
    for (const r of corpus) {
      if (r.dir !== dir || r.opcode !== 2) continue;
      const c = enc.encodeBinary(r.bytes);
      assert.ok(c, 'every real hypha message scans');
      assert.deepEqual(Buffer.from(dec.decodeBinary(c)), Buffer.from(r.bytes));
      inBytes += r.bytes.length;
      outBytes += c.length;
    }
    assert.equal(enc.stats.rawFallbacks, 0);
    assert.ok(outBytes < inBytes, 'the compact form is smaller overall');
  });
}

test('corpus per connection (a fresh pair per session) round-trips', () => {
  const conns = new Set(corpus.map((r) => `${r.conn}/${r.dir}`));
  for (const key of conns) {
    const enc = new CodecEncoder();
    const dec = new CodecDecoder();
    for (const r of corpus) {
      if (`${r.conn}/${r.dir}` !== key || r.opcode !== 2) continue;
      assert.deepEqual(Buffer.from(dec.decodeBinary(enc.encodeBinary(r.bytes)!)), Buffer.from(r.bytes));
    }
  }
});

test('server->client small messages shrink to a small fraction once tables are warm', () => {
  const enc = new CodecEncoder();
  const sizes: number[] = [];
  for (const r of corpus) {
    if (r.dir !== 1 || r.opcode !== 2) continue;
    const c = enc.encodeBinary(r.bytes)!;
    if (r.bytes.length < 1000) sizes.push(c.length / r.bytes.length);
  }
  const late = sizes.slice(Math.floor(sizes.length / 2));
  const mean = late.reduce((a, b) => a + b, 0) / late.length;
  assert.ok(mean < 0.25, `mean ratio ${mean}`);
});

test('text control frames round-trip exactly, known ones in two bytes', () => {
  const texts = corpus.filter((r) => r.opcode === 1).map((r) => Buffer.from(r.bytes).toString('utf8'));
  texts.push('{"type":"ping"}', '{"type": "pong"}', '{"type": "refresh_token"}', '', 'ünïcødé ✓ {"x":1}');
  for (const s of texts) assert.equal(decodeText(encodeText(s)), s);
  assert.equal(encodeText('{"type": "ping"}').length, 2);
  assert.throws(() => decodeText(Uint8Array.of(0x02, 0xff, 0xfe)), { code: 'HYPHA_ACCEL_ERR_CODEC_MALFORMED' });
  assert.throws(() => decodeText(Uint8Array.of(0x01, 0xee)), { code: 'HYPHA_ACCEL_ERR_CODEC_MALFORMED' });
});

test('link-end codecs (createLinkCodec) carry the whole corpus both ways, text and binary', async () => {
  const { createLinkCodec } = await import('../../src/codec/index.js');
  const edge = createLinkCodec();
  const gateway = createLinkCodec();
  for (const r of corpus) {
    const [from, to] = r.dir === 0 ? [edge, gateway] : [gateway, edge];
    const isText = r.opcode === 1;
    const compact = from.encode(r.bytes, isText);
    assert.ok(compact, 'compact');
    assert.deepEqual(Buffer.from(to.decode(compact, isText)), Buffer.from(r.bytes));
  }
  assert.ok(edge.sendStats.messages > 0 && gateway.sendStats.messages > 0, 'edge.sendStats.messages > 0 && gateway.sendStats.messages > 0');
  assert.ok(edge.sendStats.textMessages > 0 && edge.receiveStats.textMessages > 0, 'edge.sendStats.textMessages > 0 && edge.receiveStats.textMessages > 0');
  assert.equal(edge.encode(Buffer.from('{"type": "ping"}'), true)!.length, 2);
});
