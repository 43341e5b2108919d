// `npm run bench` entry: parses the mode and filters, starts one real hypha server per run (rate and
// admission limits raised), runs each profile's plan with progress on stderr, and writes the reports
// to bench/results/. Reports figures; asserts nothing about timings.

import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHyphaServer } from '../test/helpers/hypha-server.js';
import { isProfileName, type ProfileName } from './emulator/profiles.js';
import { cpuPinning } from './runner/cpu-affinity.js';
import { BenchError } from './runner/bench-error.js';
import { liveSrc, snapshotCommittedSrc } from './runner/code-snapshot.js';
import { runProfile } from './runner/orchestrate.js';
import { killDescendants } from './runner/descendants.js';
import { RESULTS_DIR } from './runner/paths.js';
import { ALL_SCENARIOS, DEMO_PARTS, defaultPlan, type Mode, type RunPlan, type ScenarioId } from './runner/plan.js';
import { collectMeta, colocatedTable, summaryTable, tlsTable, writeReport } from './runner/report.js';
import type { Topology } from './runner/rig.js';
import { summarise } from './runner/summary.js';
import type { LinkTlsFiles } from './runner/results.js';
import { makeTestCa } from '../test/helpers/test-ca.js';

const HYPHA_SERVER_ENV = {
  HYPHA_WS_MSG_RATE_LIMIT: '1000000',
  HYPHA_WS_MSG_BURST_LIMIT: '1000000',
  HYPHA_MAX_CONCURRENT_CONNECTIONS: '1000',
};

