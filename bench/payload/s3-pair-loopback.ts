// One S3 first transfer (T1 shape) through a real edge and gateway on loopback, a counting pipe between them,
// the policy told the link is MBPS (default 20) Mbit/s: link bytes per array byte and the edge's payload
// metrics, i.e. what the bench's units cost without the emulator's time. It showed why the bench's image
// figure differed from the in-process one (docs/payload.md). Also the edge's and gateway's CPU per MB of
// array during the transfer (every thread); CODE_ROOT=<checkout> runs the proxies from another checkout (A/B).
// Run: [KIND=image|weights|random] [MBPS=20] [SHAPE=T1|T2] [CODE_ROOT=dir] [CPU_PROF_DIR=dir] node --import tsx bench/payload/s3-pair-loopback.ts
import net from 'node:net';
import { startHyphaServer } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';
import { startProxy } from '../runner/proxies.js';
import { REPO_ROOT } from '../runner/paths.js';
import { PyClient } from '../runner/py-client.js';

let up = 0, down = 0;
const server = net.createServer((client) => {
  const upstream = net.connect(gwPort, '127.0.0.1');
  client.on('data', (b) => { up += b.length; upstream.write(b); });
  upstream.on('data', (b) => { down += b.length; client.write(b); });
  client.on('close', () => upstream.destroy()); upstream.on('close', () => client.destroy());
  client.on('error', () => {}); upstream.on('error', () => {});
});
let gwPort = 0;
process.env.HYPHA_ACCEL_LINK_BANDWIDTH_MBPS = process.env.MBPS ?? '20';
const hypha = await startHyphaServer({ env: { HYPHA_WS_MSG_RATE_LIMIT: '1000000', HYPHA_WS_MSG_BURST_LIMIT: '1000000' } });
const secretFile = writeSecret();
const adminPort = 39000 + Math.floor(Math.random() * 1000);
const codeRoot = process.env.CODE_ROOT ?? REPO_ROOT;
// CPU_PROF_DIR=<dir>: the edge writes a V8 CPU profile there.
const edgeStart = process.env.CPU_PROF_DIR ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', process.env.CPU_PROF_DIR] } : {};
const gateway = await startProxy('gateway', ['--hypha-url', hypha.url, '--secret-file', secretFile], codeRoot);
gwPort = gateway.port;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const edge = await startProxy('edge', ['--gateway-url', `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, '--secret-file', secretFile, '--links', '2', '--shm', 'false', '--admin-listen', `127.0.0.1:${adminPort}`], codeRoot, edgeStart);
const service = await PyClient.start('service');
const caller = await PyClient.start('caller');
try {
  await service.request('connect', { server_url: process.env.SHAPE === 'T2' ? edge.url : gateway.url }); // T2: the service behind the link too
  const { service_id } = await service.request('register', { service_id: 'bench' });
  await caller.request('connect', { server_url: edge.url });
  await caller.request('get_service', { service_id });
  await caller.request('small_calls', { calls: 10, concurrency: 1 });
  await caller.request('bulk', { kind: 'random', nbytes: 2 * 1024 * 1024, seed: 7 }, 120_000);
  const stats = async () => (await (await fetch(`http://127.0.0.1:${adminPort}/stats`)).json()) as Record<string, any>;
  const before = await stats();
  const [u0, d0] = [up, down];
  const cpu0 = [edge.sample()!.cpuSeconds, gateway.sample()!.cpuSeconds];
  const nbytes = 16 * 1024 * 1024;
  await caller.request('prepare', { kind: process.env.KIND ?? 'image', nbytes, seed: 1000 });
  await caller.request('bulk', { kind: process.env.KIND ?? 'image', nbytes, seed: 1000 }, 300_000);
  const cpu1 = [edge.sample()!.cpuSeconds, gateway.sample()!.cpuSeconds];
  await new Promise((r) => setTimeout(r, 500));
  const after = await stats();
  const mb = nbytes / 1e6;
  console.log(`${codeRoot} ${process.env.KIND ?? 'image'}: edge ${((cpu1[0]! - cpu0[0]!) * 1000 / mb).toFixed(1)} ms CPU per MB, gateway ${((cpu1[1]! - cpu0[1]!) * 1000 / mb).toFixed(1)}`);
  console.log('link B per array B', ((up - u0 + down - d0) / nbytes).toFixed(4), 'up', up - u0, 'down', down - d0);
  const p0 = before.payload ?? {}, p1 = after.payload ?? {};
  const diff: Record<string, number> = {};
  for (const k of Object.keys(p1)) if (typeof p1[k] === 'number' && p1[k] !== (p0[k] ?? 0)) diff[k] = p1[k] - (p0[k] ?? 0);
  console.log(JSON.stringify(diff));
  const w0 = before.wire ?? {}, w1 = after.wire ?? {};
  const wd: Record<string, number> = {};
  for (const k of Object.keys(w1)) if (typeof w1[k] === 'number' && w1[k] !== (w0[k] ?? 0)) wd[k] = w1[k] - (w0[k] ?? 0);
  console.log(JSON.stringify(wd));
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  console.log(metrics.split('\n').filter((l) => /^hypha_accel_payload_(unit|policy|chunks|bytes)/.test(l)).join('\n'));
} finally {
  await caller.stop(); await service.stop(); await edge.stop(); await gateway.stop(); server.close(); await hypha.stop();
}
