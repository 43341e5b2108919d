// S8 (S3 with edge and gateway on one host): driver not built yet; the scenario is reported as not run.

import type { RunPlan } from './plan.js';
import type { ProfileResult, RunContext } from './results.js';
import type { Topology } from './rig.js';

export async function runS8(_plan: RunPlan, _ctx: RunContext, result: ProfileResult, topology: Topology): Promise<void> {
  result.notRun.push({ scenario: 'S8', topology, reason: 'driver not built yet' });
}
