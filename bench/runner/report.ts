// Writes a run's results: bench/results/<date>-<profile>.json (everything) and a Markdown report with
// the summary table, the facts a reader needs (machine, versions, profile, deflate, proxy CPU and RSS)
// and SVG charts beside it.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { profileShape } from '../emulator/profiles.js';
import { renderBarChart } from './charts.js';
import type { ProfileResult } from './results.js';
import { REPO_ROOT, VENV_PYTHON } from './paths.js';
import type { RunPlan } from './plan.js';
import { summarise, type SummaryRow } from './summary.js';
import { tracingArmsTable } from './tracing-report.js';
import { median } from './stats.js';
import { cpuPinning, describePinning, type CpuPinning } from './cpu-affinity.js';

export interface RunMeta {
  startedAt: string;
  finishedAt: string;
  mode: string;
  // Other work shares the build machine's cores: the load average says how much (1, 5, 15 min).
  machine: { cpuModel: string; cores: number; memoryGiB: number; kernel: string; loadAverage: { start: number[]; end: number[] }; cpus?: CpuPinning };
  versions: Record<string, string>;
  gitCommit: string;
  hyphaServerEnv: Record<string, string>;
  clientNote: string;
}

function tryExec(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function collectMeta(plan: RunPlan, startedAt: Date, loadAtStart: number[], hyphaServerEnv: Record<string, string>, proxyCommit: string): RunMeta {
  const py = tryExec(VENV_PYTHON, [
    '-c',
    'import importlib.metadata as m; print(";".join(f"{p}={m.version(p)}" for p in ["hypha","hypha-rpc","websockets","numpy"]))',
  ]);
  const versions: Record<string, string> = { node: process.version };
  for (const pair of py.split(';')) {
    const [name, version] = pair.split('=');
    if (name && version) versions[`py:${name}`] = version;
  }
  try {
    versions['npm:hypha-rpc'] = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/hypha-rpc/package.json'), 'utf8')).version;
  } catch {
    versions['npm:hypha-rpc'] = 'unknown';
  }
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: plan.mode,
    machine: { cpuModel: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), loadAverage: { start: loadAtStart, end: os.loadavg() }, cpus: cpuPinning() },
    versions,
    gitCommit: proxyCommit,
    hyphaServerEnv,
    clientNote: 'Python hypha-rpc client, one process per client (bench/clients/bench_client.py); every result checked (echo equality, sha256 of arrays).',
  };
}

type ArmName = 'direct-deflate' | 'direct-plain' | 'null-relay' | 'accel' | 'accel-shm' | 'accel-unix' | 'gateway-only' | 'gateway-only-ws' | 'direct-deflate-tls' | 'direct-plain-tls' | 'accel-tls';

function fmt(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

function cellText(row: SummaryRow, arm: ArmName): string {
  const cell = row.arms[arm];
  if (!cell) return '–';
  if (cell.n === 0) return cell.errors ? `error (${cell.errors})` : '–';
  const range = cell.n > 1 ? ` (${fmt(cell.min)}–${fmt(cell.max)})` : '';
  return `${fmt(cell.median)}${range}${cell.errors ? ` +${cell.errors} err` : ''}`;
}

const factorText = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`);

/** The main table: every scenario but S8, three arms and the accelerated arm's factors. */
export function summaryTable(rows: readonly SummaryRow[], caseLabel?: string): string {
  // With a label (the demo's "overhead" / "where the pair helps"), every row says which case it shows.
  const first = caseLabel === undefined ? '' : '| case ';
  const lines = [
    `${first}| scenario | topo | variant | figure | direct (deflate) | direct (no deflate) | null relay | accelerated | accel vs deflate | accel vs no-deflate | accel vs null relay |`,
    `${caseLabel === undefined ? '' : '|---'}|---|---|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const row of rows) {
    if (row.scenario === 'S8') continue;
    lines.push(
      `${caseLabel === undefined ? '' : `| ${caseLabel} `}| ${row.scenario} | ${row.topology} | ${row.variant} | ${row.figure} [${row.unit}] | ${cellText(row, 'direct-deflate')} | ${cellText(row, 'direct-plain')} | ${cellText(row, 'null-relay')} | ${cellText(row, 'accel')} | ${factorText(row.accelFactorVsDeflate)} | ${factorText(row.accelFactorVsPlain)} | ${factorText(row.accelFactorVsNull)} |`,
    );
  }
  return lines.join('\n');
}

