// The tracing arms' table (tracing-arms.ts): per S1/S6 step, calls/s and edge+gateway CPU per message of
// each arm, and each arm against tracing off as a ratio per repetition (the arms of one repetition ran back
// to back) with the geometric mean and range: the A/A arm's ratios are the noise the others are read against.
import type { Measurement, ProfileResult } from './results.js';
import { TRACING_ARMS } from './tracing-arms.js';

/** Messages through the pair in one measurement (S1: 2 per call in T1, 4 in T2; S6: counted by the driver). */
function messages(m: Measurement): number | undefined {
  const f = m.figures;
  if (!f) return undefined;
  if (m.scenario === 'S6') return f.messages;
  if (m.scenario === 'S1' && f.linkBytes !== undefined && f.linkBytesPerUnit) return (f.linkBytes / f.linkBytesPerUnit) * (m.topology === 'T1' ? 2 : 4);
  return undefined;
}

/** calls/s and edge+gateway CPU µs per message of one measurement. */
export function tracingFigures(m: Measurement): { callsPerSec: number; cpuUsPerMessage: number } | undefined {
  const n = messages(m);
  const calls = m.scenario === 'S6' ? m.figures?.activeCallsPerSec : m.figures?.callsPerSec;
  const cpu = m.roleCpu && m.roleCpu.edge !== undefined && m.roleCpu.gateway !== undefined ? m.roleCpu.edge + m.roleCpu.gateway : undefined;
  if (!n || calls === undefined || cpu === undefined) return undefined;
  return { callsPerSec: calls, cpuUsPerMessage: (cpu * 1e6) / n };
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
const f2 = (x: number) => x.toFixed(2);
const f0 = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function ratiosOf(arm: Map<number, number>, off: Map<number, number>): number[] {
  return [...arm].filter(([rep]) => off.has(rep)).map(([rep, v]) => v / off.get(rep)!);
}

/** Geometric mean and the 95% interval of it (mean of logs ± 2 standard errors), as `g (lo–hi)`. */
function pooledText(ratios: number[]): string {
  if (ratios.length < 2) return '–';
  const logs = ratios.map(Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (logs.length - 1));
  const se = sd / Math.sqrt(logs.length);
  return `${f2(Math.exp(mean))} (${f2(Math.exp(mean - 2 * se))}–${f2(Math.exp(mean + 2 * se))}), n=${ratios.length}`;
}

/** Per-repetition ratios arm / off of one figure, summarised: geomean [min–max] (k/n above 1). */
function ratioText(arm: Map<number, number>, off: Map<number, number>): string {
  const ratios = ratiosOf(arm, off);
  if (ratios.length === 0) return '–';
  return `${f2(geomean(ratios))} [${f2(Math.min(...ratios))}–${f2(Math.max(...ratios))}] (${ratios.filter((r) => r > 1).length}/${ratios.length} above)`;
}

export function tracingArmsTable(result: ProfileResult): string | undefined {
  const steps = new Map<string, Map<string, Map<number, { callsPerSec: number; cpuUsPerMessage: number }>>>();
  for (const m of result.measurements) {
    if (!(TRACING_ARMS as readonly string[]).includes(m.arm)) continue;
    const figures = tracingFigures(m);
    if (!figures) continue;
    const step = `${m.scenario} | ${m.topology} | ${m.variant}`;
    const arms = steps.get(step) ?? new Map();
    steps.set(step, arms);
    const reps = arms.get(m.arm) ?? new Map();
    arms.set(m.arm, reps);
    reps.set(m.rep, figures);
  }
  if (steps.size === 0) return undefined;
  const rows: string[] = [];
  // Every repetition's ratio of every step of a scenario, pooled per arm (steps differ in size, ratios do not).
  const pooled = new Map<string, { calls: number[]; cpu: number[] }>();
  for (const [step, arms] of steps) {
    const off = arms.get('accel-trace-off');
    const pick = (reps: Map<number, { callsPerSec: number; cpuUsPerMessage: number }>, key: 'callsPerSec' | 'cpuUsPerMessage') => new Map([...reps].map(([rep, f]) => [rep, f[key]]));
    for (const arm of TRACING_ARMS) {
      const reps = arms.get(arm);
      if (!reps) continue;
      const calls = [...reps.values()].map((f) => f.callsPerSec);
      const cpu = [...reps.values()].map((f) => f.cpuUsPerMessage);
      if (off && arm !== 'accel-trace-off') {
        const key = `${step.split(' | ')[0]} | ${arm}`;
        const into = pooled.get(key) ?? { calls: [], cpu: [] };
        pooled.set(key, into);
        into.calls.push(...ratiosOf(pick(reps, 'callsPerSec'), pick(off, 'callsPerSec')));
        into.cpu.push(...ratiosOf(pick(reps, 'cpuUsPerMessage'), pick(off, 'cpuUsPerMessage')));
      }
      const versus = off && arm !== 'accel-trace-off'
        ? `${ratioText(pick(reps, 'callsPerSec'), pick(off, 'callsPerSec'))} | ${ratioText(pick(reps, 'cpuUsPerMessage'), pick(off, 'cpuUsPerMessage'))}`
        : '– | –';
      rows.push(`| ${step} | ${arm} | ${reps.size} | ${f0(geomean(calls))} [${f0(Math.min(...calls))}–${f0(Math.max(...calls))}] | ${f0(geomean(cpu))} [${f0(Math.min(...cpu))}–${f0(Math.max(...cpu))}] | ${versus} |`);
    }
  }
  return [
    '| scenario | topo | variant | arm | reps | calls/s geomean [min–max] | edge+gateway CPU µs/message geomean [min–max] | calls/s / off per rep | CPU per message / off per rep |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Pooled over the steps of each scenario (every repetition\'s ratio to tracing off): geometric mean (95% interval of it, ±2 standard errors of the mean log ratio), number of ratios.',
    '',
    '| scenario | arm | calls/s / off | CPU per message / off |',
    '|---|---|---|---|',
    ...[...pooled].map(([key, r]) => `| ${key} | ${pooledText(r.calls)} | ${pooledText(r.cpu)} |`),
  ].join('\n');
}
