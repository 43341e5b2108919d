// The demo: starts a real local hypha server, a gateway beside it and an edge in front, exactly as an
// operator would (the CLI, child processes), runs real Python and JS clients through the edge, and prints
// what happened: checks passed, messages and bytes each proxy saw, and the link RTT.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { REPO_ROOT, startHyphaServer } from '../test/helpers/hypha-server.js';
import { writeSecret } from '../test/helpers/accel-pair.js';
import { LAUNCHER_NODE_FLAGS } from '../src/config/node-flags.js';
import { failedChecks, runJsCaller, runPyCaller, startPyService, startJsService, uniqueServiceId } from '../test/helpers/clients.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function startRole(role: string, flags: string[]): Promise<{ child: ChildProcess; url: string; admin: string }> {
  const cliArgs = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn', ...flags];
  say(`$ hypha-accel ${role} ${cliArgs.join(' ')}`);
  // The launcher's V8 flags, as bin/hypha-accel.js gives them.
  const args = [...LAUNCHER_NODE_FLAGS, '--import', 'tsx', join(REPO_ROOT, 'src/cli.ts'), role, ...cliArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout! })) {
    const event = JSON.parse(line) as { event: string; url: string; admin: string };
    if (event.event === 'listening') return { child, url: event.url, admin: event.admin };
  }
  throw new Error(`${role} exited before listening`);
}

/** SIGTERM (graceful stop), then SIGKILL if the process is still there after 15 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function metric(adminUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && line.includes(labels)) sum += Number(line.split(' ').pop());
  return sum;
}

async function main(): Promise<void> {
  say('hypha-accel demo: real hypha server + gateway + edge + real Python and JS clients\n');
  const hypha = await startHyphaServer();
  say(`hypha server (pinned, from .venv) at ${hypha.url}`);
  const secret = writeSecret();
  const gateway = await startRole('gateway', ['--hypha-url', hypha.url, '--secret-file', secret]);
  const edge = await startRole('edge', ['--gateway-url', gateway.url.replace('http', 'ws'), '--secret-file', secret]);
  say(`edge at ${edge.url} (clients use it as server_url), gateway at ${gateway.url}\n`);
  const services = [];
  try {
    const py = await startPyService(edge.url, uniqueServiceId('demo-py'));
    const js = await startJsService(edge.url, uniqueServiceId('demo-js'));
    services.push(py, js);
    say(`registered through the edge: ${py.serviceId} (Python), ${js.serviceId} (JS)`);
    let allOk = true;
    for (const [name, run] of [
      ['Python caller -> JS service', () => runPyCaller(edge.url, js.serviceId)],
      ['JS caller -> Python service', () => runJsCaller(edge.url, py.serviceId)],
      ['Python caller (HTTP /rpc transport) -> JS service', () => runPyCaller(edge.url, js.serviceId, { transport: 'http' })],
    ] as const) {
      const started = Date.now();
      const result = await run();
      const failed = failedChecks(result);
      allOk &&= failed.length === 0;
      say(`  ${failed.length === 0 ? 'ok  ' : 'FAIL'} ${name}: ${Object.keys(result.checks).length} checks (${Object.keys(result.checks).join(', ')}) in ${Date.now() - started} ms`);
      for (const f of failed) say(`       ${f}`);
    }
    say('');
    for (const [role, proxy] of [['edge', edge], ['gateway', gateway]] as const) {
      const up = await metric(proxy.admin, 'hypha_accel_message_bytes_total', 'direction="up",hop="in"');
      const down = await metric(proxy.admin, 'hypha_accel_message_bytes_total', 'direction="down",hop="in"');
      const messages = await metric(proxy.admin, 'hypha_accel_messages_total', 'hop="in"');
      say(`${role.padEnd(8)} saw ${messages} messages in: ${(up / 1e6).toFixed(2)} MB toward hypha, ${(down / 1e6).toFixed(2)} MB toward clients`);
    }
    for (const [role, proxy] of [['edge', edge], ['gateway', gateway]] as const) {
      const before = await metric(proxy.admin, 'hypha_accel_bytes_total', 'stage="codec_input"');
      const after = await metric(proxy.admin, 'hypha_accel_bytes_total', 'stage="codec_output"');
      const count = await metric(proxy.admin, 'hypha_accel_codec_messages_total');
      if (count > 0) say(`${role.padEnd(8)} transcoded ${count} whole messages: ${(before / 1e3).toFixed(1)} kB -> ${(after / 1e3).toFixed(1)} kB on the link (${((100 * after) / before).toFixed(1)}%)`);
    }
    for (const [role, proxy] of [['edge', edge], ['gateway', gateway]] as const) {
      const blobs = await metric(proxy.admin, 'hypha_accel_blobs_sent_total');
      const blobBytes = await metric(proxy.admin, 'hypha_accel_bytes_total', 'stage="blob_input"');
      const payloadBytes = await metric(proxy.admin, 'hypha_accel_bytes_total', 'stage="payload_plane"');
      const viaShm = await metric(proxy.admin, 'hypha_accel_shm_blobs_total', 'direction="sent"');
      if (blobs > 0) {
        say(`${role.padEnd(8)} sent ${blobs} large messages as blobs: ${(blobBytes / 1e6).toFixed(2)} MB -> ${(payloadBytes / 1e6).toFixed(2)} MB on the link` +
          (viaShm > 0 ? ` (${viaShm} through shared memory: edge and gateway share this host)` : ' (dedupe + compression)'));
      }
    }
    const rttCount = await metric(edge.admin, 'hypha_accel_link_rtt_seconds_count');
    say(`links up: ${await metric(edge.admin, 'hypha_accel_links{')}, keep-alive RTT samples so far: ${rttCount}`);
    say(allOk ? '\ndemo: all checks passed through the pair' : '\ndemo: SOME CHECKS FAILED');
    process.exitCode = allOk ? 0 : 1;
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await stopChild(edge.child);
    await stopChild(gateway.child);
    await hypha.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`demo failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
