// The CPU cost of observing and tracing RPC calls, in process and without the network: real hypha-shaped
// call and reply messages go through the same event seam, call tracker, metrics and tracing (official SDK,
// batch processor, OTLP protobuf exporter to a local sink) as in the proxies, for both roles of one call.
// Arms: nothing subscribed, metrics only (tracing off), the unsampled path alone (ratio 0), the default sampler,
// ratios 1%, 5%, 10%, always on. Every call resolves (no kept spans). Reports CPU µs per call and per message
// (process.cpuUsage, user+system). Usage: node --import tsx bench/tracing-cost/run.ts [--calls 20000] [--rounds 3] [--arm PREFIX,...] [--warm-export] [--env KEY=VALUE]
import { spawn } from 'node:child_process';
import os from 'node:os';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encode } from '@msgpack/msgpack';
import { publishMessage, publishTracedFrame, type MessageEvent, type RoleName } from '../../src/events.js';
import { RpcCallTracker } from '../../src/observe/rpc-calls.js';
import { createMetrics } from '../../src/observe/metrics.js';
import { startTracing } from '../../src/observe/tracing.js';
import { describeSampler } from '../../src/observe/otel-sampler.js';
import { createLogger } from '../../src/log.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const calls = option('calls', 20000);
const rounds = option('rounds', 3);
const onlyArms = args.includes('--arm') ? args[args.indexOf('--arm') + 1]!.split(',') : undefined; // name prefixes, e.g. --arm always (for --cpu-prof) or --arm metrics,default
const warmExport = args.includes('--warm-export');
// --env KEY=VALUE (repeatable): added to every tracing arm's environment, e.g. --env OTEL_BSP_MAX_EXPORT_BATCH_SIZE=128
const extraEnv = Object.fromEntries(args.flatMap((a, i) => (a === '--env' ? [args[i + 1]!.split(/=(.*)/s).slice(0, 2)] : [])));
const MESSAGES_PER_CALL = 4; // call and reply, each through both proxies
// A full collection before each arm (the previous arm's garbage is not this one's) and at its end, inside
// the measured time (an arm pays for the garbage it leaves): the arms' order no longer shifts their figures.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function message(main: Record<string, unknown>, extra: Record<string, unknown>): Buffer {
  return Buffer.concat([encode(main), encode(extra)]);
}
const ARG = 'x'.repeat(200);
const calls_ = Array.from({ length: calls }, (_, i) => {
  const session = `Jb${i.toString(36).padStart(8, '0')}VSF2aaWtCZ`;
  return {
    call: message({ type: 'method', from: 'ws-user-abc/caller', to: 'ws-user-abc/svc-client', method: 'services.echo-svc.echo', session }, { args: [ARG], with_kwargs: false, promise: '*', t: 15 }),
    reply: message({ type: 'method', from: 'ws-user-abc/svc-client', to: 'ws-user-abc/caller', method: `${session}.resolve` }, { args: [ARG] }),
  };
});

/** One call as the pair relays it: edge takes it from the client, gateway hands it to hypha, and back. */
function relayCall(i: number): void {
  const { call, reply } = calls_[i]!;
  const send = (role: RoleName, direction: 'up' | 'down', hop: 'in' | 'out', data: Buffer, trace?: MessageEvent['trace']) => {
    const event: MessageEvent = { role, sessionId: role === 'edge' ? 'edge-session' : 'gateway-session', direction, hop, isBinary: true, data, trace };
    publishMessage(event);
    // The proxy sends what tracing set in the frame header; the link session reports that frame.
    if (hop === 'in' && event.trace) publishTracedFrame({ trace: event.trace, frameBytes: data.length + 37, flags: 0x01 });
    return event.trace;
  };
  const requestTrace = send('edge', 'up', 'in', call);
  send('gateway', 'up', 'out', call, requestTrace);
  const replyTrace = send('gateway', 'down', 'in', reply);
  send('edge', 'down', 'out', reply, replyTrace);
}

