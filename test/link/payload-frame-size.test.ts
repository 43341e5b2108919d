// The real payload plane on a link with a small maxFrameBytes: every frame on the wire (chunks with their
// headers, manifests) fits maxFrameBytes, and a large incompressible message still arrives exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSessionPair, RecordingHandler, StreamAcceptor, testSettings, until } from '../helpers/link-pair.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { PayloadPairs, payloadLimits } from '../../src/roles/payload-setup.js';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');

for (const maxFrameBytes of [16 * 1024, 20000, 64 * 1024]) {
  test(`payload frames never exceed maxFrameBytes = ${maxFrameBytes}`, async () => {
    const config = loadConfig('gateway', { flags: { listen: '127.0.0.1:0', hyphaUrl: 'http://127.0.0.1:1', secretFile: 'unused', maxFrameBytes, payloadBypassMbps: 0, shm: false }, env: {} });
    const log = createLogger('silent');
    const [edgePairs, gatewayPairs] = [new PayloadPairs(config, SECRET, log), new PayloadPairs(config, SECRET, log)];
    const settings = testSettings({ maxFrameBytes });
    const acceptor = new StreamAcceptor();
    const { pair, edge, gateway } = createSessionPair(
      { settings, blobs: edgePairs.planeFor('edge', 'gateway', 'gateway', maxFrameBytes) },
      { settings, blobs: gatewayPairs.planeFor('edge', 'gateway', 'edge', maxFrameBytes), onStreamOpen: acceptor.accept },
    );
    let largestFrameBytes = 0;
    const deliver = pair.b.onMessage!;
    pair.b.onMessage = (data) => {
      largestFrameBytes = Math.max(largestFrameBytes, data.length);
      deliver(data);
    };
    const stream = edge.openStream(Buffer.from('{}'));
    stream.bind(new RecordingHandler());
    const big = randomBytes(Math.min(payloadLimits(maxFrameBytes).maxBlobBytes, 3 * 1024 * 1024));
    stream.sendMessage(big, false);
    await until(() => acceptor.streams[0]?.handler.messages.length === 1 || edge.closed, 'the blob', 10000);
    assert.equal(edge.closed || gateway.closed, false, 'the link stays up');
    assert.ok(acceptor.streams[0]!.handler.messages[0]!.data.equals(big), 'exact bytes');
    assert.ok(edgePairs.metrics().blobsSent >= 1, 'it travelled as a blob');
    assert.ok(largestFrameBytes <= maxFrameBytes, `largest frame ${largestFrameBytes} > ${maxFrameBytes}`);
    edge.goAway('done');
    await Promise.all([edgePairs.close(), gatewayPairs.close()]);
  });
}

test('payloadLimits keeps a manifest of the largest blob within the frame', () => {
  for (const frameBytes of [16384, 20000, 65536, 1 << 20]) {
    const { chunking, maxBlobBytes } = payloadLimits(frameBytes);
    const entries = Math.ceil(maxBlobBytes / chunking.minChunkBytes);
    assert.ok(12 + 33 + entries * 21 <= frameBytes, `manifest for ${frameBytes}`);
    assert.ok(chunking.maxChunkBytes + 12 + 64 + 26 <= frameBytes);
    assert.ok(chunking.minChunkBytes <= chunking.avgChunkBytes && chunking.avgChunkBytes <= chunking.maxChunkBytes);
  }
});
