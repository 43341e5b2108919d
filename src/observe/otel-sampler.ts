// The sampler the OpenTelemetry specification derives from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (the 3.x trace SDK no longer reads them itself). Unset, hypha-accel samples a fixed share of calls
// (parentbased_traceidratio at DEFAULT_SAMPLER_RATIO): every call traced costs the proxies ~1.5x their CPU
// per message with the official SDK (S1), a 1% share far less (docs/metrics.md: ~2-6% by profiles and in
// process, within the benches' noise end to end); the calls an operator debugs (rejected, unanswered, slow)
// are kept whatever the ratio (call-spans.ts). Every sampler of the specification is still selectable. Hypha
// clients send no trace context, so the root decision counts.
import { SamplingDecision, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';
import type { Logger } from '../log.js';

/** The sampler when OTEL_TRACES_SAMPLER is unset (hypha-accel's default, not the specification's always_on). */
export const DEFAULT_SAMPLER = 'parentbased_traceidratio';
/** Share of root calls the default sampler traces (OTEL_TRACES_SAMPLER_ARG overrides it). */
export const DEFAULT_SAMPLER_RATIO = 0.01;

function samplerName(env: NodeJS.ProcessEnv): string {
  const name = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase();
  return name === '' ? DEFAULT_SAMPLER : name;
}

/** OTEL_TRACES_SAMPLER_ARG when it is a ratio in [0, 1]; else the specification's 1, or our default ratio when no sampler is named. */
function samplerRatio(env: NodeJS.ProcessEnv): number {
  const raw = env.OTEL_TRACES_SAMPLER_ARG;
  const arg = Number(raw);
  if (raw !== undefined && raw.trim() !== '' && Number.isFinite(arg) && arg >= 0 && arg <= 1) return arg;
  return (env.OTEL_TRACES_SAMPLER ?? '').trim() === '' ? DEFAULT_SAMPLER_RATIO : 1;
}

export function describeSampler(env: NodeJS.ProcessEnv): string {
  const name = samplerName(env);
  return name.includes('traceidratio') ? `${name} ${samplerRatio(env)}` : name;
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_off', 'parentbased_traceidratio', 'parentbased_always_on'];

export function buildSampler(env: NodeJS.ProcessEnv, log: Logger): Sampler {
  const name = samplerName(env);
  const ratio = samplerRatio(env);
  if (!SAMPLERS.includes(name)) log.warn({ sampler: name }, `unknown OTEL_TRACES_SAMPLER; using ${DEFAULT_SAMPLER} ${DEFAULT_SAMPLER_RATIO}`);
  switch (name) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default: return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(DEFAULT_SAMPLER_RATIO) });
  }
}

/**
 * The configured sampler's decision for a root span (no parent: every sampler of the specification then
 * decides by its root part), as a bound on the trace id's accumulation (call-trace-ids.ts): sampled when
 * below it. The same arithmetic as the SDK's TraceIdRatioBasedSampler (checked by a test against it), so a
 * call's root decision needs no hex id and no sampler call; always_on takes every id, always_off none.
 */
export function rootSampleBound(env: NodeJS.ProcessEnv): number {
  const name = samplerName(env);
  if (name === 'always_on' || name === 'parentbased_always_on') return ALL_IDS;
  if (name === 'always_off' || name === 'parentbased_always_off') return 0;
  const ratio = SAMPLERS.includes(name) ? samplerRatio(env) : DEFAULT_SAMPLER_RATIO;
  return ratio >= 1 ? ALL_IDS : ratio <= 0 ? 0 : Math.floor(ratio * 0xffffffff);
}

/** Above every accumulation (a 32-bit unsigned value). */
const ALL_IDS = 2 ** 32;

/** The provider's sampler for the OTEL_* variables: the configured one, with its root decision as a bound. */
export function callSampler(env: NodeJS.ProcessEnv, log: Logger): KeepingSampler {
  return new KeepingSampler(buildSampler(env, log), rootSampleBound(env));
}

/**
 * The provider's sampler: the configured one, except for the next root span after `keepNext()`, which is
 * recorded and sampled whatever it says (a call kept for its outcome or duration, call-spans.ts).
 * `rootBound`: the configured sampler's root decision (rootSampleBound), which call-spans.ts applies itself.
 */
export class KeepingSampler implements Sampler {
  private keep = false;

  constructor(readonly configured: Sampler, readonly rootBound: number) {}

  keepNext(): void {
    this.keep = true;
  }

  shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (this.keep) {
      this.keep = false;
      return KEEP;
    }
    return this.configured.shouldSample(context, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return this.configured.toString();
  }
}

const KEEP: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