async function main(): Promise<void> {
  // The receiver runs in its own process (bench/otlp-sink.ts): its CPU is not the proxies'.
  const sink = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../otlp-sink.ts'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => sink.kill()); // also when the run fails
  const sinkLines = createInterface({ input: sink.stdout! });
  const [line] = await once(sinkLines, 'line') as [string];
  const endpoint = /http:\/\/\S+/.exec(line)![0];
  const log = createLogger('silent');
  // A queue that never drops: every sampled span is serialised and exported, so its whole cost is counted.
  const exportAll = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_QUEUE_SIZE: String(4 * calls), ...extraEnv };
  const ratio = (arg: string) => ({ ...exportAll, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: arg });
  const arms: Record<string, NodeJS.ProcessEnv | 'none'> = {
    'nothing observed': 'none',
    'metrics, tracing off': { OTEL_SDK_DISABLED: 'true' },
    'unsampled path only (ratio 0)': ratio('0'),
    [`default sampler (${describeSampler({})})`]: exportAll,
    'sampled 1% (parentbased_traceidratio 0.01)': ratio('0.01'),
    'sampled 5% (parentbased_traceidratio 0.05)': ratio('0.05'),
    'sampled 10% (parentbased_traceidratio 0.1)': ratio('0.1'),
    'always on (parentbased_always_on)': { ...exportAll, OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
  };
  const results: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [arm, env] of Object.entries(arms)) {
      if (onlyArms && !onlyArms.some((prefix) => arm.startsWith(prefix))) continue;
      const stops: Array<() => Promise<void> | void> = [];
      const flushes: Array<() => Promise<void>> = [];
      if (env !== 'none') {
        for (const role of ['edge', 'gateway'] as const) {
          const rpc = new RpcCallTracker({ role });
          const metrics = createMetrics({ role, version: 'bench', rpc, sources: { linkStats: () => undefined, payloadStats: () => undefined, links: () => [] } });
          const tracing = startTracing({ role, version: 'bench', rpc, log, env });
          if (tracing) flushes.push(() => tracing.forceFlush());
          stops.push(async () => { await tracing?.shutdown(); metrics.close(); rpc.close(); });
        }
      }
      for (let i = 0; i < Math.min(2000, calls); i++) relayCall(i); // warm up
      // --warm-export: the warm-up's spans are exported before the clock starts, so the exporter's first
      // export (loading and compiling the OTLP serialisation) is not counted: a long-running proxy pays it once.
      if (warmExport) for (const flush of flushes) await flush(); // rejects (and the run fails) if the sink is not reached
      collectGarbage();
      const before = process.cpuUsage();
      for (let i = 0; i < calls; i++) {
        relayCall(i);
        if (i % 256 === 255) await new Promise((r) => setImmediate(r)); // let export timers and sockets run
      }
      for (const stop of stops) await stop(); // includes the last export
      collectGarbage();
      const used = process.cpuUsage(before);
      const usPerCall = (used.user + used.system) / calls;
      (results[arm] ??= []).push(usPerCall);
      process.stderr.write(`round ${round + 1} ${arm}: ${usPerCall.toFixed(2)} µs per call\n`);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const report = Object.fromEntries(Object.entries(results).map(([arm, v]) => [arm, { cpuUsPerCall: median(v), cpuUsPerMessage: median(v) / MESSAGES_PER_CALL, rounds: v.map((x) => Number(x.toFixed(2))) }]));
  // The sink says how many export requests it took: proof that spans were exported, not refused.
  sink.kill('SIGTERM');
  const [sinkTally] = await once(sinkLines, 'line') as [string];
  process.stdout.write(JSON.stringify({ date: new Date().toISOString(), node: process.version, calls, rounds, warmExport, extraEnv, loadAverage: os.loadavg(), sink: sinkTally, note: 'both proxies of one call in one process: per call = edge + gateway; per message = per call / 4', arms: report }, null, 2) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${(error as Error)?.stack ?? JSON.stringify(error)}\n`);
  process.exit(1);
});
