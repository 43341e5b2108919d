// Pairs each hypha RPC call a proxy relays with its `<session>.resolve|reject` (hypha-protocol.md §3), per
// proxy session and role, from the message and session events. Listeners (metrics, tracing) see a call
// start synchronously, before the message is forwarded, and its end; pending calls are bounded.
import { channels, messageBytes, type Direction, type MessageEvent, type RoleName, type SessionEvent } from '../events.js';
import { classifyMethod, readEnvelope, type MethodRole } from './hypha-envelope.js';

/** Call paths whose classification is remembered (the first ones seen; later ones are classified each time). */
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
  private readonly callRoles = new Map<string, MethodRole>();
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
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
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

  private handleMessage(event: MessageEvent): void {
    if (event.role !== this.options.role || !event.isBinary) return;
    const envelope = readEnvelope(event.data);
    if (!envelope?.method || envelope.type !== 'method') return;
    const role = this.classify(envelope.method);
    if (role.kind === 'heartbeat') return;
    if (role.kind === 'reply') {
      // The reply travels against its call.
      const calls = this.pending.get(event.sessionId);
      const byCallSession = calls && (event.direction === 'up' ? calls.down : calls.up);
      const call = byCallSession?.get(role.session);
      if (!call || call.hop === event.hop) return;
      byCallSession!.delete(role.session);
      this.end(call, role.outcome, messageBytes(event), event);
      return;
    }
    if (!envelope.session) return; // no promise: nothing comes back
    let calls = this.pending.get(event.sessionId);
    if (!calls) this.pending.set(event.sessionId, (calls = { up: new Map(), down: new Map() }));
    if (calls.up.size + calls.down.size >= this.maxPending) this.endOldest(calls);
    const call: RpcCall = {
      role: event.role, method: this.boundedName(role.name), direction: event.direction, hop: event.hop,
      startMs: this.now(), requestBytes: messageBytes(event), target: envelope.to, callSession: envelope.session, span: undefined,
    };
    (event.direction === 'up' ? calls.up : calls.down).set(envelope.session, call);
    for (const listener of this.listeners) listener.onCallStart(call, event);
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

  /** classifyMethod, remembered for call paths (`services.…` repeat; reply paths carry ids and are cheap). */
  private classify(method: string): MethodRole {
    let role = this.callRoles.get(method);
    if (role) return role;
    role = classifyMethod(method);
    if (role.kind === 'call' && method.startsWith('services.') && this.callRoles.size < MAX_REMEMBERED_PATHS) this.callRoles.set(method, role);
    return role;
  }

  private boundedName(name: string): string {
    if (this.methods.has(name)) return name;
    if (this.methods.size >= this.maxMethods) return 'other';
    this.methods.add(name);
    return name;
  }
}
