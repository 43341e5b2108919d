// Records the link bytes of S1 small calls (T1 and T2 shapes, sequential then 64 in flight) between a real
// edge and gateway, through a recording TCP pipe, with link compression forced on: the input of
// bench/link-compression/framing.ts, which replays the plain frames through alternative framings.
// Run: node --import tsx bench/link-compression/capture-s1.ts [--out DIR] [--calls N]
// Writes DIR/<topology>-<connection>-{up,down}.bin (the raw bytes each way, HTTP upgrade included) and
// DIR/<topology>-marks.json (bytes each way when the sequential and the 64-in-flight phases start and end).
import net from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHyphaServer } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';
import { startProxy } from '../runner/proxies.js';
import { PyClient } from '../runner/py-client.js';

const args = process.argv.slice(2);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1]! : '/tmp/hypha-accel-link-capture';
const calls = args.includes('--calls') ? Number(args[args.indexOf('--calls') + 1]) : 200;
mkdirSync(out, { recursive: true });

/** A TCP pipe to `port` that keeps every byte each way, per accepted connection. */
function recordingPipe(port: number): Promise<{ port: number; close(): void; connections: Array<{ up: Buffer[]; down: Buffer[] }> }> {
  const connections: Array<{ up: Buffer[]; down: Buffer[] }> = [];
  const server = net.createServer((client) => {
    const record = { up: [] as Buffer[], down: [] as Buffer[] };
    connections.push(record);
    const upstream = net.connect(port, '127.0.0.1');
    client.on('data', (b) => { record.up.push(Buffer.from(b)); upstream.write(b); });
    upstream.on('data', (b) => { record.down.push(Buffer.from(b)); client.write(b); });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close(), connections })));
}

const hypha = await startHyphaServer({ env: { HYPHA_WS_MSG_RATE_LIMIT: '1000000', HYPHA_WS_MSG_BURST_LIMIT: '1000000' } });
process.env.HYPHA_ACCEL_LINK_COMPRESSION = 'on';
const secretFile = writeSecret();
try {
  for (const topology of ['T1', 'T2'] as const) {
    const gateway = await startProxy('gateway', ['--hypha-url', hypha.url, '--secret-file', secretFile]);
    const pipe = await recordingPipe(gateway.port);
    const edge = await startProxy('edge', ['--gateway-url', `tcp://127.0.0.1:${pipe.port}`, '--secret-file', secretFile, '--links', '1', '--shm', 'false']);
    // Phase marks: bytes recorded each way on each connection when a phase starts.
    const marks: Record<string, Array<{ up: number; down: number }>> = {};
    const size = (chunks: Buffer[]) => chunks.reduce((n, b) => n + b.length, 0);
    const mark = (phase: string) => (marks[phase] = pipe.connections.map((c) => ({ up: size(c.up), down: size(c.down) })));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    const service = await PyClient.start(`${topology}/service`);
    const caller = await PyClient.start(`${topology}/caller`);
    try {
      await service.request('connect', { server_url: topology === 'T1' ? gateway.url : edge.url });
      const { service_id } = await service.request('register', { service_id: 'bench' });
      await caller.request('connect', { server_url: edge.url });
      await caller.request('get_service', { service_id });
      await caller.request('small_calls', { calls: 10, concurrency: 1 });
      await settle();
      mark('seq');
      await caller.request('small_calls', { calls, concurrency: 1, base: 1000 });
      await settle();
      mark('c64');
      await caller.request('small_calls', { calls: calls * 2, concurrency: 64, base: 100000 });
      await settle();
      mark('end');
    } finally {
      await caller.stop();
      await service.stop();
      await edge.stop();
      await gateway.stop();
      pipe.close();
    }
    pipe.connections.forEach((c, i) => {
      writeFileSync(join(out, `${topology}-${i}-up.bin`), Buffer.concat(c.up));
      writeFileSync(join(out, `${topology}-${i}-down.bin`), Buffer.concat(c.down));
    });
    writeFileSync(join(out, `${topology}-marks.json`), JSON.stringify({ calls, marks }));
    console.log(`${topology}: ${pipe.connections.length} link connection(s) recorded in ${out}`);
  }
} finally {
  await hypha.stop();
}