/** --link-tls: a throw-away CA and a 127.0.0.1 certificate; the clients this run starts trust the CA. */
function makeBenchTls(progress: (line: string) => void): LinkTlsFiles {
  const ca = makeTestCa('hypha-accel bench CA');
  // Python (ssl default context) and Node (undici WebSocket) clients read these at start; the edge gets --ca-file.
  process.env.SSL_CERT_FILE = ca.caPath;
  process.env.NODE_EXTRA_CA_CERTS = ca.caPath;
  progress(`--link-tls: CA ${ca.caPath}, certificate for 127.0.0.1/localhost ${ca.certPath}`);
  return { caPath: ca.caPath, certPath: ca.certPath, keyPath: ca.keyPath };
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

async function main(): Promise<void> {
  const program = new Command('bench')
    .description('hypha-accel benchmark: direct vs accelerated over an emulated link, real hypha and clients')
    .option('--full', 'all scenarios, lan and wan, 3 repetitions')
    .option('--smoke', 'CI smoke: S1 and a small S3 on lan, one repetition')
    .option('--demo', 'short side-by-side for npm run demo: lan S1 T1 (overhead) next to slow S4 T2 (where the pair helps)')
    .option('--profile <list>', 'profiles, e.g. lan,wan,slow')
    .option('--scenario <list>', 'scenarios, e.g. S1,S3')
    .option('--topology <list>', 'topologies, e.g. T1,T2')
    .option('--reps <n>', 'repetitions per arm')
    .option('--s1-concurrency <list>', 'S1 in-flight levels, e.g. 1,64,400 (default 1,64; 1 is `seq`)')
    .option('--s3-kinds <list>', 'S3 (and S8) arrays in this order, e.g. random,weights,image: the first runs on cold proxies')
    .option('--s1-calls <seq,c64>', 'S1 calls per measurement, sequential and 64 in flight (quick: 60,640); more resolves smaller differences')
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .option('--live-src', 'run the proxies from the working tree instead of a snapshot of the committed src/')
    .option('--cpu-prof', 'edge and gateway (and the null relays) write V8 CPU profiles under bench/results/tmp/cpu-prof/<stamp>/')
    .option('--workers <n>', 'run edge and gateway with --workers N (default 1)')
    .option('--link-tls', 'add TLS arms: the pair over a tls:// link, direct over wss:// (TLS terminator in front of hypha); CA made with openssl at start')
    .parse();
  const opts = program.opts<{ full?: boolean; smoke?: boolean; demo?: boolean; profile?: string; scenario?: string; topology?: string; reps?: string; s1Concurrency?: string; s1Calls?: string; s3Kinds?: string; out: string; liveSrc?: boolean; cpuProf?: boolean; workers?: string; linkTls?: boolean }>();
  const mode: Mode = opts.smoke ? 'smoke' : opts.demo ? 'demo' : opts.full ? 'full' : 'quick';
  const plan = defaultPlan(mode);
  if (opts.profile) {
    const profiles = list(opts.profile);
    for (const p of profiles) if (!isProfileName(p)) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `unknown profile ${p}`);
    plan.profiles = profiles as ProfileName[];
  }
  if (opts.scenario) {
    const scenarios = list(opts.scenario).map((s) => s.toUpperCase());
    for (const s of scenarios) if (!ALL_SCENARIOS.includes(s as ScenarioId)) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `unknown scenario ${s}`);
    plan.scenarios = scenarios as ScenarioId[];
  }
  if (opts.topology) plan.topologies = list(opts.topology).map((t) => t.toUpperCase()) as Topology[];
  if (opts.s1Concurrency) {
    const levels = list(opts.s1Concurrency).map(Number);
    for (const c of levels) if (!Number.isInteger(c) || c < 1) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `bad S1 concurrency ${c}`);
    plan.sizes.s1Concurrency = levels;
  }
  if (opts.s3Kinds) {
    const kinds = list(opts.s3Kinds);
    for (const k of kinds) if (!['image', 'weights', 'random'].includes(k)) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `unknown S3 kind ${k}`);
    plan.sizes.s3Kinds = kinds;
  }
  if (opts.s1Calls) {
    const [seq, c64] = list(opts.s1Calls).map(Number);
    if (!Number.isInteger(seq) || !Number.isInteger(c64) || seq! < 1 || c64! < 64) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `--s1-calls wants SEQ,C64 (C64 >= 64), got ${opts.s1Calls}`);
    plan.sizes.s1SequentialCalls = seq!;
    plan.sizes.s1ConcurrentCalls = c64!;
  }
  if (opts.reps) {
    plan.reps = Math.max(1, Number(opts.reps));
    plan.scenarioReps = {};
  }

  const pinning = cpuPinning(); // a bad HYPHA_ACCEL_BENCH_PROXY_CPUS fails here, before anything starts
  const started = new Date();
  const loadAtStart = loadavg();
  const progress = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  progress(`bench ${mode}: profiles ${plan.profiles.join(',')}, scenarios ${plan.scenarios.join(',')}, topologies ${plan.topologies.join(',')}, ${plan.reps} rep(s)${Object.keys(plan.scenarioReps).length ? ` (${Object.entries(plan.scenarioReps).map(([s, n]) => `${s}: ${n}`).join(', ')})` : ''}`);
  const code = opts.liveSrc ? liveSrc() : snapshotCommittedSrc();
  if (pinning.proxies !== undefined) progress(`CPUs: proxies and null relays on ${pinning.proxies}, everything else on ${pinning.runner ?? 'any'}`);
  progress(`proxies run from ${code.live ? 'the live working tree' : `a snapshot of commit ${code.commit}`} (${code.root})`);
  // Ctrl-C or a kill ends every process this run started (hypha, clients, proxies), then exits.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping everything this run started`);
      killDescendants(process.pid);
      code.dispose();
      process.exit(130);
    });
  }
  const hypha = await startHyphaServer({ env: HYPHA_SERVER_ENV });
  progress(`hypha server ${hypha.url} (pid ${hypha.pid}), env ${JSON.stringify(HYPHA_SERVER_ENV)}`);
  const secretFile = join(mkdtempSync(join(tmpdir(), 'hypha-accel-bench-')), 'secret');
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const stamp = started.toISOString().slice(0, 16).replace(':', '');
  const cpuProfDir = opts.cpuProf ? join(RESULTS_DIR, 'tmp', 'cpu-prof', stamp) : undefined;
  if (cpuProfDir) progress(`CPU profiles of edge and gateway go to ${cpuProfDir} (written when each rig closes)`);
  const linkTls = opts.linkTls ? makeBenchTls(progress) : undefined;
  const proxyWorkers = opts.workers ? Math.max(1, Number(opts.workers)) : undefined;
  // The demo runs each of its parts with its own scenarios and topologies, and says which is which.
  const parts: { profile: ProfileName; plan: RunPlan; heading: string; label?: string }[] =
    mode === 'demo' && !opts.profile && !opts.scenario && !opts.topology
      ? DEMO_PARTS.map((part) => ({
          profile: part.profile,
          plan: { ...plan, profiles: [part.profile], scenarios: part.scenarios, topologies: part.topologies },
          heading: `${part.profile} (${part.label}): ${part.why}`,
          label: part.label,
        }))
      : plan.profiles.map((profile) => ({ profile, plan, heading: profile }));
  try {
    for (const { profile, plan, heading, label } of parts) {
      progress(`== profile ${profile}`);
      const result = await runProfile(plan, { hyphaUrl: hypha.url, hyphaPid: hypha.pid, codeRoot: code.root, secretFile, progress, ...(cpuProfDir ? { cpuProfDir } : {}), ...(proxyWorkers ? { proxyWorkers } : {}), ...(linkTls ? { linkTls } : {}) }, profile);
      const meta = collectMeta(plan, started, loadAtStart, HYPHA_SERVER_ENV, code.commit);
      const files = await writeReport(plan, meta, result, opts.out, `${stamp}${mode === 'full' ? '' : `-${mode}`}`);
      const rows = summarise(result.measurements);
      const colocated = colocatedTable(rows);
      const tls = tlsTable(rows);
      process.stdout.write(`\n## ${heading}\n\n${summaryTable(rows, label)}\n${tls ? `\nTLS arms:\n\n${tls}\n` : ''}${colocated ? `\n${colocated}\n` : ''}\nreport: ${files.md}\n`);
    }
  } finally {
    await hypha.stop();
    code.dispose();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err)}\n`);
  process.exit(1);
});
