// Runs a plan on one profile: for each topology, one rig per arm kept alive while S1-S4 run interleaved;
// S5 gets its own rigs per queue discipline; S6, S7 and S8 have their own drivers and rigs.

import type { ProfileName, QueueDiscipline } from '../emulator/profiles.js';
import { interleave, withRigs } from './arms.js';
import { NOT_YET_RUNNABLE, type RunPlan, type ScenarioId } from './plan.js';
import type { ProfileResult, RunContext } from './results.js';
import type { Rig } from './rig.js';
import { runS1, runS2, runS3, runS3Cold, runS4, runS5, type ScenarioOutput } from './scenarios.js';
import { runS6 } from './s6-fan-in.js';
import { runS7 } from './s7-blip.js';
import { runS8 } from './s8-colocated.js';

export async function runProfile(plan: RunPlan, ctx: RunContext, profile: ProfileName): Promise<ProfileResult> {
  const result: ProfileResult = { profile, measurements: [], notRun: [], armFacts: {} };
  const wants = (s: ScenarioId) => plan.scenarios.includes(s);
  for (const scenario of plan.scenarios) {
    const reason = NOT_YET_RUNNABLE[scenario];
    if (reason) result.notRun.push({ scenario, reason });
  }
  for (const topology of plan.topologies) {
    if (['S1', 'S2', 'S3', 'S4'].some((s) => wants(s as ScenarioId))) {
      await withRigs(ctx, result, { profile, topology, discipline: 'fifo', callerCount: 1 }, '', async (set) => {
        const run = (scenario: ScenarioId, tag: string, step: (rig: Rig) => Promise<ScenarioOutput[]>) =>
          interleave(plan, ctx, result, { profile, topology, scenario, tag }, set, step);
        if (wants('S1')) await run('S1', 'calls', (rig) => runS1(rig, plan.sizes));
        if (wants('S2')) await run('S2', 'bootstrap', (rig) => runS2(rig));
        if (wants('S3')) {
          await run('S3', 'cold', (rig) => runS3Cold(rig, plan.sizes));
          for (const kind of plan.sizes.s3Kinds) await run('S3', kind, (rig) => runS3(rig, plan.sizes, kind));
        }
        if (wants('S4')) await run('S4', 'repeat', (rig) => runS4(rig, plan.sizes));
      });
    }
    if (wants('S5')) {
      if (profile === 'lan') {
        result.notRun.push({ scenario: 'S5', topology, reason: 'lan has no bottleneck, so there is no queue to share' });
      } else {
        for (const discipline of ['fifo', 'fq'] as QueueDiscipline[]) {
          await withRigs(ctx, result, { profile, topology, discipline, callerCount: 2 }, `S5-${discipline}`, (set) =>
            interleave(plan, ctx, result, { profile, topology, scenario: 'S5', tag: discipline }, set, (rig) => runS5(rig, plan.sizes)),
          );
        }
      }
    }
    if (wants('S6')) await runS6(plan, ctx, result, topology);
    if (wants('S7')) await runS7(plan, ctx, result, topology);
    if (wants('S8')) await runS8(plan, ctx, result, topology);
  }
  return result;
}
