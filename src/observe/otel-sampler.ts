// The sampler the OpenTelemetry specification derives from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (the 3.x trace SDK no longer reads them itself). Default: parentbased_always_on.
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace';
import type { Logger } from '../log.js';

export function buildSampler(env: NodeJS.ProcessEnv, log: Logger): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      log.warn({ sampler: name }, 'unknown OTEL_TRACES_SAMPLER; using parentbased_always_on');
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
