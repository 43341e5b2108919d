// The link over the gateway's Unix socket (gatewayUrl unix:///PATH, gateway linkSocketPath), for an edge
// and gateway on one host: the real Python and JS clients pass every workload check through it, large
// messages cut through (no payload plane, no shared memory) with every message leaving the far proxy with
// the same bytes and opcode, HTTP passthrough takes the same socket, and the socket file is 0600.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { failedChecks, httpServiceCall, runJsCaller, runPyCaller, startJsService, startPyService, uniqueServiceId, type CallerResult, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { subscribeMessages, type RecordedMessage } from '../../src/observe/frame-recorder.js';

function assertAllPassed(result: CallerResult, what: string): void {
  const failed = failedChecks(result);
  assert.deepEqual(failed, [], `${what}: failed checks\n${failed.join('\n')}\nstderr:\n${result.stderr.slice(-2000)}`);
  assert.ok(Object.keys(result.checks).length >= 10, `${what}: too few checks ran`);
}

describe('a link over the gateway\'s Unix socket', () => {
  let pair: AccelPair;
  let py: ServiceProcess | undefined;
  let js: ServiceProcess | undefined;
  const recorded: RecordedMessage[] = [];
  let unsubscribe = () => {};

  before(async () => {
    const noShm = { shm: false };
    pair = await startAccelPair(await serverUrlFromEnv(), { link: 'unix', edge: noShm, gateway: noShm });
    unsubscribe = subscribeMessages((record) => recorded.push(record));
    [py, js] = await Promise.all([startPyService(pair.edgeUrl, uniqueServiceId('py')), startJsService(pair.edgeUrl, uniqueServiceId('js'))]);
  });
  after(async () => {
    unsubscribe();
    await Promise.all([py?.stop(), js?.stop()]);
    await pair?.close();
  });

  test('the edge dials the socket file, which only this user may open', () => {
    const info = pair.edge.linkInfo();
    assert.ok(info.length > 0, 'a link is up');
    const socketPath = pair.linkSocketPath!;
    const stats = statSync(socketPath);
    assert.ok(stats.isSocket(), `${socketPath} is a socket`);
    assert.equal(stats.mode & 0o777, 0o600);
  });

  test('Python caller -> JS service and JS caller -> Python service', async () => {
    assertAllPassed(await runPyCaller(pair.edgeUrl, js!.serviceId), 'py->js');
    assertAllPassed(await runJsCaller(pair.edgeUrl, py!.serviceId), 'js->py');
  });

  test("hypha's HTTP services API through the edge (passthrough over the socket)", async () => {
    const id = `${py!.clientId}:${py!.shortId}`;
    assert.deepEqual(await httpServiceCall(pair.edgeUrl, py!.workspace, id, 'add', { method: 'GET', args: { a: 2, b: 3 } }), { status: 200, body: 5 });
  });

  test('large messages cut through, and every message leaves the far proxy unchanged', async () => {
    for (const stats of [pair.edge.linkStats, pair.gateway.linkStats]) {
      assert.equal(stats.blobsSent, 0, 'no payload plane on a fast link without shared memory');
      assert.ok(stats.frameBytesSent > 2 * 1024 * 1024, `the >1 MiB arguments crossed the link (${stats.frameBytesSent} bytes)`);
    }
    const key = (r: RecordedMessage) => `${r.sessionId} ${r.direction} ${r.role}/${r.hop}`;
    const streams = new Map<string, string[]>();
    for (const r of recorded) streams.set(key(r), [...(streams.get(key(r)) ?? []), `${r.isBinary ? 'bin' : 'txt'}:${r.length}:${r.sha256}`]);
    let compared = 0;
    for (const session of new Set(recorded.map((r) => r.sessionId))) {
      // Sessions still open may have messages in flight: compare the common prefix of each direction.
      for (const [from, to] of [['up edge/in', 'up gateway/out'], ['down gateway/in', 'down edge/out']] as const) {
        const sent = streams.get(`${session} ${from}`) ?? [];
        const arrived = streams.get(`${session} ${to}`) ?? [];
        assert.deepEqual(arrived, sent.slice(0, arrived.length), `session ${session} ${from} -> ${to}`);
        compared += arrived.length;
      }
    }
    assert.ok(compared > 200, `compared only ${compared} messages`);
    assert.ok(recorded.some((r) => r.length > 256 * 1024 - 1024 && r.isBinary), 'message_cache slices crossed');
  });
});
