// The sampler the OpenTelemetry specification derives from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (the 3.x trace SDK no longer reads them itself). Unset, every call is traced (the specification's
// parentbased_always_on): the product promises a span for every RPC of the unmodified application.
// Hypha clients send no trace context, so the root decision is the one that counts.
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace';
import type { Logger } from '../log.js';

/** The sampler when OTEL_TRACES_SAMPLER is unset (the specification's default). */
export const DEFAULT_SAMPLER = 'parentbased_always_on';

export function describeSampler(env: NodeJS.ProcessEnv): string {
  const name = (env.OTEL_TRACES_SAMPLER ?? DEFAULT_SAMPLER).trim().toLowerCase();
  return name.includes('traceidratio') ? `${name} ${samplerRatio(env)}` : name;
}

function samplerRatio(env: NodeJS.ProcessEnv): number {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  return env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG.trim() !== '' && Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
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
      log.warn({ sampler: name }, `unknown OTEL_TRACES_SAMPLER; using ${DEFAULT_SAMPLER}`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
