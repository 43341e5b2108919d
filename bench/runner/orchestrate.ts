// Runs a plan on one profile: for each topology, one rig per arm kept alive while the scenarios run
// interleaved (A B C, A B C, ...) to cancel drift; S5 gets its own rigs per queue discipline. Failures
// are recorded per measurement (never hidden), and progress is printed as it goes.

import type { ProfileName, QueueDiscipline } from '../emulator/profiles.js';
import { NOT_YET_RUNNABLE, type RunPlan, type ScenarioId } from './plan.js';
import { ARMS, startRig, type Arm, type Rig, type Topology } from './rig.js';
import { runS1, runS2, runS3, runS4, runS5, type ScenarioOutput } from './scenarios.js';

export interface Measurement {
  profile: ProfileName;
  topology: Topology;
  scenario: ScenarioId;
  variant: string;
  arm: Arm;
  rep: number;
  figures?: Record<string, number>;
  proxyCost?: ScenarioOutput['proxyCost'];
  error?: string;
}

export interface ArmFacts {
  /** Client upgrades through the link that negotiated permessage-deflate / all accepted upgrades. */
  deflateNegotiated: number;
  upgradesAccepted: number;
  /** Whole-rig proxy totals (accelerated arm only). */
  proxies: Record<string, { cpuSeconds: number; peakRssBytes: number }>;
}

export interface ProfileResult {
  profile: ProfileName;
  measurements: Measurement[];
  notRun: { scenario: ScenarioId; topology?: Topology; reason: string }[];
  armFacts: Record<string, ArmFacts>;
}

export interface RunContext {
  hyphaUrl: string;
  codeRoot: string;
  secretFile: string;
  progress: (line: string) => void;
}

function describe(figures: Record<string, number>): string {
  return Object.entries(figures)
    .filter(([key]) => key !== 'linkBytes')
    .map(([key, value]) => `${key}=${value >= 100 ? value.toFixed(0) : value.toFixed(2)}`)
    .join(' ');
}

async function startRigs(ctx: RunContext, profile: ProfileName, topology: Topology, discipline: QueueDiscipline, callerCount: number) {
  const rigs = new Map<Arm, Rig>();
  const failed = new Map<Arm, string>();
  for (const arm of ARMS) {
    const label = `${profile}/${topology}/${arm}/${discipline}`;
    try {
      rigs.set(arm, await startRig({ arm, topology, profile, discipline, hyphaUrl: ctx.hyphaUrl, secretFile: ctx.secretFile, callerCount, label, codeRoot: ctx.codeRoot }));
      ctx.progress(`  rig up: ${label}`);
    } catch (err) {
      failed.set(arm, `rig did not start: ${(err as Error).message.slice(0, 300)}`);
      ctx.progress(`  rig FAILED: ${label}: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  return { rigs, failed };
}

function recordFacts(result: ProfileResult, key: string, rig: Rig): void {
  const snap = rig.snapshot();
  const proxies: ArmFacts['proxies'] = {};
  for (const [role, sample] of Object.entries(snap.proxies)) {
    if (sample) proxies[role] = { cpuSeconds: sample.cpuSeconds, peakRssBytes: sample.peakRssBytes };
  }
  result.armFacts[key] = { deflateNegotiated: snap.link.upgradesNegotiatingDeflate, upgradesAccepted: snap.link.upgradesAccepted, proxies };
}

/** One interleaved round per rep: every arm runs the step once before any arm runs it again. */
async function interleave(
  plan: RunPlan,
  ctx: RunContext,
  result: ProfileResult,
  where: { profile: ProfileName; topology: Topology; scenario: ScenarioId; tag: string },
  rigs: Map<Arm, Rig>,
  failed: Map<Arm, string>,
  step: (rig: Rig) => Promise<ScenarioOutput[]>,
): Promise<void> {
  for (let rep = 1; rep <= plan.reps; rep += 1) {
    // Rotate the starting arm so no arm always runs first after a pause.
    const order = ARMS.map((_, i) => ARMS[(i + rep - 1) % ARMS.length]!);
    for (const arm of order) {
      const base = { profile: where.profile, topology: where.topology, scenario: where.scenario, arm, rep };
      const rig = rigs.get(arm);
      if (!rig) {
        result.measurements.push({ ...base, variant: where.tag, error: failed.get(arm) ?? 'no rig' });
        continue;
      }
      const head = `[${where.profile} ${where.topology} ${where.scenario} ${where.tag} rep ${rep}/${plan.reps}] ${arm}`;
      try {
        const outputs = await step(rig);
        for (const output of outputs) {
          result.measurements.push({ ...base, variant: output.variant, figures: output.figures, proxyCost: output.proxyCost });
          ctx.progress(`${head} ${output.variant}: ${describe(output.figures)} (checked)`);
        }
      } catch (err) {
        const message = (err as Error).message.slice(0, 500);
        result.measurements.push({ ...base, variant: where.tag, error: message });
        ctx.progress(`${head}: ERROR ${message}`);
      }
    }
  }
}

export async function runProfile(plan: RunPlan, ctx: RunContext, profile: ProfileName): Promise<ProfileResult> {
  const result: ProfileResult = { profile, measurements: [], notRun: [], armFacts: {} };
  const wants = (s: ScenarioId) => plan.scenarios.includes(s);
  for (const scenario of plan.scenarios) {
    const reason = NOT_YET_RUNNABLE[scenario];
    if (reason) result.notRun.push({ scenario, reason });
  }
  for (const topology of plan.topologies) {
    if (['S1', 'S2', 'S3', 'S4'].some((s) => wants(s as ScenarioId))) {
      ctx.progress(`${profile} ${topology}: starting one rig per arm`);
      const { rigs, failed } = await startRigs(ctx, profile, topology, 'fifo', 1);
      try {
        const run = (scenario: ScenarioId, tag: string, step: (rig: Rig) => Promise<ScenarioOutput[]>) =>
          interleave(plan, ctx, result, { profile, topology, scenario, tag }, rigs, failed, step);
        if (wants('S1')) await run('S1', 'calls', (rig) => runS1(rig, plan.sizes));
        if (wants('S2')) await run('S2', 'bootstrap', (rig) => runS2(rig));
        if (wants('S3')) for (const kind of plan.sizes.s3Kinds) await run('S3', kind, (rig) => runS3(rig, plan.sizes, kind));
        if (wants('S4')) await run('S4', 'repeat', (rig) => runS4(rig, plan.sizes));
      } finally {
        for (const [arm, rig] of rigs) recordFacts(result, `${topology}/${arm}`, rig);
        await Promise.all([...rigs.values()].map((rig) => rig.close()));
      }
    }
    if (wants('S5')) {
      if (profile === 'lan') {
        result.notRun.push({ scenario: 'S5', topology, reason: 'lan has no bottleneck, so there is no queue to share' });
        continue;
      }
      for (const discipline of ['fifo', 'fq'] as QueueDiscipline[]) {
        ctx.progress(`${profile} ${topology} S5 ${discipline}: starting rigs with two callers`);
        const { rigs, failed } = await startRigs(ctx, profile, topology, discipline, 2);
        try {
          await interleave(plan, ctx, result, { profile, topology, scenario: 'S5', tag: discipline }, rigs, failed, (rig) => runS5(rig, plan.sizes));
        } finally {
          for (const [arm, rig] of rigs) recordFacts(result, `${topology}/${arm}/S5-${discipline}`, rig);
          await Promise.all([...rigs.values()].map((rig) => rig.close()));
        }
      }
    }
  }
  return result;
}
