// What a benchmark run does: modes (smoke, quick, full), their sizes and repetitions, and the
// scenario list with the reason a scenario is not run when it cannot be yet. Data only.

import type { ProfileName } from '../emulator/profiles.js';
import type { Topology } from './rig.js';
import type { Sizes } from './scenarios.js';

export type Mode = 'smoke' | 'demo' | 'quick' | 'full';
export type ScenarioId = 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S6' | 'S7' | 'S8';
export const ALL_SCENARIOS: readonly ScenarioId[] = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8'];

export interface RunPlan {
  mode: Mode;
  profiles: ProfileName[];
  scenarios: ScenarioId[];
  topologies: Topology[];
  reps: number;
  /** Fewer repetitions for scenarios whose one repetition takes minutes (S6, S7); --reps overrides. */
  scenarioReps: Partial<Record<ScenarioId, number>>;
  sizes: Sizes;
}

const MiB = 1024 * 1024;

export function defaultPlan(mode: Mode): RunPlan {
  switch (mode) {
    case 'smoke':
      return {
        mode,
        profiles: ['lan'],
        scenarios: ['S1', 'S3'],
        topologies: ['T1'],
        reps: 1,
        scenarioReps: {},
        sizes: { s1SequentialCalls: 50, s1ConcurrentCalls: 256, s3Bytes: 4 * MiB, s3Kinds: ['image'], s4Bytes: 4 * MiB, s4Passes: 2, s5Bytes: 8 * MiB },
      };
    case 'demo':
      // The short side-by-side that `npm run demo` ends with, in the parts of DEMO_PARTS (each part
      // narrows profiles, scenarios and topologies): small calls, then an 8 MiB array 3 times and changed.
      return {
        mode,
        profiles: DEMO_PARTS.map((part) => part.profile),
        scenarios: ['S1', 'S4'],
        topologies: ['T1', 'T2'],
        reps: 1,
        scenarioReps: {},
        sizes: { s1SequentialCalls: 40, s1ConcurrentCalls: 256, s3Bytes: 16 * MiB, s3Kinds: ['image'], s4Bytes: 8 * MiB, s4Passes: 3, s5Bytes: 8 * MiB },
      };
    case 'quick':
      return {
        mode,
        profiles: ['wan'],
        scenarios: ['S1', 'S3', 'S4'],
        topologies: ['T1', 'T2'],
        reps: 1,
        scenarioReps: {},
        sizes: { s1SequentialCalls: 60, s1ConcurrentCalls: 640, s3Bytes: 16 * MiB, s3Kinds: ['image', 'weights', 'random'], s4Bytes: 4 * MiB, s4Passes: 3, s5Bytes: 16 * MiB },
      };
    case 'full':
      return {
        mode,
        profiles: ['lan', 'wan'],
        scenarios: [...ALL_SCENARIOS],
        topologies: ['T1', 'T2'],
        reps: 3,
        // One S6 repetition is ~1 min per arm (550 real clients connect), one S7 repetition ~20 s per variant.
        scenarioReps: { S6: 1, S7: 1 },
        sizes: { s1SequentialCalls: 150, s1ConcurrentCalls: 2000, s3Bytes: 64 * MiB, s3Kinds: ['image', 'weights', 'random'], s4Bytes: 16 * MiB, s4Passes: 5, s5Bytes: 64 * MiB },
      };
  }
}

/** A part of the demo's side-by-side: one profile, what runs on it, and which side of the ledger it shows. */
export interface DemoPart {
  profile: ProfileName;
  scenarios: ScenarioId[];
  topologies: Topology[];
  label: 'overhead' | 'where the pair helps';
  why: string;
}

/** The demo shows the cases the pair exists for next to its own cost (docs/when-it-helps.md has the full table). */
export const DEMO_PARTS: readonly DemoPart[] = [
  {
    profile: 'lan',
    scenarios: ['S1'],
    topologies: ['T1'],
    label: 'overhead',
    why: 'small calls on unshaped loopback: no link to save time on, the pair only adds two hops and their CPU',
  },
  {
    profile: 'slow',
    // S4's first pass is a one-off 8 MiB transfer, its later passes repeated data. A 16 MiB S3 image here
    // measured 0.41-0.91x against deflate on the loaded 2-core build machine (the pair's compression was
    // CPU-bound), so it is left to the full run and docs/when-it-helps.md.
    scenarios: ['S4'],
    topologies: ['T2'],
    label: 'where the pair helps',
    why: 'a 60 ms, 20 Mbit/s link, both clients behind it (T2): direct, an 8 MiB array crosses the link twice; the pair carries it once, compressed, and repeated data (later passes, 1% changed) only as chunk references',
  },
];

export function repsFor(plan: RunPlan, scenario: ScenarioId): number {
  return plan.scenarioReps[scenario] ?? plan.reps;
}

/** Scenarios that cannot run yet, reported as "not run: <reason>" (empty when every driver exists). */
export const NOT_YET_RUNNABLE: Partial<Record<ScenarioId, string>> = {};

/** Figures shown in the summary, per scenario, and whether higher is better. */
export const HEADLINE_FIGURES: Record<string, { key: string; higherIsBetter: boolean; unit: string }[]> = {
  S1: [
    { key: 'callsPerSec', higherIsBetter: true, unit: 'calls/s' },
    { key: 'p50Ms', higherIsBetter: false, unit: 'ms' },
    { key: 'p99Ms', higherIsBetter: false, unit: 'ms' },
    { key: 'linkBytesPerUnit', higherIsBetter: false, unit: 'B/call' },
  ],
  S2: [
    { key: 'timeToFirstResultMs', higherIsBetter: false, unit: 'ms' },
    { key: 'inProcessMs', higherIsBetter: false, unit: 'ms' },
  ],
  S3: [
    { key: 'seconds', higherIsBetter: false, unit: 's' },
    { key: 'mbPerSec', higherIsBetter: true, unit: 'MB/s' },
    { key: 'linkBytesPerUnit', higherIsBetter: false, unit: 'link B per array B' },
  ],
  S4: [
    { key: 'seconds', higherIsBetter: false, unit: 's' },
    { key: 'linkBytesPerUnit', higherIsBetter: false, unit: 'link B per array B' },
  ],
  S5: [
    { key: 'bP50Ms', higherIsBetter: false, unit: 'ms' },
    { key: 'bP99Ms', higherIsBetter: false, unit: 'ms' },
    { key: 'aSeconds', higherIsBetter: false, unit: 's' },
  ],
  S6: [
    { key: 'activeCallsPerSec', higherIsBetter: true, unit: 'calls/s' },
    { key: 'activeP50Ms', higherIsBetter: false, unit: 'ms' },
    { key: 'activeP99Ms', higherIsBetter: false, unit: 'ms' },
    { key: 'rssPerSessionKiB', higherIsBetter: false, unit: 'KiB/session' },
    { key: 'cpuUsPerMessage', higherIsBetter: false, unit: 'µs/message' },
    { key: 'messagesPerCoreSec', higherIsBetter: true, unit: 'messages/s per proxy core' },
  ],
  S7: [
    { key: 'callsLost', higherIsBetter: false, unit: 'calls' },
    { key: 'reconnects', higherIsBetter: false, unit: 'reconnects' },
    { key: 'servicesReRegistered', higherIsBetter: true, unit: 'fraction of services callable after' },
    { key: 'recoverySeconds', higherIsBetter: false, unit: 's after the outage ends' },
  ],
  S8: [
    { key: 'seconds', higherIsBetter: false, unit: 's' },
    { key: 'mbPerSec', higherIsBetter: true, unit: 'MB/s' },
  ],
};
