// Pairs each hypha RPC call a proxy relays with its `<session>.resolve|reject` (hypha-protocol.md §3), per
// proxy session and role, from the message and session events. Listeners (metrics, tracing) see a call
// start synchronously, before the message is forwarded, and its end; pending calls are bounded.
import { channels, messageBytes, type Direction, type MessageEvent, type RoleName, type SessionEvent } from '../events.js';
import { hashBytes } from '../codec/value-index.js';
import { EnvelopeSpans, METHOD_TYPE, REPLY_SUFFIXES, SERVICES_PREFIX, bytesEqual, classifyMethod, scanEnvelope, startsWith } from './hypha-envelope.js';

/** Call paths whose name is remembered by their bytes (the first ones seen; later ones are decoded each time). */
const MAX_REMEMBERED_PATHS = 1024;

export type RpcOutcome = 'resolve' | 'reject' | 'unanswered';

export interface RpcCall {
  role: RoleName;
  /** Normalised method (`service.function` or `callback`): bounded, never an id. */
  method: string;
  /** The direction the call travels (up = toward hypha). */
  direction: Direction;
  /** in = the call entered this proxy from its endpoint; out = it left toward the endpoint (came off the link). */
  hop: 'in' | 'out';
  startMs: number;
  requestBytes: number;
  /** The call's `to` (workspace/client): for span attributes, never for metric labels. */
  target: string | undefined;
  /** hypha's promise session of the call (unique per call): tracing derives its sampling from it, never a label. */
  callSession: string;
  /** Set by listeners (tracing keeps its span here); present from the start, so a sampled call keeps its shape. */
  span?: unknown;
}

export interface RpcCallEnd {
  outcome: RpcOutcome;
  durationMs: number;
  responseBytes: number;
}

export interface RpcListener {
  /** false: the listener never reads `call.target`; when no listener does, the tracker does not decode it. */
  readonly needsTarget?: boolean;
  onCallStart(call: RpcCall, event: MessageEvent): void;
  /** `event` is the reply message (absent when the call ends unanswered); a listener may set its `trace`. */
  onCallEnd(call: RpcCall, end: RpcCallEnd, event?: MessageEvent): void;
}

interface SessionCalls {
  up: Map<string, RpcCall>;
  down: Map<string, RpcCall>;
}

export interface RpcTrackerOptions {
  role: RoleName;
  /** Pending calls kept per proxy session; the oldest is ended as unanswered beyond it. */
  maxPendingPerSession?: number;
  /** Distinct method names; further ones are named `other`. */
  maxMethods?: number;
  now?: () => number;
}

export class RpcCallTracker {
  private readonly listeners: RpcListener[] = [];
  /** proxy session id -> the calls pending in it, by the direction they travel, each by its hypha session */
  private readonly pending = new Map<string, SessionCalls>();
  private readonly methods = new Set<string>();
  /** `services.…` paths seen, by a hash of their bytes: the bytes and the call's bounded name (no decode per call). */
  private readonly namesByHash = new Map<number, Array<{ bytes: Buffer; name: string }>>();
  private rememberedPaths = 0;
  /** Where the envelope strings of the message at hand lie (one scan at a time: listeners run after it is read). */
  private readonly spans = new EnvelopeSpans();
  private wantTarget = false;
  private readonly maxPending: number;
  private readonly maxMethods: number;
  private readonly now: () => number;
  private readonly onMessage = (m: unknown) => this.handleMessage(m as MessageEvent);
  private readonly onSession = (m: unknown) => this.handleSession(m as SessionEvent);

  constructor(private readonly options: RpcTrackerOptions) {
    this.maxPending = options.maxPendingPerSession ?? 4096;
    this.maxMethods = options.maxMethods ?? 200;
    this.now = options.now ?? (() => performance.now());
  }

