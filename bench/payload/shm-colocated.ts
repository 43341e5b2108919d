// Colocated comparison: one large transfer (default 64 MiB in 256 KiB binary messages, the size of hypha's
// message_cache slices) from a WebSocket client through a real edge + gateway on loopback to a sink
// standing in for hypha, with shared memory on vs off (the pair otherwise on its defaults).
// Run: node --import tsx bench/payload/shm-colocated.ts [--mib 64] [--message-kib 256] [--runs 3]

import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { startEdge } from '../../src/edge/edge.js';
import { startGateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';

const { values: args } = parseArgs({ options: { mib: { type: 'string', default: '64' }, 'message-kib': { type: 'string', default: '256' }, runs: { type: 'string', default: '3' } } });
const totalBytes = Number(args.mib) * 1024 * 1024;
const messageBytes = Number(args['message-kib']) * 1024 + 64; // a slice plus its envelope, like message_cache.set
const runs = Number(args.runs);
const memoryRoot = (await fs.stat('/dev/shm').then(() => '/dev/shm', () => undefined)) ?? tmpdir();

/** The stand-in for hypha: counts binary bytes per connection and answers the count to a text "end". */
async function startSink(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 30 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    let received = 0;
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) received += data.length;
      else ws.send(String(received));
    });
  });
  const port = (wss.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => wss.close(() => resolve())) };
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

async function measure(shm: boolean): Promise<{ ms: number[]; metrics: Record<string, number> }> {
  const sink = await startSink();
  const secretFile = join(await fs.mkdtemp(join(tmpdir(), 'hypha-accel-bench-')), 'secret');
  await fs.writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const shmDir = join(memoryRoot, `hypha-accel-bench-${process.pid}`);
  const log = createLogger('silent');
  const common = { listen: '127.0.0.1:0', secretFile, shm, shmDir };
  const gatewayConfig = loadConfig('gateway', { flags: { ...common, hyphaUrl: sink.url }, env: {} });
  const gateway = await startGateway(gatewayConfig, { secret: Buffer.from(await fs.readFile(secretFile, 'utf8')), log });
  const edgeConfig = loadConfig('edge', { flags: { ...common, gatewayUrl: `ws://127.0.0.1:${gateway.port}` }, env: {} });
  const edge = await startEdge(edgeConfig, { secret: Buffer.from(await fs.readFile(secretFile, 'utf8')), log });
  await edge.pool.waitReady(5000);
  // Distinct messages (a fresh random head per message) so dedupe cannot help either side.
  const body = randomBytes(messageBytes);
  const messages = Array.from({ length: Math.ceil(totalBytes / messageBytes) }, () => {
    const message = Buffer.from(body);
    randomBytes(4096).copy(message);
    randomBytes(4096).copy(message, messageBytes - 4096);
    for (let offset = 16384; offset < messageBytes - 8192; offset += 16384) randomBytes(64).copy(message, offset);
    return message;
  });
  const ms: number[] = [];
  await transferOnce(edge.url, messages.slice(0, 8)); // warm-up: links, codecs, workers
  for (let i = 0; i < runs; i++) ms.push(await transferOnce(edge.url, messages));
  const metrics = edge.payloadMetrics();
  await edge.close(1000);
  await gateway.close(1000);
  await sink.close();
  await fs.rm(shmDir, { recursive: true, force: true });
  return { ms, metrics };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const off = await measure(false);
const on = await measure(true);
const mb = totalBytes / 1e6;
const report = {
  totalMiB: Number(args.mib), messageBytes, runs,
  shmOff: { medianMs: Math.round(median(off.ms)), mbPerSec: Math.round(mb / (median(off.ms) / 1000)), runsMs: off.ms.map(Math.round), shmBlobsSent: off.metrics.shmBlobsSent },
  shmOn: { medianMs: Math.round(median(on.ms)), mbPerSec: Math.round(mb / (median(on.ms) / 1000)), runsMs: on.ms.map(Math.round), shmBlobsSent: on.metrics.shmBlobsSent },
  speedup: Number((median(off.ms) / median(on.ms)).toFixed(2)),
};
console.log(JSON.stringify(report, null, 2));
