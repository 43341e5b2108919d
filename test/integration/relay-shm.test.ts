// Shared memory through a colocated pair in front of the real hypha server: the Python caller's >1 MiB
// arrays and bytes arrive bit-identical with shm on, the blobs really went through segments (counters on
// both roles) and the segments were reclaimed; with different directories the pair stays on the link.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failedChecks, runPyCaller, startPyService, uniqueServiceId, type CallerResult, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';

const memoryRoot = (await fs.stat('/dev/shm').then(() => '/dev/shm', () => undefined)) ?? '/tmp';
const CHECKS = ['bytes_large', 'arrays', 'array_large'];

function assertPassed(result: CallerResult, what: string): void {
  const failed = failedChecks(result);
  assert.deepEqual(failed, [], `${what}: failed checks\n${failed.join('\n')}\nstderr:\n${result.stderr.slice(-2000)}`);
  for (const name of CHECKS) assert.equal(result.checks[name], true, `${what}: check ${name} did not run`);
}

async function segmentFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await fs.readdir(dir).catch(() => [] as string[])) {
    for (const name of await fs.readdir(join(dir, sub)).catch(() => [] as string[])) out.push(name);
  }
  return out.filter((name) => name.endsWith('.seg'));
}

async function waitFor(condition: () => Promise<boolean> | boolean, deadlineMs: number, what: string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('shared memory between a colocated edge and gateway', () => {
  let pair: AccelPair;
  let py: ServiceProcess | undefined;
  const shmDir = join(memoryRoot, `hypha-accel-it-${process.pid}-${randomBytes(4).toString('hex')}`);

  before(async () => {
    pair = await startAccelPair(await serverUrlFromEnv(), { edge: { shm: true, shmDir }, gateway: { shm: true, shmDir } });
    py = await startPyService(pair.edgeUrl, uniqueServiceId('py'));
  });
  after(async () => {
    await py?.stop();
    await pair?.close();
    await fs.rm(shmDir, { recursive: true, force: true });
  });

  test('Python >1 MiB arrays and bytes pass bit-identical, through segments, which are reclaimed', async () => {
    assertPassed(await runPyCaller(pair.edgeUrl, py!.serviceId, { checks: CHECKS }), 'py->py with shm');
    const edge = pair.edge.payloadMetrics();
    const gateway = pair.gateway.payloadMetrics();
    const context = `edge ${JSON.stringify(edge)}\ngateway ${JSON.stringify(gateway)}`;
    assert.ok(edge.shmLinks! >= 1 && gateway.shmLinks! >= 1, `links must negotiate shm\n${context}`);
    // Arguments go up (edge writes, gateway reads), results come down (gateway writes, edge reads).
    assert.ok(edge.shmBlobsSent! > 0 && gateway.shmBlobsReceived! > 0, `upward blobs must use shm\n${context}`);
    assert.ok(gateway.shmBlobsSent! > 0 && edge.shmBlobsReceived! > 0, `downward blobs must use shm\n${context}`);
    assert.equal(edge.shmBytesSent, gateway.shmBytesReceived, `every upward segment was consumed\n${context}`);
    assert.equal(gateway.shmBytesSent, edge.shmBytesReceived, `every downward segment was consumed\n${context}`);
    assert.ok(edge.shmBytesSent! + gateway.shmBytesSent! > 4 * 1024 * 1024, `megabytes must have moved through shm\n${context}`);
    assert.equal(edge.blobsFailed, 0, context);
    assert.equal(gateway.blobsFailed, 0, context);
    await waitFor(async () => (await segmentFiles(shmDir)).length === 0, 10_000, 'segments to be reclaimed');
    await waitFor(() => pair.edge.payloadMetrics().shmOutstandingBytes === 0 && pair.gateway.payloadMetrics().shmOutstandingBytes === 0, 10_000, 'writers to release their segments');
  });
});

describe('edge and gateway with different shm directories', () => {
  let pair: AccelPair;
  let py: ServiceProcess | undefined;
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const edgeDir = join(memoryRoot, `hypha-accel-it-e-${tag}`);
  const gatewayDir = join(memoryRoot, `hypha-accel-it-g-${tag}`);

  before(async () => {
    // payloadBypassMbps 0: loopback without shm would otherwise send plain fragments (a fast link).
    pair = await startAccelPair(await serverUrlFromEnv(), { edge: { shm: true, shmDir: edgeDir, payloadBypassMbps: 0 }, gateway: { shm: true, shmDir: gatewayDir, payloadBypassMbps: 0 } });
    py = await startPyService(pair.edgeUrl, uniqueServiceId('py'));
  });
  after(async () => {
    await py?.stop();
    await pair?.close();
    await Promise.all([edgeDir, gatewayDir].map((dir) => fs.rm(dir, { recursive: true, force: true })));
  });

  test('the probe fails, links come up without shm and large data still passes over the link', async () => {
    assertPassed(await runPyCaller(pair.edgeUrl, py!.serviceId, { checks: CHECKS }), 'py->py, shm not shared');
    const edge = pair.edge.payloadMetrics();
    const gateway = pair.gateway.payloadMetrics();
    const context = `edge ${JSON.stringify(edge)}\ngateway ${JSON.stringify(gateway)}`;
    assert.equal(edge.shmLinks, 0, context);
    assert.equal(gateway.shmLinks, 0, context);
    assert.equal((edge.shmBlobsSent ?? 0) + (gateway.shmBlobsSent ?? 0), 0, context);
    assert.ok(edge.blobsSent! > 0 && gateway.blobsSent! > 0, `blobs must still use the chunked path\n${context}`);
  });
});
