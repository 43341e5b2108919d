// Tracing arms (issue 14's "tracing off, sampled and always on"): the accelerated pair three times in one
// run, each rig with its own proxy environment, interleaved with the other arms per repetition, so the
// cost of the default sampler is read against tracing off under the same load and the same hypha server.
// accel-trace-off-aa is a second tracing-off pair: the spread between two identical rigs, in the same run.
// Chosen with HYPHA_ACCEL_BENCH_ARMS (every scenario that uses the default arm set: S1-S7, not S8); the traced arms
// export to HYPHA_ACCEL_BENCH_OTLP_ENDPOINT (e.g. bench/otlp-sink.ts in its own process).
import { BenchError } from './bench-error.js';

export type TracingArm = 'accel-trace-off' | 'accel-trace-off-aa' | 'accel-trace-default' | 'accel-trace-always';
export const TRACING_ARMS: readonly TracingArm[] = ['accel-trace-off', 'accel-trace-off-aa', 'accel-trace-default', 'accel-trace-always'];

export function isTracingArm(arm: string): arm is TracingArm {
  return (TRACING_ARMS as readonly string[]).includes(arm);
}

/** OTEL_* of a tracing arm's proxies over the runner's environment (undefined: removed). */
export function tracingArmEnv(arm: TracingArm, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const cleared = { OTEL_SDK_DISABLED: undefined, OTEL_TRACES_SAMPLER: undefined, OTEL_TRACES_SAMPLER_ARG: undefined, OTEL_TRACES_EXPORTER: undefined, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined };
  if (arm === 'accel-trace-off' || arm === 'accel-trace-off-aa') return { ...cleared, OTEL_SDK_DISABLED: 'true' };
  const endpoint = env.HYPHA_ACCEL_BENCH_OTLP_ENDPOINT;
  if (!endpoint) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `arm ${arm} exports spans: set HYPHA_ACCEL_BENCH_OTLP_ENDPOINT (e.g. run bench/otlp-sink.ts)`);
  const traced = { ...cleared, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint };
  return arm === 'accel-trace-always' ? { ...traced, OTEL_TRACES_SAMPLER: 'parentbased_always_on' } : traced;
}

/** HYPHA_ACCEL_BENCH_ARMS=a,b,...: the arms of the default arm set instead of ARMS (undefined: unset). */
export function armsFromEnv<A extends string>(known: readonly A[], env: NodeJS.ProcessEnv = process.env): A[] | undefined {
  const wanted = env.HYPHA_ACCEL_BENCH_ARMS?.split(',').map((a) => a.trim()).filter(Boolean);
  if (!wanted || wanted.length === 0) return undefined;
  const unknown = wanted.filter((arm) => !known.includes(arm as A));
  if (unknown.length > 0) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `HYPHA_ACCEL_BENCH_ARMS: unknown arms ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return wanted as A[];
}
