// Spans of the RPC calls one proxy relays (a call tracker listener). Sampling is decided before anything is
// built, from the call's derived trace id or the link's sampled parent: an unsampled call costs one hash.
// A sampled call sends its context in the link frame header; frames carrying it add their link bytes.
import { ROOT_CONTEXT, SamplingDecision, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { MessageEvent, RoleName, TraceParent, TracedFrameEvent } from '../events.js';
import { callTraceId, type CallTraceIdGenerator } from './call-trace-ids.js';
import type { RpcCall, RpcCallEnd, RpcListener } from './rpc-calls.js';

const DATA_FLAG_FIN = 0x01; // docs/protocol.md §2
const DATA_FLAG_CODEC = 0x04;
const DATA_FLAG_BLOB = 0x08;
const NO_ATTRIBUTES: Attributes = {};

/** What this proxy put on the link for one message of a sampled call (frames that carried its context). */
interface LinkTally {
  frames: number;
  bytes: number;
  flags: number;
}

interface CallSpan {
  span: Span;
  context: TraceParent;
  request?: LinkTally;
  response?: LinkTally;
}

export class CallSpans implements RpcListener {
  /** Frame context object -> the tally its frames add to (set while the message may still be on its way out). */
  private readonly tallies = new Map<TraceParent, LinkTally>();

  constructor(private readonly tracer: Tracer, private readonly sampler: Sampler, private readonly ids: CallTraceIdGenerator, private readonly role: RoleName) {}

  readonly onFrame = (message: unknown): void => {
    const frame = message as TracedFrameEvent;
    const tally = this.tallies.get(frame.trace);
    if (!tally) return;
    tally.frames++;
    tally.bytes += frame.frameBytes;
    tally.flags |= frame.flags;
  };

  onCallStart(call: RpcCall, event: MessageEvent): void {
    // hop out: the call came off the link; a sampled peer sent its span's context (our parent). Otherwise the
    // call's derived trace id gives the root decision, the same one the other proxy made for it.
    const remote = event.hop === 'out' ? event.trace : undefined;
    const parent = remote ? remoteContext(remote) : ROOT_CONTEXT;
    const traceId = remote ? Buffer.from(remote.traceId).toString('hex') : callTraceId(call.direction, call.target ?? '', call.callSession);
    const kind = event.hop === 'in' ? SpanKind.CLIENT : SpanKind.SERVER;
    if (this.sampler.shouldSample(parent, traceId, call.method, kind, NO_ATTRIBUTES, []).decision === SamplingDecision.NOT_RECORD) return;
    if (!remote) this.ids.next = traceId;
    const span = this.tracer.startSpan(call.method, { kind }, parent);
    this.ids.next = undefined;
    const spanContext = span.spanContext();
    const state: CallSpan = {
      span,
      context: { traceId: Buffer.from(spanContext.traceId, 'hex'), spanId: Buffer.from(spanContext.spanId, 'hex'), traceFlags: spanContext.traceFlags },
    };
    call.span = state;
    // hop in: this proxy sees the call first; the link carries the sampled context to the other proxy.
    if (event.hop === 'in' && (spanContext.traceFlags & 1) === 1) {
      event.trace = state.context;
      this.tallies.set(state.context, (state.request = { frames: 0, bytes: 0, flags: 0 }));
    }
  }

  onCallEnd(call: RpcCall, end: RpcCallEnd, event?: MessageEvent): void {
    const state = call.span as CallSpan | undefined;
    if (!state) return;
    if (state.request) this.tallies.delete(state.context);
    const endMs = performance.now();
    const dot = call.method.indexOf('.');
    const slash = call.target?.indexOf('/') ?? -1;
    // Every attribute is set once, here (none at start: nothing is cleaned twice).
    state.span.setAttributes({
      'rpc.system': 'hypha',
      'rpc.service': dot < 0 ? call.method : call.method.slice(0, dot),
      'rpc.method': dot < 0 ? call.method : call.method.slice(dot + 1),
      'hypha.target': call.target ?? '',
      'hypha.workspace': slash > 0 ? call.target!.slice(0, slash) : '',
      'hypha.outcome': end.outcome,
      'hypha_accel.role': this.role,
      'hypha_accel.direction': call.direction,
      'hypha_accel.request.bytes': call.requestBytes,
      'hypha_accel.response.bytes': end.responseBytes,
      ...linkAttributes('request', state.request),
    });
    if (end.outcome !== 'resolve') state.span.setStatus({ code: SpanStatusCode.ERROR, message: end.outcome === 'reject' ? 'the call was rejected' : 'no reply before the session closed' });
    // The reply enters here and crosses the link from this proxy: it carries the call's context so its frames
    // can be counted; the span ends once the reply has been handed to the link (same tick unless it waits).
    if (event?.hop === 'in' && (state.context.traceFlags & 1) === 1) {
      const tally: LinkTally = { frames: 0, bytes: 0, flags: 0 };
      const context: TraceParent = { ...state.context };
      event.trace = context;
      this.tallies.set(context, tally);
      queueMicrotask(() => {
        this.tallies.delete(context);
        state.span.setAttributes(linkAttributes('response', tally));
        state.span.end(endMs);
      });
      return;
    }
    state.span.end(endMs);
  }
}

/**
 * Bytes after acceleration: how one message crossed the link from this proxy and, when it went as one frame,
 * that frame's bytes. Only a message's first frame carries the context, so a message in several frames or
 * on the payload plane gets its path only (its bytes are in the metrics, not per call).
 */
function linkAttributes(part: 'request' | 'response', tally: LinkTally | undefined): Attributes {
  if (!tally || tally.frames === 0) return NO_ATTRIBUTES;
  if (tally.flags & DATA_FLAG_BLOB) return { [`hypha_accel.${part}.link_path`]: 'payload_plane' };
  if (!(tally.flags & DATA_FLAG_FIN)) return { [`hypha_accel.${part}.link_path`]: 'fragments' };
  return { [`hypha_accel.${part}.link_bytes`]: tally.bytes, [`hypha_accel.${part}.link_path`]: tally.flags & DATA_FLAG_CODEC ? 'codec' : 'frame' };
}

function remoteContext(parent: TraceParent): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: Buffer.from(parent.traceId).toString('hex'),
    spanId: Buffer.from(parent.spanId).toString('hex'),
    traceFlags: parent.traceFlags,
    isRemote: true,
  });
}
