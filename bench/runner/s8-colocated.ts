// S8 colocated: S3 (bulk arrays) and S4 (repeats) with edge and gateway on one host, where blobs can cross through
// shared memory, or the link can take the gateway's Unix socket. The figures are the pair with shm and
// the pair over the Unix socket against the same pair over loopback TCP; the direct arms show what a
// client has without the pair (direct without deflate is also what "no link at all" would give: one
// relay process, the emulator, between client and hypha). Unshaped loopback is the colocated link, so S8 runs
// with the lan profile only.

import { interleave, withRigs } from './arms.js';
import type { RunPlan } from './plan.js';
import type { ProfileResult, RunContext } from './results.js';
import type { Arm, Topology } from './rig.js';
import { runS3, runS3Cold, runS4 } from './scenarios.js';

/**
 * null-relay: two plain TCP pipes where edge and gateway stand, the bound a relay pair sets here.
 * gateway-only: "no link at all": the clients connect to the gateway itself (its plain passthrough).
 */
export const S8_ARMS: readonly Arm[] = ['direct-deflate', 'direct-plain', 'null-relay', 'accel', 'accel-shm', 'accel-unix', 'gateway-only', 'gateway-only-ws'];

/** HYPHA_ACCEL_BENCH_S8_ARMS=a,b,...: a subset of S8_ARMS (a shorter run when some arms were measured already). */
function s8Arms(): readonly Arm[] {
  const wanted = process.env.HYPHA_ACCEL_BENCH_S8_ARMS?.split(',').filter(Boolean);
  if (!wanted) return S8_ARMS;
  const unknown = wanted.filter((arm) => !S8_ARMS.includes(arm as Arm));
  if (unknown.length > 0) throw new Error(`HYPHA_ACCEL_BENCH_S8_ARMS: not S8 arms: ${unknown.join(', ')}`);
  return S8_ARMS.filter((arm) => wanted.includes(arm));
}

export async function runS8(plan: RunPlan, ctx: RunContext, result: ProfileResult, topology: Topology): Promise<void> {
  if (result.profile !== 'lan') {
    result.notRun.push({ scenario: 'S8', topology, reason: 'colocated means an unshaped loopback between edge and gateway: S8 runs with the lan profile' });
    return;
  }
  await withRigs(ctx, result, { profile: result.profile, topology, discipline: 'fifo', callerCount: 1, arms: s8Arms() }, 'S8', async (set) => {
    await interleave(plan, ctx, result, { profile: result.profile, topology, scenario: 'S8', tag: 'cold' }, set, (rig) => runS3Cold(rig, plan.sizes));
    for (const kind of plan.sizes.s3Kinds) {
      await interleave(plan, ctx, result, { profile: result.profile, topology, scenario: 'S8', tag: kind }, set, (rig) => runS3(rig, plan.sizes, kind));
    }
    // S4's repeats too: where the plane's dedupe (which shm brings in) could pay on a fast local link.
    await interleave(plan, ctx, result, { profile: result.profile, topology, scenario: 'S8', tag: 'repeat' }, set, (rig) => runS4(rig, plan.sizes));
  });
}
