// S6 (fan-in of 500 idle + 50 active clients): driver not built yet; the scenario is reported as not run.

import type { RunPlan } from './plan.js';
import type { ProfileResult, RunContext } from './results.js';
import type { Topology } from './rig.js';

export async function runS6(_plan: RunPlan, _ctx: RunContext, result: ProfileResult, topology: Topology): Promise<void> {
  result.notRun.push({ scenario: 'S6', topology, reason: 'driver not built yet' });
}
