// Spans of the RPC calls one proxy relays (a call tracker listener). Sampling is decided before anything is
// built, from the call's sample key (call-trace-ids.ts) or the link's sampled parent: an unsampled call
// costs a 32-bit hash of its session and a comparison.
// A sampled call sends its context in the link frame header; frames carrying it add their link bytes.
// The proxy that sees a call first also keeps an unsampled call that ends rejected, unanswered or slower
// than slowCallMs: a root span built at its end from the start the call tracker kept (`hypha_accel.kept`).
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { BlobOutcome, MessageEvent, TraceParent, TracedFrameEvent } from '../events.js';
import { bytesToHex, callSampleKey, callTraceId, type CallTraceIdGenerator } from './call-trace-ids.js';
import type { KeepingSampler } from './otel-sampler.js';
import type { RpcCall, RpcCallEnd, RpcListener } from './rpc-calls.js';

const DATA_FLAG_FIN = 0x01; // docs/protocol.md §2
const DATA_FLAG_CODEC = 0x04;
const DATA_FLAG_BLOB = 0x08;

/** What this proxy put on the link for one message of a sampled call (frames that carried its context). */
interface LinkTally {
  frames: number;
  bytes: number;
  flags: number;
  /** The payload plane's outcome when the message went as a blob (this proxy sent it). */
  blob?: BlobOutcome;
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
  private readonly names = new SpanNameCache();

  /**
   * `slowCallMs` > 0: an unsampled call at least this long is kept too (0: only rejected and unanswered ones).
   * `sampler` is the provider's: CallSpans asks its configured sampler itself and tells it what to keep.
   */
  constructor(
    private readonly tracer: Tracer,
    private readonly sampler: KeepingSampler,
    private readonly ids: CallTraceIdGenerator,
    private readonly slowCallMs = 0,
  ) {}

  readonly onFrame = (message: unknown): void => {
    const frame = message as TracedFrameEvent;
    const tally = this.tallies.get(frame.trace);
    if (!tally) return;
    tally.frames++;
    tally.bytes += frame.frameBytes;
    tally.flags |= frame.flags;
    if (frame.blob) tally.blob = frame.blob;
  };

  onCallStart(call: RpcCall, event: MessageEvent): void {
    // hop out: the call came off the link; a sampled peer sent its span's context (our parent) and the SDK's
    // sampler follows it (one sampler question, in startSpan). Otherwise the call's sample key gives the root
    // decision, the same one the other proxy made for it, taken before anything is built: the configured
    // sampler's root bound against a 32-bit hash of the session (no id, no sampler call for the 99% left out);
    // the trace id of a sampled call carries the same key, so the SDK's ratio sampler would agree.
    const remote = event.hop === 'out' ? event.trace : undefined;
    const kind = event.hop === 'in' ? SpanKind.CLIENT : SpanKind.SERVER;
    let span: Span;
    if (remote) {
      span = this.tracer.startSpan(call.method, { kind }, remoteContext(remote));
      if (!span.isRecording()) return;
    } else {
      if (callSampleKey(call.callSession) >= this.sampler.rootBound) return;
      span = this.startRoot(call, callTraceId(call.direction, call.target ?? '', call.callSession), { kind }); // decided: the SDK does not ask again
    }
    const spanContext = span.spanContext();
    const state: CallSpan = {
      span,
      context: { traceId: remote ? remote.traceId : Buffer.from(spanContext.traceId, 'hex'), spanId: Buffer.from(spanContext.spanId, 'hex'), traceFlags: spanContext.traceFlags },
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
    if (!state) {
      // Unsampled: a resolved call that was quick costs two comparisons here.
      if (call.hop === 'in' && (end.outcome !== 'resolve' || (this.slowCallMs > 0 && end.durationMs >= this.slowCallMs))) this.keep(call, end);
      return;
    }
    if (state.request) this.tallies.delete(state.context);
    this.setCallAttributes(state.span, call, end);
    if (state.request) setLinkAttributes(state.span, REQUEST_KEYS, state.request);
    // The reply enters here and crosses the link from this proxy: it carries the call's context so its frames
    // can be counted; the span ends once the reply has been handed to the link (same tick unless it waits).
    // The request's tally is gone, so the same context object now counts the reply's frames.
    if (event?.hop === 'in' && (state.context.traceFlags & 1) === 1) {
      const endMs = performance.now();
      const tally: LinkTally = { frames: 0, bytes: 0, flags: 0 };
      event.trace = state.context;
      this.tallies.set(state.context, tally);
      queueMicrotask(() => {
        this.tallies.delete(state.context);
        setLinkAttributes(state.span, RESPONSE_KEYS, tally);
        state.span.end(endMs);
      });
      return;
    }
    state.span.end();
  }

  /**
   * An unsampled call this proxy saw first that an operator will look for: a root span (the call's derived
   * trace id, the tracker's start time) with `hypha_accel.kept` saying why. Nothing crossed the link for it,
   * so the other proxy has no span of it and there are no link attributes.
   */
  private keep(call: RpcCall, end: RpcCallEnd): void {
    const reason = end.outcome === 'resolve' ? 'slow' : end.outcome;
    const span = this.startRoot(call, callTraceId(call.direction, call.target ?? '', call.callSession), { kind: SpanKind.CLIENT, startTime: call.startMs });
    this.setCallAttributes(span, call, end);
    span.setAttribute('hypha_accel.kept', reason);
    span.end();
  }

  /** A root span with the call's derived trace id, recorded and sampled without asking the sampler (already decided). */
  private startRoot(call: RpcCall, traceId: string, options: { kind: SpanKind; startTime?: number }): Span {
    this.ids.next = traceId;
    this.sampler.keepNext();
    const span = this.tracer.startSpan(call.method, options, ROOT_CONTEXT);
    this.ids.next = undefined;
    return span;
  }

  /**
   * Every attribute is set once, at the call's end (none at start: nothing is cleaned twice). The role is the
   * resource's `hypha_accel.role`; the direction follows from it and the span kind (docs/metrics.md).
   */
  private setCallAttributes(span: Span, call: RpcCall, end: RpcCallEnd): void {
    const names = this.names.method(call.method);
    span.setAttributes({
      'rpc.system': 'hypha',
      'rpc.service': names.service,
      'rpc.method': names.method,
      'hypha.target': call.target ?? '',
      'hypha.workspace': this.names.workspace(call.target),
      'hypha.outcome': end.outcome,
      'hypha_accel.request.bytes': call.requestBytes,
      'hypha_accel.response.bytes': end.responseBytes,
    });
    if (end.outcome !== 'resolve') span.setStatus(end.outcome === 'reject' ? REJECTED : UNANSWERED);
  }
}

const REJECTED = { code: SpanStatusCode.ERROR, message: 'the call was rejected' };
const UNANSWERED = { code: SpanStatusCode.ERROR, message: 'no reply before the session closed' };
const MAX_REMEMBERED_NAMES = 1024;

/** `rpc.service`, `rpc.method` and `hypha.workspace` of a method and target, remembered (bounded) so a call builds no strings. */
class SpanNameCache {
  private readonly methods = new Map<string, { service: string; method: string }>();
  private readonly workspaces = new Map<string, string>();