/** --link-tls: the pair over a tls:// link against direct wss:// (TLS ended in front of hypha), with and without deflate. */
export function tlsTable(rows: readonly SummaryRow[]): string {
  const tls = rows.filter((row) => row.scenario !== 'S8' && (row.arms['accel-tls'] || row.arms['direct-deflate-tls']));
  if (tls.length === 0) return '';
  const lines = [
    '| scenario | topo | variant | figure | direct wss (deflate) | direct wss (no deflate) | accelerated, tls:// link | accel-tls vs wss deflate | accel-tls vs wss no-deflate |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of tls) {
    lines.push(
      `| ${row.scenario} | ${row.topology} | ${row.variant} | ${row.figure} [${row.unit}] | ${cellText(row, 'direct-deflate-tls')} | ${cellText(row, 'direct-plain-tls')} | ${cellText(row, 'accel-tls')} | ${factorText(row.tlsFactorVsDeflateTls)} | ${factorText(row.tlsFactorVsPlainTls)} |`,
    );
  }
  return lines.join('\n');
}

/** S8 (colocated): the pair with shared memory and over the Unix socket against the same pair over loopback TCP, and direct. */
export function colocatedTable(rows: readonly SummaryRow[]): string {
  const s8 = rows.filter((row) => row.scenario === 'S8');
  if (s8.length === 0) return '';
  const lines = [
    '| scenario | topo | variant | figure | direct (deflate) | direct (no deflate) | null relay (TCP) | pair over TCP | pair with shm | pair over Unix socket | gateway only | gateway only, ws relay | shm vs TCP | Unix vs TCP | shm vs direct (no deflate) | Unix vs direct (no deflate) | gateway only vs direct (no deflate) | gateway only, ws relay vs direct (no deflate) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const versus = (row: SummaryRow, arm: ArmName, base: ArmName) => {
    const a = row.arms[arm];
    const b = row.arms[base];
    return a && b && a.n > 0 && b.n > 0 ? (row.higherIsBetter ? a.median / b.median : b.median / a.median) : undefined;
  };
  for (const row of s8) {
    lines.push(
      `| ${row.scenario} | ${row.topology} | ${row.variant} | ${row.figure} [${row.unit}] | ${cellText(row, 'direct-deflate')} | ${cellText(row, 'direct-plain')} | ${cellText(row, 'null-relay')} | ${cellText(row, 'accel')} | ${cellText(row, 'accel-shm')} | ${cellText(row, 'accel-unix')} | ${cellText(row, 'gateway-only')} | ${cellText(row, 'gateway-only-ws')} | ${factorText(row.shmFactorVsTcp)} | ${factorText(versus(row, 'accel-unix', 'accel'))} | ${factorText(versus(row, 'accel-shm', 'direct-plain'))} | ${factorText(versus(row, 'accel-unix', 'direct-plain'))} | ${factorText(versus(row, 'gateway-only', 'direct-plain'))} | ${factorText(versus(row, 'gateway-only-ws', 'direct-plain'))} |`,
    );
  }
  return lines.join('\n');
}

/** Messages through the pair per S1 call: request and reply (T1); in T2 also server -> service and back. */
const messagesPerCall = (topology: string) => (topology === 'T1' ? 2 : 4);

/** CPU per unit of a scenario's work: per message (S1, S6), per bootstrap (S2), per MB of array (S3, S4, S8), per link MB (S5). */
const CPU_UNITS: Partial<Record<string, { name: string; scale: number; units: (figures: Record<string, number>, topology: string) => number }>> = {
  S1: { name: 'µs/message', scale: 1e6, units: (f, t) => (f.linkBytes! / f.linkBytesPerUnit!) * messagesPerCall(t) },
  S2: { name: 'ms/bootstrap', scale: 1e3, units: () => 1 },
  S3: { name: 'ms/MB', scale: 1e3, units: (f) => f.linkBytes! / f.linkBytesPerUnit! / 1e6 },
  S4: { name: 'ms/MB', scale: 1e3, units: (f) => f.linkBytes! / f.linkBytesPerUnit! / 1e6 },
  S5: { name: 'ms/link MB', scale: 1e3, units: (f) => f.linkBytes! / 1e6 },
  S6: { name: 'µs/message', scale: 1e6, units: (f) => f.messages! },
  S8: { name: 'ms/MB', scale: 1e3, units: (f) => f.linkBytes! / f.linkBytesPerUnit! / 1e6 },
};

const ROLE_COLUMNS = ['edge', 'gateway', 'hypha', 'clients', 'runner', 'emulator'] as const;
const ARM_ORDER: readonly string[] = ['direct-deflate', 'direct-plain', 'null-relay', 'accel', 'accel-shm', 'accel-unix', 'gateway-only', 'gateway-only-ws', 'direct-deflate-tls', 'direct-plain-tls', 'accel-tls'];

