// The real Python and JS hypha-rpc clients through edge -> gateway -> real hypha: every workload check,
// HTTP transports, and frame-by-frame transparency (every message that enters one proxy leaves the other
// with the same bytes and opcode); then restarts of the gateway and of hypha itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  failedChecks, httpServiceCall, retryUntilOk, rpcHttpCheck, runJsCaller, runPyCaller, startJsService, startPyService,
  uniqueServiceId, type CallerResult, type ServiceProcess,
} from '../helpers/clients.js';
import { serverUrlFromEnv, startHyphaServer, type HyphaServer } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { subscribeMessages, type RecordedMessage } from '../../src/observe/frame-recorder.js';

function assertAllPassed(result: CallerResult, what: string): void {
  const failed = failedChecks(result);
  assert.deepEqual(failed, [], `${what}: failed checks\n${failed.join('\n')}\nstderr:\n${result.stderr.slice(-2000)}`);
  assert.ok(Object.keys(result.checks).length >= 10, `${what}: too few checks ran`);
}

async function waitFor(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('real clients through the pair', () => {
  let hyphaUrl = '';
  let pair: AccelPair;
  let py: ServiceProcess | undefined;
  let js: ServiceProcess | undefined;
  const recorded: RecordedMessage[] = [];
  let unsubscribe = () => {};

  before(async () => {
    hyphaUrl = await serverUrlFromEnv();
    // Loopback is a fast link, where the payload plane and the codec would step aside by default: keep both.
    const plane = { payloadBypassMbps: 0, codecBypassMbps: 0 };
    pair = await startAccelPair(hyphaUrl, { edge: plane, gateway: plane });
    unsubscribe = subscribeMessages((record) => recorded.push(record));
    [py, js] = await Promise.all([startPyService(pair.edgeUrl, uniqueServiceId('py')), startJsService(pair.edgeUrl, uniqueServiceId('js'))]);
  });
  after(async () => {
    unsubscribe();
    await Promise.all([py?.stop(), js?.stop()]);
    await pair?.close();
  });

  test('Python caller -> Python service', async () => assertAllPassed(await runPyCaller(pair.edgeUrl, py!.serviceId), 'py->py'));
  test('JS caller -> JS service', async () => assertAllPassed(await runJsCaller(pair.edgeUrl, js!.serviceId), 'js->js'));
  test('Python caller -> JS service', async () => assertAllPassed(await runPyCaller(pair.edgeUrl, js!.serviceId), 'py->js'));
  test('JS caller -> Python service', async () => assertAllPassed(await runJsCaller(pair.edgeUrl, py!.serviceId), 'js->py'));

  test('callers over the /rpc HTTP transport through the edge', async () => {
    const pyHttp = await runPyCaller(pair.edgeUrl, js!.serviceId, { transport: 'http' });
    assert.equal(pyHttp.transport, 'http');
    assertAllPassed(pyHttp, 'py(http)->js');
    assertAllPassed(await runJsCaller(pair.edgeUrl, py!.serviceId, { transport: 'http' }), 'js(http)->py');
  });

  test('/rpc streaming GET through the edge flushes connection_info first', async () => {
    const check = await rpcHttpCheck(pair.edgeUrl);
    assert.equal(check.status, 200);
    assert.equal(check.firstFrame.type, 'connection_info');
  });

  test("hypha's HTTP services API through the edge", async () => {
    const id = `${py!.clientId}:${py!.shortId}`;
    assert.deepEqual(await httpServiceCall(pair.edgeUrl, py!.workspace, id, 'add', { method: 'GET', args: { a: 2, b: 3 } }), { status: 200, body: 5 });
    const nested = { k: [1, 'two', null, { deep: true }] };
    assert.deepEqual(await httpServiceCall(pair.edgeUrl, py!.workspace, id, 'echo', { method: 'POST', args: { x: nested } }), { status: 200, body: nested });
    const failed = await httpServiceCall(pair.edgeUrl, py!.workspace, id, 'fail', { method: 'POST', args: { msg: 'via-edge-17' } });
    assert.equal(failed.status, 500);
    assert.match(String((failed.body as { detail?: string }).detail), /via-edge-17/);
  });

  test('transparency: every message leaves the far proxy with the same bytes and opcode, in order', async () => {
    await Promise.all([py?.stop(), js?.stop()]);
    py = js = undefined;
    await waitFor(() => pair.edge.sessionCount() === 0 && pair.gateway.upstreamCount() === 0, 20_000, 'all sessions to close');
    const streams = new Map<string, RecordedMessage[]>();
    for (const r of recorded) {
      const key = `${r.sessionId} ${r.direction} ${r.role}/${r.hop}`;
      if (!streams.has(key)) streams.set(key, []);
      streams.get(key)!.push(r);
    }
    const sessions = new Set(recorded.map((r) => r.sessionId));
    assert.ok(sessions.size >= 6, `expected many sessions, saw ${sessions.size}`);
    let compared = 0;
    const strip = (list: RecordedMessage[] | undefined) => (list ?? []).map((r) => `${r.isBinary ? 'bin' : 'txt'}:${r.length}:${r.sha256}`);
    for (const session of sessions) {
      const up = [strip(streams.get(`${session} up edge/in`)), strip(streams.get(`${session} up gateway/out`))];
      const down = [strip(streams.get(`${session} down gateway/in`)), strip(streams.get(`${session} down edge/out`))];
      assert.deepEqual(up[1], up[0], `session ${session}: client->server messages differ`);
      assert.deepEqual(down[1], down[0], `session ${session}: server->client messages differ`);
      compared += up[0]!.length + down[0]!.length;
    }
    assert.ok(compared > 500, `expected a substantial workload, compared ${compared} messages`);
    assert.ok(recorded.some((r) => r.length > 65536), 'no message was large enough to be fragmented on the link');
    assert.ok(recorded.some((r) => !r.isBinary) && recorded.some((r) => r.isBinary), 'both opcodes must be exercised');
    // ... and the codec really carried them (default on): fewer bytes on the link than the originals.
    for (const stats of [pair.edge.linkStats, pair.gateway.linkStats]) {
      assert.ok(stats.messagesTranscoded > 100, `codec saw only ${stats.messagesTranscoded} messages`);
      assert.ok(stats.transcodeBytesOut < stats.transcodeBytesIn, 'transcoded messages must be smaller on the link');
      // message_cache slices (256 KiB) of the >1 MiB arguments and results travel as blobs.
      assert.ok(stats.blobsSent > 0 && stats.payloadBytesSent > 0, 'large messages must go through the payload plane');
    }
  });
});

describe('a fast link without shared memory', () => {
  let pair: AccelPair;
  let py: ServiceProcess | undefined;

  before(async () => {
    const noShm = { shm: false };
    pair = await startAccelPair(await serverUrlFromEnv(), { edge: noShm, gateway: noShm });
    py = await startPyService(pair.edgeUrl, uniqueServiceId('py'));
  });
  after(async () => {
    await py?.stop();
    await pair?.close();
  });

  test('large messages skip the payload plane (plain fragments) and arrive intact', async () => {
    assertAllPassed(await runPyCaller(pair.edgeUrl, py!.serviceId), 'py->py on loopback without shm');
    for (const stats of [pair.edge.linkStats, pair.gateway.linkStats]) {
      assert.equal(stats.blobsSent, 0, 'loopback is faster than payloadBypassMbps: no blobs');
      assert.ok(stats.frameBytesSent > 2 * 1024 * 1024, `the >1 MiB arguments crossed the link (${stats.frameBytesSent} bytes)`);
    }
  });
});

describe('a gateway restart', () => {
  let pair: AccelPair;
  let py: ServiceProcess | undefined;

  before(async () => {
    pair = await startAccelPair(await serverUrlFromEnv());
    py = await startPyService(pair.edgeUrl, uniqueServiceId('py'));
  });
  after(async () => {
    await py?.stop();
    await pair?.close();
  });

  test('clients reconnect through new links and re-register; calls work again', async () => {
    assertAllPassed(await runPyCaller(pair.edgeUrl, py!.serviceId), 'before restart');
    const registeredBefore = py!.countEvents('services_registered');
    await pair.restartGateway();
    await py!.waitForEvent(() => py!.countEvents('services_registered') > registeredBefore, 90_000);
    assertAllPassed(await retryUntilOk(() => runPyCaller(pair.edgeUrl, py!.serviceId), { deadlineMs: 60_000 }), 'after gateway restart');
  });
});

describe('a hypha server restart behind the pair', () => {
  let server: HyphaServer | undefined;
  let pair: AccelPair;
  let js: ServiceProcess | undefined;

  before(async () => {
    server = await startHyphaServer();
    pair = await startAccelPair(server.url);
    js = await startJsService(pair.edgeUrl, uniqueServiceId('js'));
  });
  after(async () => {
    await js?.stop();
    await pair?.close();
    await server?.stop();
  });

  test('services re-register through the pair and callers succeed again', async () => {
    assertAllPassed(await runPyCaller(pair.edgeUrl, js!.serviceId), 'before restart');
    const registeredBefore = js!.countEvents('services_registered');
    await server!.restart();
    await js!.waitForEvent(() => js!.countEvents('services_registered') > registeredBefore, 90_000);
    assertAllPassed(await retryUntilOk(() => runPyCaller(pair.edgeUrl, js!.serviceId), { deadlineMs: 60_000 }), 'after hypha restart');
  });
});
