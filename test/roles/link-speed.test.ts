// Which links count as fast (the payload plane and the codec step aside on them): a loaded host inflates
// a loopback link's measured round trip so that window / RTT looks slow; a link over a Unix socket cannot
// leave the host and counts as fast whatever its RTT, while a network link with the same RTT does not.
import test from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { isFastLink, linkEstimate } from '../../src/roles/link-speed.js';

const config = loadConfig('edge', { flags: { listen: '127.0.0.1:0', gatewayUrl: 'tcp://127.0.0.1:1', secretFile: 'unused' }, env: {} });
const PACING_WINDOW_BYTES = 512 * 1024;

test('a link with a 10 ms round trip and a 512 KiB pacing window is not fast; over a Unix socket it is', () => {
  const measured = { rttMs: 10, pacingWindowBytes: PACING_WINDOW_BYTES };
  assert.equal(isFastLink(linkEstimate(config, measured), config.payloadBypassMbps), false, '512 KiB per 10 ms is ~420 Mbit/s');
  assert.equal(isFastLink(linkEstimate(config, { ...measured, sameHost: true }), config.payloadBypassMbps), true);
  assert.equal(isFastLink(linkEstimate(config, { ...measured, sameHost: true }), config.codecBypassMbps), true);
});

test('a Unix-socket link is fast before any round trip is measured; an unmeasured network link is unknown', () => {
  assert.equal(linkEstimate(config, { rttMs: undefined, pacingWindowBytes: undefined }), undefined);
  assert.equal(isFastLink(linkEstimate(config, { rttMs: undefined, pacingWindowBytes: undefined, sameHost: true }), config.payloadBypassMbps), true);
});

test('0 still means "always use the plane", also on a Unix socket', () => {
  assert.equal(isFastLink(linkEstimate(config, { rttMs: 1, pacingWindowBytes: PACING_WINDOW_BYTES, sameHost: true }), 0), false);
});