/** CPU per role and unit of work, every arm (S7 has no unit: outages). Median over repetitions. */
export function roleCpuTable(result: ProfileResult): string {
  const groups = new Map<string, { unit: string; scale: number; perRole: Map<string, number[]>; units: number[] }>();
  // Rows in the order the scenario steps ran, arms in ARM_ORDER within each step.
  const stepOrder = new Map<string, number>();
  for (const m of result.measurements) {
    const step = `${m.scenario}|${m.topology}|${m.variant}`;
    if (!stepOrder.has(step)) stepOrder.set(step, stepOrder.size);
  }
  const rank = (m: ProfileResult['measurements'][number]) => stepOrder.get(`${m.scenario}|${m.topology}|${m.variant}`)! * 10 + ARM_ORDER.indexOf(m.arm);
  const measurements = [...result.measurements].sort((x, y) => rank(x) - rank(y));
  for (const m of measurements) {
    const unit = CPU_UNITS[m.scenario];
    if (!unit || !m.roleCpu || !m.figures) continue;
    const key = `${m.scenario} | ${m.topology} | ${m.variant} | ${m.arm}`;
    const group = groups.get(key) ?? { unit: unit.name, scale: unit.scale, perRole: new Map<string, number[]>(), units: [] };
    groups.set(key, group);
    group.units.push(unit.units(m.figures, m.topology));
    for (const [role, seconds] of Object.entries(m.roleCpu)) group.perRole.set(role, [...(group.perRole.get(role) ?? []), seconds]);
  }
  const rows: string[] = [];
  for (const [key, g] of groups) {
    const units = median(g.units);
    const per = (role: string) => {
      const values = g.perRole.get(role);
      return values ? (median(values) / units) * g.scale : undefined;
    };
    const pair = per('edge') !== undefined && per('gateway') !== undefined ? per('edge')! + per('gateway')! : undefined;
    const total = ROLE_COLUMNS.reduce((sum, role) => sum + (per(role) ?? 0), 0);
    rows.push(`| ${key} | ${g.unit} | ${ROLE_COLUMNS.map((role) => fmt(per(role))).join(' | ')} | ${fmt(pair)} | ${fmt(total)} |`);
  }
  return rows.join('\n');
}

