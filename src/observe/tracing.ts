// OpenTelemetry tracing of one role, configured only by the standard OTEL_* variables: one span per RPC call
// (from the call tracker), named by the normalised method; the side that sees the call first sends its
// span's W3C context in the link frame header, so the other side's span is its child. Off (nothing
// subscribed, nothing on the hot path) unless an OTLP endpoint is set and OTEL_SDK_DISABLED is not true.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { channels, type LinkEvent, type MessageEvent, type RoleName, type TraceParent } from '../events.js';
import type { Logger } from '../log.js';
import { buildSampler } from './otel-sampler.js';
import type { RpcCall, RpcCallEnd, RpcCallTracker } from './rpc-calls.js';

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

export function startTracing(options: { role: RoleName; version: string; rpc: RpcCallTracker; log: Logger; env?: NodeJS.ProcessEnv }): Tracing | undefined {
  const env = options.env ?? process.env;
  if (!tracingWanted(env)) return undefined;
  const { role, version, log } = options;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  if (protocol !== 'http/json' && protocol !== 'http/protobuf') log.warn({ protocol }, 'OTLP protocol not supported; using http/protobuf');
  // The exporters read the endpoint, headers, timeout and compression from OTEL_EXPORTER_OTLP_* themselves.
  const exporter: SpanExporter = protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtoExporter();
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: `hypha-accel-${role}`, [ATTR_SERVICE_VERSION]: version, 'hypha_accel.role': role })
    .merge(detectResources({ detectors: [envDetector] })); // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
  const provider = new TracerProvider({ resource, sampler: buildSampler(env, log), spanProcessors: [new BatchSpanProcessor({ exporter, ...batchOptions(env) })] });
  const tracer = provider.getTracer('hypha-accel', version);
  const stopRpc = options.rpc.addListener({
    onCallStart: (call, event) => startCallSpan(tracer, call, event),
    onCallEnd: endCallSpan,
  });
  const onLink = (m: unknown) => recordLinkEvent(tracer, role, m as LinkEvent);
  channels.link.subscribe(onLink);
  log.info({ protocol, sampler: env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on' }, 'tracing on');
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      stopRpc();
      channels.link.unsubscribe(onLink);
      await provider.forceFlush().catch((error: Error) => log.warn({ err: error.message }, 'trace flush failed'));
      await provider.shutdown().catch(() => {});
    },
  };
}

function startCallSpan(tracer: Tracer, call: RpcCall, event: MessageEvent): void {
  // hop out: the call came off the link; its frame carried the other proxy's span context (our parent).
  const parent = event.hop === 'out' && event.trace ? remoteContext(event.trace) : ROOT_CONTEXT;
  const dot = call.method.indexOf('.');
  const span = tracer.startSpan(call.method, {
    kind: event.hop === 'in' ? SpanKind.CLIENT : SpanKind.SERVER,
    attributes: {
      'rpc.system': 'hypha',
      'rpc.service': dot < 0 ? call.method : call.method.slice(0, dot),
      'rpc.method': dot < 0 ? call.method : call.method.slice(dot + 1),
      'hypha.target': call.target ?? '',
      'hypha.workspace': call.target?.includes('/') ? call.target.slice(0, call.target.indexOf('/')) : '',
      'hypha_accel.role': call.role,
      'hypha_accel.direction': call.direction,
      'hypha_accel.request.bytes': call.requestBytes,
    },
  }, parent);
  call.span = span;
  // hop in: this side sees the call first; the link carries the span's context to the other proxy.
  const context = span.spanContext();
  if (event.hop === 'in' && trace.isSpanContextValid(context)) {
    event.trace = { traceId: Buffer.from(context.traceId, 'hex'), spanId: Buffer.from(context.spanId, 'hex'), traceFlags: context.traceFlags };
  }
}

function endCallSpan(call: RpcCall, end: RpcCallEnd): void {
  const span = call.span as Span | undefined;
  if (!span) return;
  span.setAttribute('hypha.outcome', end.outcome);
  span.setAttribute('hypha_accel.response.bytes', end.responseBytes);
  if (end.outcome !== 'resolve') span.setStatus({ code: SpanStatusCode.ERROR, message: end.outcome === 'reject' ? 'the call was rejected' : 'no reply before the session closed' });
  span.end();
}

function remoteContext(parent: TraceParent): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: Buffer.from(parent.traceId).toString('hex'),
    spanId: Buffer.from(parent.spanId).toString('hex'),
    traceFlags: parent.traceFlags,
    isRemote: true,
  });
}

/** Link lifecycle (up, down, refused, drain) as short spans of their own; RTT samples and drain closes stay in the metrics. */
function recordLinkEvent(tracer: Tracer, role: RoleName, event: LinkEvent): void {
  if (event.role !== role || event.event === 'rtt' || event.event === 'drain-close') return;
  const span = tracer.startSpan(`link ${event.event}`, {
    kind: SpanKind.INTERNAL,
    attributes: { 'hypha_accel.role': role, 'hypha_accel.link.id': event.linkId, 'hypha_accel.error.code': event.errorCode ?? '' },
  }, ROOT_CONTEXT);
  if (event.event === 'drain') span.setAttribute('hypha_accel.link.streams', event.streams ?? 0);
  else if (event.event !== 'up') span.setStatus({ code: event.errorCode === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? SpanStatusCode.UNSET : SpanStatusCode.ERROR });
  span.end();
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
