// Colocated comparison: one large transfer (default 64 MiB in 256 KiB binary messages, the size of hypha's
// message_cache slices) from a WebSocket client through a real edge + gateway on loopback to a sink
// standing in for hypha, with shared memory on vs off. Client, edge, gateway and sink each run on their
// own thread (worker_threads), as they would in their own processes.
// Run: node --import tsx bench/payload/shm-colocated.ts [--mib 64] [--message-kib 256] [--runs 3] [--window BYTES]

import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import WebSocket, { WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { startEdge } from '../../src/edge/edge.js';
import { startGateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';

type Job =
  | { kind: 'sink' }
  | { kind: 'gateway'; flags: Record<string, unknown>; secret: string }
  | { kind: 'edge'; flags: Record<string, unknown>; secret: string }
  | { kind: 'client'; edgeUrl: string; totalBytes: number; messageBytes: number; runs: number };

/** Starts `job` on its own thread; resolves with its first message (its URL or its result). */
function spawn(job: Job): { ready: Promise<Record<string, unknown>>; ask(message: unknown): Promise<Record<string, unknown>>; stop(): Promise<number> } {
  // Workers do not inherit tsx's loader hooks: register them, then load this file.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: job });
  const next = () => new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { ready: next(), ask: (message) => { const reply = next(); worker.postMessage(message); return reply; }, stop: () => worker.terminate() };
}

async function runJob(job: Job): Promise<void> {
  const port = parentPort!;
  const log = createLogger('silent');
  if (job.kind === 'sink') {
    // The stand-in for hypha: counts binary bytes per connection and answers the count to a text "end".
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 30 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => {
      let received = 0;
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) received += data.length;
        else ws.send(String(received));
      });
    });
    port.postMessage({ url: `http://127.0.0.1:${(wss.address() as { port: number }).port}` });
  } else if (job.kind === 'gateway') {
    const gateway = await startGateway(loadConfig('gateway', { flags: job.flags, env: {} }), { secret: Buffer.from(job.secret), log });
    port.postMessage({ port: gateway.port });
    port.on('message', () => port.postMessage(gateway.payloadMetrics()));
  } else if (job.kind === 'edge') {
    const edge = await startEdge(loadConfig('edge', { flags: job.flags, env: {} }), { secret: Buffer.from(job.secret), log });
    await edge.pool.waitReady(5000);
    port.postMessage({ url: edge.url });
    port.on('message', () => port.postMessage(edge.payloadMetrics()));
  } else {
    port.postMessage({ ms: await clientRuns(job) });
  }
}

/** Distinct messages (random heads and marks) so dedupe cannot help; one warm-up, then `runs` timed transfers. */
async function clientRuns(job: Extract<Job, { kind: 'client' }>): Promise<number[]> {
  const body = randomBytes(job.messageBytes);
  const messages = Array.from({ length: Math.ceil(job.totalBytes / job.messageBytes) }, () => {
    const message = Buffer.from(body);
    for (let offset = 0; offset < job.messageBytes - 64; offset += 16384) randomBytes(64).copy(message, offset);
    return message;
  });
  const ms: number[] = [];
  await transferOnce(job.edgeUrl, messages.slice(0, 16));
  for (let i = 0; i < job.runs; i++) ms.push(await transferOnce(job.edgeUrl, messages));
  return ms;
}

async function transferOnce(edgeUrl: string, messages: Buffer[]): Promise<number> {
  const ws = new WebSocket(`${edgeUrl.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const started = performance.now();
  const done = new Promise<number>((resolve) => ws.once('message', (data) => resolve(Number(String(data)))));
  let sent = 0;
  for (const message of messages) {
    ws.send(message, { binary: true });
    sent += message.length;
  }
  ws.send('end');
  const received = await done;
  const elapsed = performance.now() - started;
  if (received !== sent) throw new Error(`the sink received ${received} bytes of ${sent}`);
  ws.close();
  return elapsed;
}

async function measure(shm: boolean, args: { totalBytes: number; messageBytes: number; runs: number; window: string }) {
  const secret = randomBytes(32).toString('hex');
  const secretFile = join(await fs.mkdtemp(join(tmpdir(), 'hypha-accel-bench-')), 'secret'); // required setting; workers get the secret itself
  const memoryRoot = (await fs.stat('/dev/shm').then(() => '/dev/shm', () => undefined)) ?? tmpdir();
  const shmDir = join(memoryRoot, `hypha-accel-bench-${process.pid}`);
  const common = { listen: '127.0.0.1:0', secretFile, shm, shmDir, ...(args.window ? { windowBytes: Number(args.window) } : {}) };
  const sink = spawn({ kind: 'sink' });
  const gateway = spawn({ kind: 'gateway', flags: { ...common, hyphaUrl: (await sink.ready).url }, secret });
  const edge = spawn({ kind: 'edge', flags: { ...common, gatewayUrl: `ws://127.0.0.1:${(await gateway.ready).port}` }, secret });
  const client = spawn({ kind: 'client', edgeUrl: String((await edge.ready).url), totalBytes: args.totalBytes, messageBytes: args.messageBytes, runs: args.runs });
  const ms = (await client.ready).ms as number[];
  const metrics = await edge.ask('metrics');
  await Promise.all([client, edge, gateway, sink].map((w) => w.stop()));
  await fs.rm(shmDir, { recursive: true, force: true });
  return { ms, metrics };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { window: { type: 'string', default: '' }, mib: { type: 'string', default: '64' }, 'message-kib': { type: 'string', default: '256' }, runs: { type: 'string', default: '3' } } });
  const args = { totalBytes: Number(values.mib) * 1024 * 1024, messageBytes: Number(values['message-kib']) * 1024 + 64, runs: Number(values.runs), window: values.window! };
  const off = await measure(false, args);
  const on = await measure(true, args);
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const mb = args.totalBytes / 1e6;
  const row = (r: { ms: number[]; metrics: Record<string, unknown> }) => ({
    medianMs: Math.round(median(r.ms)), mbPerSec: Math.round(mb / (median(r.ms) / 1000)), runsMs: r.ms.map(Math.round), shmBlobsSent: r.metrics.shmBlobsSent,
  });
  console.log(JSON.stringify({ totalMiB: Number(values.mib), messageBytes: args.messageBytes, runs: args.runs, windowBytes: args.window || 'default', shmOff: row(off), shmOn: row(on), speedup: Number((median(off.ms) / median(on.ms)).toFixed(2)) }, null, 2));
}

if (isMainThread) await main();
else await runJob(workerData as Job);
