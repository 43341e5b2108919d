// The codec inside the real link session (src/link) over the in-memory link pair: the captured corpus,
// one stream per captured connection, both directions interleaved in capture order, arrives
// byte-identical with its opcode, and every single-frame message was transcoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLinkCodec } from '../../src/codec/index.js';
import { DataFlag, FrameType, decodeFrame } from '../../src/link/frame.js';
import { RecordingHandler, StreamAcceptor, createSessionPair, until } from '../helpers/link-pair.js';
import { loadCorpus } from '../fixtures/corpus.js';

test('corpus through two LinkSessions with createLinkCodec on both ends: exact bytes, opcodes and order', async () => {
  const corpus = loadCorpus();
  const edgeCodec = createLinkCodec();
  const gatewayCodec = createLinkCodec();
  const acceptor = new StreamAcceptor(true);
  const { edge, pair } = createSessionPair(
    { codec: edgeCodec }, { codec: gatewayCodec, onStreamOpen: acceptor.accept },
  );
  const conns = [...new Set(corpus.map((r) => r.conn))];
  const streams = new Map<number, { local: ReturnType<typeof edge.openStream>; handler: RecordingHandler; index: number }>();
  for (const conn of conns) {
    const local = edge.openStream(Buffer.from(JSON.stringify({ sessionId: `c${conn}`, path: '/ws' })));
    const handler = new RecordingHandler(true);
    local.bind(handler);
    streams.set(conn, { local, handler, index: streams.size });
  }
  await until(() => acceptor.streams.length === conns.length, 'the gateway to accept every stream');
  for (const r of corpus) {
    const s = streams.get(r.conn)!;
    if (r.dir === 0) s.local.sendMessage(Buffer.from(r.bytes), r.opcode === 1);
    else acceptor.streams[s.index]!.stream.sendMessage(Buffer.from(r.bytes), r.opcode === 1);
  }
  const expect = (conn: number, dir: 0 | 1) => corpus.filter((r) => r.conn === conn && r.dir === dir);
  await until(() => conns.every((conn) => {
    const s = streams.get(conn)!;
    return acceptor.streams[s.index]!.handler.messages.length === expect(conn, 0).length
      && s.handler.messages.length === expect(conn, 1).length;
  }), 'every message at the far end', 20_000);
  for (const conn of conns) {
    const s = streams.get(conn)!;
    const atGateway = acceptor.streams[s.index]!.handler.messages;
    expect(conn, 0).forEach((r, i) => {
      assert.ok(atGateway[i]!.data.equals(r.bytes), `c2s conn ${conn} message ${i}`);
      assert.equal(atGateway[i]!.isText, r.opcode === 1);
    });
    expect(conn, 1).forEach((r, i) => {
      assert.ok(s.handler.messages[i]!.data.equals(r.bytes), `s2c conn ${conn} message ${i}`);
      assert.equal(s.handler.messages[i]!.isText, r.opcode === 1);
    });
  }
  const transcoded = pair.a.sent.map((b) => decodeFrame(b, 1 << 24))
    .filter((f) => f.type === FrameType.DATA && (f.flags & DataFlag.CODEC) !== 0);
  assert.ok(transcoded.length > 50, `transcoded frames edge->gateway: ${transcoded.length}`);
  assert.equal(edgeCodec.sendStats.rawFallbacks, 0);
  assert.equal(gatewayCodec.receiveStats.messages, edgeCodec.sendStats.messages);
  assert.ok(edgeCodec.sendStats.bytesOut < edgeCodec.sendStats.bytesIn / 2, 'the link carried far fewer bytes');
});

test('codecWanted switching on and off mid-stream: raw messages interleave with transcoded ones, exact bytes', async () => {
  const corpus = loadCorpus().filter((r) => r.dir === 0);
  const acceptor = new StreamAcceptor(true);
  let wanted = true;
  const { edge, pair } = createSessionPair(
    { codec: createLinkCodec(), codecWanted: () => wanted }, { codec: createLinkCodec(), onStreamOpen: acceptor.accept },
  );
  const local = edge.openStream(Buffer.from('{}'));
  local.bind(new RecordingHandler(true));
  corpus.forEach((r, i) => {
    wanted = Math.floor(i / 3) % 2 === 0; // three transcoded, three raw, ...
    local.sendMessage(Buffer.from(r.bytes), r.opcode === 1);
  });
  await until(() => acceptor.streams[0]?.handler.messages.length === corpus.length, 'every message', 20_000);
  corpus.forEach((r, i) => assert.ok(acceptor.streams[0]!.handler.messages[i]!.data.equals(r.bytes), `message ${i}`));
  const data = pair.a.sent.map((b) => decodeFrame(b, 1 << 24)).filter((f) => f.type === FrameType.DATA && (f.flags & DataFlag.FIN));
  const raw = data.filter((f) => (f.flags & DataFlag.CODEC) === 0).length;
  assert.ok(raw > 10, `raw whole messages: ${raw} of ${corpus.length}`);
  assert.ok(data.length - raw > 0, 'and transcoded ones');
});
