// The tracing arms: each pair gets exactly the OTEL_* settings of its arm whatever the runner's own
// environment holds, and the table compares each arm with tracing off of the same repetition.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { armsFromEnv, tracingArmEnv } from '../../bench/runner/tracing-arms.js';
import { tracingArmsTable } from '../../bench/runner/tracing-report.js';
import { SELECTABLE_ARMS } from '../../bench/runner/rig.js';
import type { Measurement, ProfileResult } from '../../bench/runner/results.js';

const runner = { HYPHA_ACCEL_BENCH_OTLP_ENDPOINT: 'http://127.0.0.1:4319', OTEL_TRACES_SAMPLER: 'always_off', OTEL_SDK_DISABLED: 'true' };

test('each tracing arm overrides the runner environment: off disables the SDK, default and always on export', () => {
  assert.equal(tracingArmEnv('accel-trace-off', runner).OTEL_SDK_DISABLED, 'true');
  assert.equal(tracingArmEnv('accel-trace-off-aa', runner).OTEL_SDK_DISABLED, 'true');
  const def = tracingArmEnv('accel-trace-default', runner);
  assert.equal(def.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://127.0.0.1:4319');
  assert.ok('OTEL_SDK_DISABLED' in def && def.OTEL_SDK_DISABLED === undefined, 'the runner disabling the SDK must not reach the traced arm');
  assert.ok('OTEL_TRACES_SAMPLER' in def && def.OTEL_TRACES_SAMPLER === undefined, 'the default arm uses the default sampler');
  assert.equal(tracingArmEnv('accel-trace-always', runner).OTEL_TRACES_SAMPLER, 'parentbased_always_on');
  assert.throws(() => tracingArmEnv('accel-trace-default', {}), /HYPHA_ACCEL_BENCH_OTLP_ENDPOINT/);
});

test('HYPHA_ACCEL_BENCH_ARMS selects known arms and refuses unknown ones', () => {
  assert.equal(armsFromEnv(SELECTABLE_ARMS, {}), undefined);
  assert.deepEqual(armsFromEnv(SELECTABLE_ARMS, { HYPHA_ACCEL_BENCH_ARMS: 'accel-trace-off, accel-trace-default' }), ['accel-trace-off', 'accel-trace-default']);
  assert.throws(() => armsFromEnv(SELECTABLE_ARMS, { HYPHA_ACCEL_BENCH_ARMS: 'accel,accel-trace-sometimes' }), /accel-trace-sometimes/);
});

test('the table gives each arm per repetition against tracing off of the same repetition', () => {
  const m = (arm: Measurement['arm'], rep: number, callsPerSec: number, cpuSeconds: number): Measurement => ({
    profile: 'lan', topology: 'T2', scenario: 'S1', variant: 'c64', arm, rep,
    // 100 calls (linkBytes / linkBytesPerUnit), 4 messages each in T2: 400 messages
    figures: { callsPerSec, linkBytes: 100_000, linkBytesPerUnit: 1000 },
    roleCpu: { edge: cpuSeconds / 2, gateway: cpuSeconds / 2 },
  });
  const result: ProfileResult = {
    profile: 'lan', notRun: [], armFacts: {},
    measurements: [m('accel-trace-off', 1, 1000, 0.04), m('accel-trace-default', 1, 900, 0.044), m('accel-trace-off', 2, 1000, 0.04), m('accel-trace-default', 2, 1000, 0.05)],
  };
  const rows = tracingArmsTable(result)!.split('\n');
  const off = rows.find((r) => r.includes('| accel-trace-off |'))!;
  assert.match(off, /\| 2 \| 1000 \[1000–1000\] \| 100 \[100–100\] \| – \| – \|/); // 0.04 s over 400 messages: 100 µs
  const def = rows.find((r) => r.includes('| accel-trace-default |'))!;
  // calls/s ratios 0.9 and 1.0; CPU ratios 1.1 and 1.25 (geometric mean 1.17)
  assert.match(def, /\| 0\.95 \[0\.90–1\.00\] \(0\/2 above\) \| 1\.17 \[1\.10–1\.25\] \(2\/2 above\) \|$/);
  // pooled over the scenario's steps: the same two ratios, with the interval of their geometric mean
  assert.ok(rows.some((r) => /^\| S1 \| accel-trace-default \| 0\.95 \(.*\), n=2 \| 1\.17 \((1\.0\d)–(1\.[23]\d)\), n=2 \|$/.test(r)), rows.join('\n'));
  assert.equal(tracingArmsTable({ ...result, measurements: [] }), undefined);
});
