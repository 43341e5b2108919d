// Reduces measurements to a summary: per (scenario, topology, variant, figure) the median and spread
// of each arm and the accelerated arm's factor against direct-with-deflate (>1 means better).

import { HEADLINE_FIGURES } from './plan.js';
import type { Measurement } from './results.js';
import type { Arm } from './rig.js';
import { median, spread } from './stats.js';

export interface ArmCell {
  median: number;
  min: number;
  max: number;
  n: number;
  errors: number;
}

export interface SummaryRow {
  profile: string;
  scenario: string;
  topology: string;
  variant: string;
  figure: string;
  unit: string;
  higherIsBetter: boolean;
  arms: Partial<Record<Arm, ArmCell>>;
  /** accelerated vs direct-with-deflate, oriented so that >1 means the accelerated arm is better. */
  accelFactorVsDeflate?: number;
  accelFactorVsPlain?: number;
  /** accelerated vs the null relay (plain TCP pipes where edge and gateway stand): the pair's own cost. */
  accelFactorVsNull?: number;
  /** S8: the pair with shared memory vs the same pair over loopback TCP (>1 means shm is better). */
  shmFactorVsTcp?: number;
  /** --link-tls: the pair with a TLS link vs direct wss:// with and without deflate (>1 means the pair is better). */
  tlsFactorVsDeflateTls?: number;
  tlsFactorVsPlainTls?: number;
}

function factor(accel: ArmCell | undefined, direct: ArmCell | undefined, higherIsBetter: boolean): number | undefined {
  if (!accel || !direct || !(accel.n > 0) || !(direct.n > 0)) return undefined;
  if (accel.median === 0 || direct.median === 0) return undefined;
  return higherIsBetter ? accel.median / direct.median : direct.median / accel.median;
}

export function summarise(measurements: readonly Measurement[]): SummaryRow[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = [m.profile, m.scenario, m.topology, m.variant].join('|');
    const list = groups.get(key);
    if (list) list.push(m);
    else groups.set(key, [m]);
  }
  const rows: SummaryRow[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    for (const figure of HEADLINE_FIGURES[first.scenario] ?? []) {
      const arms: SummaryRow['arms'] = {};
      for (const m of list) {
        const cell = arms[m.arm] ?? { median: NaN, min: NaN, max: NaN, n: 0, errors: 0 };
        arms[m.arm] = cell;
        if (m.error) cell.errors += 1;
      }
      for (const arm of Object.keys(arms) as Arm[]) {
        const values = list.filter((m) => m.arm === arm && m.figures && Number.isFinite(m.figures[figure.key])).map((m) => m.figures![figure.key]!);
        const cell = arms[arm]!;
        if (values.length > 0) Object.assign(cell, { median: median(values), ...spread(values), n: values.length });
      }
      if (Object.values(arms).every((cell) => cell.n === 0 && cell.errors === 0)) continue;
      rows.push({
        profile: first.profile,
        scenario: first.scenario,
        topology: first.topology,
        variant: first.variant,
        figure: figure.key,
        unit: figure.unit,
        higherIsBetter: figure.higherIsBetter,
        arms,
        accelFactorVsDeflate: factor(arms.accel, arms['direct-deflate'], figure.higherIsBetter),
        accelFactorVsPlain: factor(arms.accel, arms['direct-plain'], figure.higherIsBetter),
        accelFactorVsNull: factor(arms.accel, arms['null-relay'], figure.higherIsBetter),
        shmFactorVsTcp: factor(arms['accel-shm'], arms.accel, figure.higherIsBetter),
        tlsFactorVsDeflateTls: factor(arms['accel-tls'], arms['direct-deflate-tls'], figure.higherIsBetter),
        tlsFactorVsPlainTls: factor(arms['accel-tls'], arms['direct-plain-tls'], figure.higherIsBetter),
      });
    }
  }
  return rows;
}
