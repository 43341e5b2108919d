// S7 (a 5 s link outage during S1 and S3): driver not built yet; the scenario is reported as not run.

import type { RunPlan } from './plan.js';
import type { ProfileResult, RunContext } from './results.js';
import type { Topology } from './rig.js';

export async function runS7(_plan: RunPlan, _ctx: RunContext, result: ProfileResult, topology: Topology): Promise<void> {
  result.notRun.push({ scenario: 'S7', topology, reason: 'driver not built yet' });
}
