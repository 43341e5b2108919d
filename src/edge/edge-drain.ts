// The edge's half of a gateway instance's drain (DRAIN, docs/protocol.md §9b): the link that said it leaves
// its pool slot (a replacement is dialled at once, so new clients reach another instance), and each of that
// instance's sessions is closed with 1001 at a quiet moment (no RPC call it carries waits for its reply and
// nothing moved either way for a while), or at the latest just before the instance's drain time runs out,
// so hypha-rpc reconnects onto another instance.
import type WebSocket from 'ws';
import type { Logger } from '../log.js';
import type { Established } from '../link/establish.js';
import type { SessionPort } from '../link/session-port.js';
import { publishLink } from '../events.js';
import { mirrorClose } from '../net/ws-close.js';
import { RpcCallTracker } from '../observe/rpc-calls.js';

/**
 * A session is quiet once no call it carries waits for a reply and nothing moved on it for a while: during
 * the first DRAIN_SETTLE_MS (and 10 link round trips) for DRAIN_QUIET_MS (and 4 round trips), since calls
 * that began before DRAIN are not known; after it for one check interval (a client between two calls of a
 * sequence sends the next within a few ms; one silent that long is waiting or sleeping); past half the drain
 * time no call pending is enough. (100 ms instead of one interval was tried: under a load average of ~20 a
 * busy Python client was then never quiet and reached the deadline.)
 */
export const DRAIN_QUIET_MS = 200;
export const DRAIN_SETTLE_MS = 1000;
/** How often sessions of a draining instance are looked at. */
const DRAIN_CHECK_MS = 20;
/** The edge closes what is left this long before the instance's announced drain time ends (its own deadline). */
const DRAIN_DEADLINE_LEAD_MS = 250;

interface Tracked {
  sessionId: string;
  link: Established;
  port: SessionPort;
  moved: number;
  quietSinceMs: number;
}

interface Draining {
  startedMs: number;
  deadlineMs: number;
  timer: ReturnType<typeof setInterval>;
}

export class EdgeDrain {
  private readonly sessions = new Map<WebSocket, Tracked>();
  private readonly draining = new Map<string, Draining>();
  /** Links that said DRAIN and still carry sessions (the pool no longer holds them). */
  readonly retiredLinks = new Set<Established>();
  /** Pairs calls with their replies while some instance drains (reads message envelopes only then). */
  private calls: RpcCallTracker | undefined;

  constructor(private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /** True once gateway instance `gatewayId` said DRAIN: its sessions are not resumed, nothing new goes there. */
  isDraining(gatewayId: string): boolean {
    return this.draining.has(gatewayId);
  }

  track(ws: WebSocket, sessionId: string, link: Established, port: SessionPort): void {
    this.sessions.set(ws, { sessionId, link, port, moved: port.messagesMoved, quietSinceMs: this.now() });
  }

  untrack(ws: WebSocket): void {
    this.sessions.delete(ws);
  }

  /** `link` said DRAIN: its instance ends its sessions after drainMs. */
  onDrain(link: Established, drainMs: number, reason: string): void {
    this.retiredLinks.add(link);
    link.session.addCloseListener(() => this.forget(link));
    publishLink({ role: 'edge', linkId: link.linkId, event: 'drain', streams: link.session.streamCount, message: reason });
    this.log.info({ linkId: link.linkId, gateway: link.peerId, drainMs, streams: link.session.streamCount, reason }, 'gateway instance draining: no new sessions there, its sessions close when quiet');
    if (this.draining.has(link.peerId)) return;
    if (!this.calls) {
      this.calls = new RpcCallTracker({ role: 'edge' });
      this.calls.addListener({ needsTarget: false, onCallStart: () => {}, onCallEnd: () => {} });
    }
    const timer = setInterval(() => this.check(link.peerId), DRAIN_CHECK_MS);
    timer.unref();
    this.draining.set(link.peerId, { startedMs: this.now(), deadlineMs: this.now() + drainMs - DRAIN_DEADLINE_LEAD_MS, timer });
  }

  private check(gatewayId: string): void {
    const drain = this.draining.get(gatewayId);
    if (!drain) return;
    const nowMs = this.now();
    const late = nowMs >= drain.deadlineMs;
    let left = 0;
    for (const [ws, tracked] of this.sessions) {
      if (tracked.link.peerId !== gatewayId) continue;
      const moved = tracked.port.messagesMoved;
      if (moved !== tracked.moved) {
        tracked.moved = moved;
        tracked.quietSinceMs = nowMs;
      }
      const rttMs = tracked.link.session.rttMs ?? 0;
      // Calls begun before DRAIN are unknown: at first a long silence stands for them; once they must be over,
      // no call in flight and one check interval without a message (the client is not mid-sequence) will do.
      // Past half the drain time, no call in flight is enough (a client that never pauses still has moments
      // between calls; closing there risks at most the call it is about to send, the deadline every pending one).
      const sinceMs = nowMs - drain.startedMs;
      const settled = sinceMs >= Math.max(DRAIN_SETTLE_MS, 10 * rttMs);
      const hurried = sinceMs >= (drain.deadlineMs - drain.startedMs) / 2;
      const quietMs = hurried ? 0 : settled ? DRAIN_CHECK_MS : Math.max(DRAIN_QUIET_MS, 4 * rttMs);
      const quiet = nowMs - tracked.quietSinceMs >= quietMs && this.calls?.pendingIn(tracked.sessionId) === 0;
      if (late || quiet) this.close(ws, tracked, late ? 'deadline' : 'quiet');
      else left++;
    }
    if (left === 0) {
      clearInterval(drain.timer); // the entry stays: the instance is still draining for isDraining()
    }
  }

  /** A retired link ended: once none of its instance is left, the instance is forgotten. */
  private forget(link: Established): void {
    this.retiredLinks.delete(link);
    for (const other of this.retiredLinks) if (other.peerId === link.peerId) return;
    const drain = this.draining.get(link.peerId);
    if (drain) clearInterval(drain.timer);
    this.draining.delete(link.peerId);
    if (this.draining.size === 0) this.stopTracking();
  }

  private stopTracking(): void {
    this.calls?.close();
    this.calls = undefined;
  }

  private close(ws: WebSocket, tracked: Tracked, when: 'quiet' | 'deadline'): void {
    this.sessions.delete(ws);
    publishLink({ role: 'edge', linkId: tracked.link.linkId, event: 'drain-close', message: when });
    mirrorClose(ws, 1001, 'hypha-accel: gateway instance draining');
  }

  stop(): void {
    for (const drain of this.draining.values()) clearInterval(drain.timer);
    this.stopTracking();
    for (const link of this.retiredLinks) link.session.goAway('edge stopping');
  }
}
