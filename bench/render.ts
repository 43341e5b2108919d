// Re-renders a results JSON (bench/results/<stamp>-<profile>.json) into its Markdown report and SVG
// charts, without running anything: `node --import tsx bench/render.ts bench/results/X.json`.

import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { ProfileResult } from './runner/results.js';
import type { RunPlan } from './runner/plan.js';
import { writeReport, type RunMeta } from './runner/report.js';

async function main(): Promise<void> {
  for (const file of process.argv.slice(2)) {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { meta: RunMeta; plan: RunPlan } & ProfileResult;
    const result: ProfileResult = { profile: data.profile, measurements: data.measurements, notRun: data.notRun, armFacts: data.armFacts };
    const stamp = basename(file, '.json').slice(0, -(data.profile.length + 1));
    const out = await writeReport(data.plan, data.meta, result, dirname(file), stamp);
    process.stdout.write(`${out.md}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`render: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
