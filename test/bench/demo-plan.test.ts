// The demo's side-by-side: its parts pair the overhead case with the cases the pair exists for, and
// the summary table labels every row with the case it shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_PARTS, defaultPlan } from '../../bench/runner/plan.js';
import { summaryTable } from '../../bench/runner/report.js';
import type { SummaryRow } from '../../bench/runner/summary.js';

test('the demo shows the overhead case next to where the pair helps (slow link, T2, repeated data)', () => {
  const overhead = DEMO_PARTS.filter((p) => p.label === 'overhead');
  const helps = DEMO_PARTS.filter((p) => p.label === 'where the pair helps');
  assert.deepEqual(overhead.map((p) => [p.profile, p.scenarios, p.topologies]), [['lan', ['S1'], ['T1']]]);
  assert.ok(helps.some((p) => p.profile === 'slow' && p.topologies.includes('T2') && p.scenarios.includes('S4')));
  const plan = defaultPlan('demo');
  assert.ok(plan.sizes.s4Passes >= 2, 'S4 needs later passes to show repeated data');
  for (const part of DEMO_PARTS) assert.ok(plan.profiles.includes(part.profile));
});

test('summaryTable labels every row when given a case label, and is unchanged without one', () => {
  const row: SummaryRow = {
    profile: 'slow', scenario: 'S4', topology: 'T2', variant: 'later', figure: 'seconds', unit: 's', higherIsBetter: false,
    arms: { accel: { median: 2, min: 2, max: 2, n: 1, errors: 0 }, 'direct-deflate': { median: 3.5, min: 3.5, max: 3.5, n: 1, errors: 0 } },
    accelFactorVsDeflate: 1.75,
  };
  const labelled = summaryTable([row], 'where the pair helps').split('\n');
  assert.match(labelled[0]!, /^\| case \| scenario \|/);
  assert.equal(labelled[1]!.split('|').length, labelled[0]!.split('|').length);
  assert.match(labelled[2]!, /^\| where the pair helps \| S4 \| T2 \| later \|.* 1\.75× \|/);
  const plain = summaryTable([row]).split('\n');
  assert.match(plain[0]!, /^\| scenario \|/);
  assert.match(plain[2]!, /^\| S4 \| T2 \| later \|/);
});
