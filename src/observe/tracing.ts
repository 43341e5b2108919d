// OpenTelemetry tracing of one role, configured by the standard OTEL_* variables (plus tracingSlowCallMs):
// one span per sampled RPC call (call-spans.ts), and per unsampled one that failed or was slow, named by the
// normalised method; the side that sees the call first sends its span's W3C context in the link frame
// header, so the other side's span is its child. Off (nothing subscribed, nothing on the hot path) unless an
// OTLP endpoint is set and OTEL_SDK_DISABLED is not true.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { channels, type LinkEvent, type RoleName } from '../events.js';
import type { Logger } from '../log.js';
import { callSampler, describeSampler, type KeepingSampler } from './otel-sampler.js';
import { CallSpans } from './call-spans.js';
import { CallTraceIdGenerator } from './call-trace-ids.js';
import { DeferredSpanProcessor } from './deferred-span-processor.js';
import { withOtelEnvironment } from './otel-env.js';
import type { RpcCallTracker } from './rpc-calls.js';

export interface Tracing {
  /** Exports what is buffered (graceful stop) and stops. */
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

/** Whether the environment asks for traces: an OTLP endpoint set, the SDK not disabled, the exporter not `none`. */
export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((s) => s.trim()).includes('none')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

export interface TracingOptions {
  role: RoleName;
  version: string;
  rpc: RpcCallTracker;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** > 0: unsampled calls at least this long are traced too (tracingSlowCallMs); rejected and unanswered ones always are. */
  slowCallMs?: number;
}

export function startTracing(options: TracingOptions): Tracing | undefined {
  const env = options.env ?? process.env;
  if (!tracingWanted(env)) return undefined;
  const { role, version, log } = options;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  if (protocol !== 'http/json' && protocol !== 'http/protobuf') log.warn({ protocol }, 'OTLP protocol not supported; using http/protobuf');
  // The exporter and the env detector read their OTEL_* settings themselves: built inside `env` (otel-env.ts).
  const url = tracesUrl(env);
  const { exporter, resource } = withOtelEnvironment(env, () => ({
    exporter: (protocol === 'http/json' ? new OtlpJsonExporter({ url }) : new OtlpProtoExporter({ url })) as SpanExporter,
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: `hypha-accel-${role}`, [ATTR_SERVICE_VERSION]: version, 'hypha_accel.role': role })
      .merge(detectResources({ detectors: [envDetector] })), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
  }));
  const sampler = callSampler(env, log);
  const ids = new CallTraceIdGenerator();
  const provider = new TracerProvider({ resource, sampler, idGenerator: ids, spanProcessors: [new DeferredSpanProcessor(new BatchSpanProcessor({ exporter, ...batchOptions(env) }))] });
  const tracer = provider.getTracer('hypha-accel', version);
  const slowCallMs = options.slowCallMs ?? 0;
  const calls = new CallSpans(tracer, sampler, ids, slowCallMs);
  const stopRpc = options.rpc.addListener(calls);
  channels.tracedFrame.subscribe(calls.onFrame);
  const onLink = (m: unknown) => recordLinkEvent(tracer, sampler, role, m as LinkEvent);
  channels.link.subscribe(onLink);
  log.info({ protocol, sampler: describeSampler(env), keep: slowCallMs > 0 ? `reject, unanswered, slower than ${slowCallMs} ms` : 'reject, unanswered' }, 'tracing on');
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      stopRpc();
      channels.tracedFrame.unsubscribe(calls.onFrame);
      channels.link.unsubscribe(onLink);
      await provider.forceFlush().catch((error: Error) => log.warn({ err: error.message }, 'trace flush failed'));
      await provider.shutdown().catch(() => {});
    },
  };
}

/**
 * Link lifecycle (up, down, refused, drain, a session resumed) as short spans of their own, recorded whatever
 * the sampler says (rare, and what an operator looks for; left to a 1% ratio, 99 in 100 would be dropped);
 * RTT samples and drain closes stay in the metrics.
 */
function recordLinkEvent(tracer: Tracer, sampler: KeepingSampler, role: RoleName, event: LinkEvent): void {
  if (event.role !== role || event.event === 'rtt' || event.event === 'drain-close') return;
  sampler.keepNext();
  const span = tracer.startSpan(`link ${event.event}`, {
    kind: SpanKind.INTERNAL,
    attributes: { 'hypha_accel.role': role, 'hypha_accel.link.id': event.linkId, 'hypha_accel.error.code': event.errorCode ?? '' },
  }, ROOT_CONTEXT);
  if (event.event === 'drain') span.setAttribute('hypha_accel.link.streams', event.streams ?? 0);
  else if (event.event !== 'up' && (event.event !== 'resume' || event.errorCode)) span.setStatus({ code: event.errorCode === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? SpanStatusCode.UNSET : SpanStatusCode.ERROR });
  span.end();
}

/** The traces URL by the specification: the signal's own endpoint as given, else the base endpoint + `v1/traces`. */
export function tracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return specific;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return base.endsWith('/') ? `${base}v1/traces` : `${base}/v1/traces`;
}

/** OTEL_BSP_* (the batch span processor's standard variables). */
function batchOptions(env: NodeJS.ProcessEnv): { scheduledDelayMillis?: number; exportTimeoutMillis?: number; maxQueueSize?: number; maxExportBatchSize?: number } {
  const read = (name: string) => {
    const value = Number(env[name]);
    return env[name] !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
  };
  const options = {
    scheduledDelayMillis: read('OTEL_BSP_SCHEDULE_DELAY'),
    exportTimeoutMillis: read('OTEL_BSP_EXPORT_TIMEOUT'),
    maxQueueSize: read('OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
  };
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