  addListener(listener: RpcListener): () => void {
    if (this.listeners.length === 0) {
      channels.message.subscribe(this.onMessage);
      channels.session.subscribe(this.onSession);
    }
    this.listeners.push(listener);
    this.wantTarget = this.listeners.some((l) => l.needsTarget !== false);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
      this.wantTarget = this.listeners.some((l) => l.needsTarget !== false);
      if (this.listeners.length === 0) this.close();
    };
  }

  /** Calls waiting for their reply, over all sessions. */
  get pendingCount(): number {
    let count = 0;
    for (const calls of this.pending.values()) count += calls.up.size + calls.down.size;
    return count;
  }

  /** Calls of one proxy session waiting for their reply (either direction). */
  pendingIn(sessionId: string): number {
    const calls = this.pending.get(sessionId);
    return calls ? calls.up.size + calls.down.size : 0;
  }

  close(): void {
    channels.message.unsubscribe(this.onMessage);
    channels.session.unsubscribe(this.onSession);
    this.listeners.length = 0;
    this.pending.clear();
  }

  /**
   * Per message: one scan of main for the strings' places, and one string decoded (the call's or the reply's
   * session; `to` too while a listener needs it). A call's name comes from its path's bytes once they were seen.
   */
  private handleMessage(event: MessageEvent): void {
    if (event.role !== this.options.role || !event.isBinary) return;
    const data = event.data;
    const spans = this.spans;
    if (!scanEnvelope(data, spans, this.wantTarget) || spans.methodEnd <= spans.methodStart || spans.typeStart < 0) return;
    if (!bytesEqual(data, spans.typeStart, spans.typeEnd, METHOD_TYPE)) return;
    const suffix = spans.methodReply;
    if (suffix === 2) return; // heartbeat
    if (suffix >= 0) {
      // The reply travels against its call.
      const calls = this.pending.get(event.sessionId);
      const byCallSession = calls && (event.direction === 'up' ? calls.down : calls.up);
      if (!byCallSession || byCallSession.size === 0) return;
      const session = data.toString('utf8', spans.methodStart, spans.methodEnd - REPLY_SUFFIXES[suffix]!.length);
      const call = byCallSession.get(session);
      if (!call || call.hop === event.hop) return;
      byCallSession.delete(session);
      this.end(call, suffix === 0 ? 'resolve' : 'reject', messageBytes(event), event);
      return;
    }
    if (spans.sessionStart < 0) return; // no promise: nothing comes back
    const method = this.callName(data, spans.methodStart, spans.methodEnd);
    const session = data.toString('utf8', spans.sessionStart, spans.sessionEnd);
    let calls = this.pending.get(event.sessionId);
    if (!calls) this.pending.set(event.sessionId, (calls = { up: new Map(), down: new Map() }));
    if (calls.up.size + calls.down.size >= this.maxPending) this.endOldest(calls);
    const call: RpcCall = {
      role: event.role, method, direction: event.direction, hop: event.hop, startMs: this.now(), requestBytes: messageBytes(event),
      target: spans.toStart >= 0 ? data.toString('utf8', spans.toStart, spans.toEnd) : undefined, callSession: session, span: undefined,
    };
    (event.direction === 'up' ? calls.up : calls.down).set(session, call);
    for (const listener of this.listeners) listener.onCallStart(call, event);
  }

  /**
   * The bounded name of the call path in data[start, end) (classifyMethod's): `services.…` paths are remembered
   * by their bytes, any other path is a `callback`.
   */
  private callName(data: Buffer, start: number, end: number): string {
    if (!startsWith(data, start, end, SERVICES_PREFIX)) return this.boundedName('callback');
    const hash = hashBytes(data, start, end); // a filter: hits are confirmed by their bytes
    const known = this.namesByHash.get(hash);
    if (known) for (let i = 0; i < known.length; i++) if (bytesEqual(data, start, end, known[i]!.bytes)) return known[i]!.name;
    const role = classifyMethod(data.toString('utf8', start, end));
    const name = this.boundedName(role.kind === 'call' ? role.name : 'callback');
    if (this.rememberedPaths < MAX_REMEMBERED_PATHS) {
      this.rememberedPaths++;
      const entry = { bytes: Buffer.from(data.subarray(start, end)), name }; // a copy, not a view that keeps the message alive
      if (known) known.push(entry);
      else this.namesByHash.set(hash, [entry]);
    }
    return name;
  }

  /** Ends the session's oldest pending call (of either direction) as unanswered. */
  private endOldest(calls: SessionCalls): void {
    const up = calls.up.entries().next().value;
    const down = calls.down.entries().next().value;
    const [map, entry] = !down || (up && up[1].startMs <= down[1].startMs) ? [calls.up, up!] : [calls.down, down];
    map.delete(entry[0]);
    this.end(entry[1], 'unanswered', 0);
  }

  private handleSession(event: SessionEvent): void {
    if (event.role !== this.options.role || event.event !== 'close') return;
    const calls = this.pending.get(event.sessionId);
    if (!calls) return;
    this.pending.delete(event.sessionId);
    for (const call of calls.up.values()) this.end(call, 'unanswered', 0);
    for (const call of calls.down.values()) this.end(call, 'unanswered', 0);
  }

  private end(call: RpcCall, outcome: RpcOutcome, responseBytes: number, event?: MessageEvent): void {
    const end: RpcCallEnd = { outcome, durationMs: this.now() - call.startMs, responseBytes };
    for (const listener of this.listeners) listener.onCallEnd(call, end, event);
  }

  private boundedName(name: string): string {
    if (this.methods.has(name)) return name;
    if (this.methods.size >= this.maxMethods) return 'other';
    this.methods.add(name);
    return name;
  }
}
