// Runs one step on a set of rigs, one rig per arm, interleaved: every arm runs the step once before any
// arm runs it again, with the starting arm rotated per repetition so no arm always runs first after a
// pause. Failures are recorded per measurement (never hidden) and progress is printed as it goes.

import type { ProfileName, QueueDiscipline } from '../emulator/profiles.js';
import { repsFor, type RunPlan, type ScenarioId } from './plan.js';
import type { ProfileResult, RunContext } from './results.js';
import { ARMS, SELECTABLE_ARMS, TLS_ARMS, startRig, type Arm, type Rig, type RigOptions, type Topology } from './rig.js';
import { armsFromEnv } from './tracing-arms.js';
import type { ScenarioOutput } from './scenarios.js';

export interface RigSet {
  rigs: Map<Arm, Rig>;
  failed: Map<Arm, string>;
  /** The arms in the order they were asked for (interleaving rotates over this list). */
  arms: readonly Arm[];
}

export interface RigSetOptions {
  profile: ProfileName;
  topology: Topology;
  discipline: QueueDiscipline;
  callerCount: number;
  arms?: readonly Arm[];
  /** Scenario-specific rig settings, e.g. S6's idle clients. */
  extra?: Partial<RigOptions>;
}

function describe(figures: Record<string, number>): string {
  return Object.entries(figures)
    .filter(([key]) => key !== 'linkBytes')
    .map(([key, value]) => `${key}=${value >= 100 ? value.toFixed(0) : value.toFixed(2)}`)
    .join(' ');
}

/** The arms of a rig set that names none: HYPHA_ACCEL_BENCH_ARMS when set (e.g. the tracing arms), else ARMS (+ TLS_ARMS). */
function defaultArms(ctx: RunContext): readonly Arm[] {
  return armsFromEnv(SELECTABLE_ARMS) ?? (ctx.linkTls ? [...ARMS, ...TLS_ARMS] : ARMS);
}

export async function startRigs(ctx: RunContext, options: RigSetOptions): Promise<RigSet> {
  const arms = options.arms ?? defaultArms(ctx);
  const rigs = new Map<Arm, Rig>();
  const failed = new Map<Arm, string>();
  for (const arm of arms) {
    const label = `${options.profile}/${options.topology}/${arm}/${options.discipline}`;
    try {
      rigs.set(
        arm,
        await startRig({
          arm,
          topology: options.topology,
          profile: options.profile,
          discipline: options.discipline,
          hyphaUrl: ctx.hyphaUrl,
          secretFile: ctx.secretFile,
          callerCount: options.callerCount,
          label,
          codeRoot: ctx.codeRoot,
          ...(ctx.hyphaPid ? { hyphaPid: ctx.hyphaPid } : {}),
          ...(ctx.cpuProfDir ? { cpuProfDir: ctx.cpuProfDir } : {}),
          ...(ctx.proxyWorkers ? { proxyWorkers: ctx.proxyWorkers } : {}),
          ...(ctx.linkTls ? { linkTls: ctx.linkTls } : {}),
          ...options.extra,
        }),
      );
      ctx.progress(`  rig up: ${label}`);
    } catch (err) {
      failed.set(arm, `rig did not start: ${(err as Error).message.slice(0, 300)}`);
      ctx.progress(`  rig FAILED: ${label}: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  return { rigs, failed, arms };
}

/** Records each rig's deflate negotiation and whole-life proxy cost, then closes the rigs. */
export async function closeRigs(result: ProfileResult, set: RigSet, keyPrefix: string): Promise<void> {
  for (const [arm, rig] of set.rigs) {
    const snap = await rig.snapshot();
    const proxies: Record<string, { cpuSeconds: number; peakRssBytes: number }> = {};
    for (const [role, sample] of Object.entries(snap.proxies)) {
      if (sample) proxies[role] = { cpuSeconds: sample.cpuSeconds, peakRssBytes: sample.peakRssBytes };
    }
    result.armFacts[`${keyPrefix}${arm}`] = { deflateNegotiated: snap.link.upgradesNegotiatingDeflate, upgradesAccepted: snap.link.upgradesAccepted, proxies };
  }
  await Promise.all([...set.rigs.values()].map((rig) => rig.close()));
}

/** Starts a rig set, runs `body` on it, and always records and closes it. */
export async function withRigs(ctx: RunContext, result: ProfileResult, options: RigSetOptions, factsKey: string, body: (set: RigSet) => Promise<void>): Promise<void> {
  ctx.progress(`${options.profile} ${options.topology} ${factsKey}: starting one rig per arm (${(options.arms ?? defaultArms(ctx)).join(', ')})`);
  const set = await startRigs(ctx, options);
  try {
    await body(set);
  } finally {
    await closeRigs(result, set, `${options.topology}/${factsKey ? `${factsKey}/` : ''}`);
  }
}

export async function interleave(
  plan: RunPlan,
  ctx: RunContext,
  result: ProfileResult,
  where: { profile: ProfileName; topology: Topology; scenario: ScenarioId; tag: string },
  set: RigSet,
  step: (rig: Rig) => Promise<ScenarioOutput[]>,
): Promise<void> {
  const arms = set.arms;
  const reps = repsFor(plan, where.scenario);
  for (let rep = 1; rep <= reps; rep += 1) {
    const order = arms.map((_, i) => arms[(i + rep - 1) % arms.length]!);
    for (const arm of order) {
      const base = { profile: where.profile, topology: where.topology, scenario: where.scenario, arm, rep };
      const rig = set.rigs.get(arm);
      if (!rig) {
        result.measurements.push({ ...base, variant: where.tag, error: set.failed.get(arm) ?? 'no rig' });
        continue;
      }
      const head = `[${where.profile} ${where.topology} ${where.scenario} ${where.tag} rep ${rep}/${reps}] ${arm}`;
      try {
        const outputs = await step(rig);
        for (const output of outputs) {
          result.measurements.push({ ...base, variant: output.variant, figures: output.figures, proxyCost: output.proxyCost, roleCpu: output.roleCpu });
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
