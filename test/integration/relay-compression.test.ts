// Issue 12 end to end: a pair told its link is slow (linkBandwidthMbps 20) with link compression on, in
// front of the real hypha server. The Python caller's calls, arrays and >1 MiB arrays arrive exact; new
// chunks crossed packed in units (payload-v3) and small link messages crossed compressed (stream-deflate-v1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { failedChecks, runPyCaller, startPyService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';

const CHECKS = ['echo', 'arrays', 'array_large', 'bytes_large'];
const slowLink = { shm: false, linkBandwidthMbps: 20, linkCompression: 'on', payloadBypassMbps: 0 };

describe('a pair on a slow link: units and link compression', () => {
  let pair: AccelPair;
  let py: ServiceProcess | undefined;

  before(async () => {
    pair = await startAccelPair(await serverUrlFromEnv(), { edge: slowLink, gateway: slowLink });
    py = await startPyService(pair.edgeUrl, uniqueServiceId('py'));
  });
  after(async () => {
    await py?.stop();
    await pair?.close();
  });

  test('Python calls and arrays pass exact; arrays went as units, small messages compressed', async () => {
    const result = await runPyCaller(pair.edgeUrl, py!.serviceId, { checks: CHECKS });
    const failed = failedChecks(result);
    assert.deepEqual(failed, [], `failed checks\n${failed.join('\n')}\nstderr:\n${result.stderr.slice(-2000)}`);
    for (const name of CHECKS) assert.equal(result.checks[name], true, `check ${name} did not run`);
    const edge = pair.edge.payloadMetrics();
    const gateway = pair.gateway.payloadMetrics();
    const context = `edge ${JSON.stringify(edge)}\ngateway ${JSON.stringify(gateway)}`;
    assert.ok(edge.unitsSent! > 0 && gateway.unitsReceived! > 0, `upward arrays must travel as units\n${context}`);
    assert.ok(edge.unitWireBytes! < edge.unitRawBytes!, `units must be smaller than their chunks\n${context}`);
    assert.equal(edge.blobsFailed! + gateway.blobsFailed!, 0, context);
    for (const [role, stats] of [['edge', pair.edge.linkStats], ['gateway', pair.gateway.linkStats]] as const) {
      assert.ok(stats.linkMessagesCompressed > 0 && stats.linkCompressWireBytes < stats.linkCompressRawBytes, `${role} link compression ${JSON.stringify(stats)}`);
    }
  });
});