export async function writeReport(plan: RunPlan, meta: RunMeta, result: ProfileResult, dir: string, stamp: string): Promise<{ json: string; md: string }> {
  mkdirSync(dir, { recursive: true });
  const base = `${stamp}-${result.profile}`;
  const rows = summarise(result.measurements);
  const shape = profileShape(result.profile);
  const json = join(dir, `${base}.json`);
  writeFileSync(json, JSON.stringify({ meta, plan, shape, ...result, summary: rows }, null, 2) + '\n');

  const charts: string[] = [];
  const byFigure = new Map<string, SummaryRow[]>();
  for (const row of rows) {
    const key = `${row.scenario}-${row.figure}`;
    byFigure.set(key, [...(byFigure.get(key) ?? []), row]);
  }
  for (const [key, figureRows] of byFigure) {
    const first = figureRows[0]!;
    const file = `${base}-${key}.svg`;
    try {
      writeFileSync(join(dir, file), await renderBarChart(figureRows, `${result.profile} ${first.scenario}: ${first.figure} (median, min–max)`, first.unit));
      charts.push(`![${key}](${file})`);
    } catch (err) {
      charts.push(`(chart ${key} failed: ${(err as Error).message})`);
    }
  }

  const facts = Object.entries(result.armFacts)
    .map(([key, f]) => {
      const deflate = key.endsWith('direct-deflate-tls') ? 'inside TLS (the emulator cannot see it): offered by the client, as by default' : key.endsWith('direct-plain-tls') ? 'inside TLS: Sec-WebSocket-Extensions stripped by the TLS terminator' : key.includes('accel') ? 'client↔edge not on the link' : key.includes('null-relay') ? `${f.deflateNegotiated}/${f.upgradesAccepted} upgrades negotiated permessage-deflate (stripped: the null relay stands in for the pair)` : `${f.deflateNegotiated}/${f.upgradesAccepted} upgrades negotiated permessage-deflate`;
      const proxies = Object.entries(f.proxies)
        .map(([role, p]) => `${role} ${p.cpuSeconds.toFixed(1)} CPU s, peak RSS ${(p.peakRssBytes / 2 ** 20).toFixed(0)} MiB`)
        .join('; ');
      return `| ${key} | ${deflate} | ${proxies || '–'} |`;
    })
    .join('\n');
  const cpuRows = roleCpuTable(result);
  const notRun = result.notRun.map((n) => `- ${n.scenario}${n.topology ? ` (${n.topology})` : ''}: not run: ${n.reason}`).join('\n');
  const errors = result.measurements.filter((m) => m.error);
  const md = join(dir, `${base}.md`);
  writeFileSync(
    md,
    [
      `# hypha-accel benchmark: ${result.profile} (${meta.mode} mode), ${meta.startedAt}`,
      '',
      `Link: ${shape.oneWayDelayMs} ms one way, ${shape.bandwidthBitsPerSec ? `${shape.bandwidthBitsPerSec / 1e6} Mbit/s shared per direction` : 'unshaped'}, queue ${shape.queueBytes} B (fifo unless S5 says fq).`,
      `Machine: ${meta.machine.cpuModel}, ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB, Linux ${meta.machine.kernel}, load average ${meta.machine.loadAverage.start.map((l) => l.toFixed(2)).join(' ')} at the start, ${meta.machine.loadAverage.end.map((l) => l.toFixed(2)).join(' ')} at the end. Proxies run from commit ${meta.gitCommit} (pinned for the whole run).${describePinning(meta.machine.cpus)}`,
      `Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
      `hypha server env: ${Object.entries(meta.hyphaServerEnv).map(([k, v]) => `${k}=${v}`).join(' ')} (rate and admission limits raised so they are not what is measured).`,
      `Arms, interleaved per repetition (${plan.reps}×${Object.keys(plan.scenarioReps).length ? `; ${Object.entries(plan.scenarioReps).map(([id, n]) => `${id} ${n}×`).join(', ')}` : ''}): direct with deflate as negotiated by default; direct with Sec-WebSocket-Extensions stripped by the emulator; null relay (direct without deflate through two plain TCP pipes standing where edge and gateway stand); accelerated (client → edge → link → gateway → hypha). T1: caller behind the link, service beside hypha. T2: both behind the link.`,
      meta.clientNote,
      '',
      '## Summary (median, min–max over repetitions; factor > 1 means the accelerated arm is better)',
      '',
      summaryTable(rows),
      '',
      ...(tlsTable(rows) ? ['## TLS on the link (--link-tls): the pair over tls:// against direct wss://', '', 'direct wss: clients use https:// URLs across the emulated link to a TLS terminator in front of hypha (bench/runner/tls-terminator.ts, a Node TLS pipe standing in for an ingress, counted as the gateway role); accelerated: client → edge (plain, loopback) → tls:// link → gateway (TLS listener) → hypha. One CA and 127.0.0.1 certificate made with openssl at bench start. S2 here is a fresh client per measurement: through the edge its link is already up; direct it pays TCP + TLS handshakes across the link.', '', tlsTable(rows), ''] : []),
      ...(tracingArmsTable(result) ? ['## Tracing arms (HYPHA_ACCEL_BENCH_ARMS): the pair with tracing off, a second off (A/A), the default sampler, always on', '', 'Each arm is its own rig (pair, emulator, clients) on the same hypha server; per repetition every arm runs once, back to back, the first arm rotated. Ratios are per repetition against accel-trace-off of the same repetition; the A/A row is the noise between two identical rigs. CPU is edge + gateway, every thread, per message through the pair.', '', tracingArmsTable(result)!, ''] : []),
      ...(colocatedTable(rows) ? ['## S8 colocated (edge and gateway on one host): shared memory vs loopback TCP', '', colocatedTable(rows), ''] : []),
      '## Deflate and proxy cost per rig',
      '',
      '| rig | deflate | proxies (CPU seconds over the rig\'s life, peak RSS) |',
      '|---|---|---|',
      facts,
      '',
      '## CPU per role and unit of work (median over repetitions)',
      '',
      'On CPU (every thread, /proc/<pid>/task/*/schedstat) during each measurement, divided by its work: a message is one hypha WebSocket message through the pair (S1: 2 per call in T1, 4 in T2), MB is of array bytes. edge and gateway are the proxies (with their workers) or, in the null-relay arm, the two plain TCP pipes; clients are the benchmark\'s Python client processes; runner is this Node process; emulator is the link emulator\'s own process.',
      '',
      `| scenario | topo | variant | arm | unit | ${ROLE_COLUMNS.join(' | ')} | edge+gateway | all |`,
      `|${'---|'.repeat(ROLE_COLUMNS.length + 7)}`,
      cpuRows || '| – |',
      '',
      '## Not run',
      '',
      notRun || '- (everything planned ran)',
      '',
      `## Errors (${errors.length})`,
      '',
      errors.map((m) => `- ${m.scenario} ${m.topology} ${m.variant} ${m.arm} rep ${m.rep}: ${m.error}`).join('\n') || '- none',
      '',
      '## Charts',
      '',
      charts.join('\n\n'),
      '',
    ].join('\n'),
  );
  return { json, md };
}
