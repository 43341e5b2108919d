// The sampler the OpenTelemetry specification derives from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (the 3.x trace SDK no longer reads them itself). Unset, a proxy samples 10% of calls by trace id
// (parentbased_traceidratio 0.1, as mesh proxies sample by default): hypha clients send no trace context,
// so the root decision is the one that counts.
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace';
import type { Logger } from '../log.js';

/** The sampler when OTEL_TRACES_SAMPLER is unset; OTEL_TRACES_SAMPLER_ARG alone sets its ratio. */
export const DEFAULT_SAMPLER = 'parentbased_traceidratio';
export const DEFAULT_SAMPLER_RATIO = 0.1;

export function describeSampler(env: NodeJS.ProcessEnv): string {
  const name = (env.OTEL_TRACES_SAMPLER ?? DEFAULT_SAMPLER).trim().toLowerCase();
  return name.includes('traceidratio') ? `${name} ${samplerRatio(env)}` : name;
}

function samplerRatio(env: NodeJS.ProcessEnv): number {
  const fallback = env.OTEL_TRACES_SAMPLER === undefined ? DEFAULT_SAMPLER_RATIO : 1;
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? fallback);
  return env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG.trim() !== '' && Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : fallback;
}

export function buildSampler(env: NodeJS.ProcessEnv, log: Logger): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? DEFAULT_SAMPLER).trim().toLowerCase();
  const ratio = samplerRatio(env);
  switch (name) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      log.warn({ sampler: name }, `unknown OTEL_TRACES_SAMPLER; using ${DEFAULT_SAMPLER} ${DEFAULT_SAMPLER_RATIO}`);
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(DEFAULT_SAMPLER_RATIO) });
  }
}