  method(name: string): { service: string; method: string } {
    let split = this.methods.get(name);
    if (!split) {
      const dot = name.indexOf('.');
      split = dot < 0 ? { service: name, method: name } : { service: name.slice(0, dot), method: name.slice(dot + 1) };
      if (this.methods.size < MAX_REMEMBERED_NAMES) this.methods.set(name, split);
    }
    return split;
  }

  workspace(target: string | undefined): string {
    if (target === undefined) return '';
    let workspace = this.workspaces.get(target);
    if (workspace === undefined) {
      const slash = target.indexOf('/');
      workspace = slash > 0 ? target.slice(0, slash) : '';
      if (this.workspaces.size < MAX_REMEMBERED_NAMES) this.workspaces.set(target, workspace);
    }
    return workspace;
  }
}

const REQUEST_KEYS = {
  bytes: 'hypha_accel.request.link_bytes', path: 'hypha_accel.request.link_path', shm: 'hypha_accel.request.payload.shm',
  deduped: 'hypha_accel.request.payload.deduped_bytes', wire: 'hypha_accel.request.payload.wire_bytes',
} as const;
const RESPONSE_KEYS = {
  bytes: 'hypha_accel.response.link_bytes', path: 'hypha_accel.response.link_path', shm: 'hypha_accel.response.payload.shm',
  deduped: 'hypha_accel.response.payload.deduped_bytes', wire: 'hypha_accel.response.payload.wire_bytes',
} as const;

/**
 * Bytes after acceleration: how one message crossed the link from this proxy and, when it went as one frame,
 * that frame's bytes. Only a message's first frame carries the context, so a message in several frames gets
 * its path only (its bytes are in the metrics, not per call). A blob's plane outcome: its chunks the peer
 * already held (deduped) and the bytes of its new chunks as sent (after compression; 0 through shared memory).
 */
function setLinkAttributes(span: Span, keys: typeof REQUEST_KEYS | typeof RESPONSE_KEYS, tally: LinkTally): void {
  if (tally.frames === 0) return;
  if (tally.flags & DATA_FLAG_BLOB) {
    span.setAttribute(keys.path, 'payload_plane');
    if (tally.blob) {
      span.setAttribute(keys.deduped, tally.blob.dedupedBytes).setAttribute(keys.wire, tally.blob.wireBytes);
      if (tally.blob.shm) span.setAttribute(keys.shm, true);
    }
  }
  else if (!(tally.flags & DATA_FLAG_FIN)) span.setAttribute(keys.path, 'fragments');
  else span.setAttribute(keys.bytes, tally.bytes).setAttribute(keys.path, tally.flags & DATA_FLAG_CODEC ? 'codec' : 'frame');
}

function remoteContext(parent: TraceParent): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: bytesToHex(parent.traceId),
    spanId: bytesToHex(parent.spanId),
    traceFlags: parent.traceFlags,
    isRemote: true,
  });
}
