// Admission control shared by both roles: counts what is in progress (handshakes, sessions), sheds new
// work while the process is over its memory budget, and limits how fast one address opens connections.
// Every refusal names its limit so the caller can answer 503/429 and log it.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { LRUCache } from 'lru-cache';

export interface AdmissionLimits {
  maxPendingHandshakes: number;
  maxSessions: number;
  /** 0 = off. */
  memoryBudgetBytes: number;
  /** 0 = off. */
  connRatePerSec: number;
  connBurst: number;
}

/** What the process holds that grows with traffic: JS heap plus buffers outside it. */
export type MemoryGauge = () => number;
const processMemory: MemoryGauge = () => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
};

const RATE_LIMITED_BODY = 'hypha-accel: too many new connections (HYPHA_ACCEL_ERR_RATE_LIMITED)\n';
const RATE_LIMITED_RESPONSE = 'HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${Buffer.byteLength(RATE_LIMITED_BODY)}\r\n\r\n${RATE_LIMITED_BODY}`;

/** Addresses whose connection buckets are remembered (least recently seen forgotten first). */
const MAX_TRACKED_ADDRESSES = 10000;

export class Admission {
  pendingHandshakes = 0;
  sessions = 0;
  /** Refusals by limit name, for tests and metrics. */
  readonly refused: Record<string, number> = {};
  private readonly buckets = new LRUCache<string, { tokens: number; atMs: number }>({ max: MAX_TRACKED_ADDRESSES });

  constructor(private readonly limits: AdmissionLimits, private readonly memory: MemoryGauge = processMemory, private readonly nowMs: () => number = Date.now) {}

  /**
   * Why a new session (or link) may not start now, or undefined when it may. Counts the refusal. Links are
   * not shed for memory: they are few, and a link that replaces a lost one carries existing sessions.
   */
  refuseNew(kind: 'session' | 'link'): string | undefined {
    const why = this.whyRefuse(kind);
    if (why) this.refused[why.split(' ')[0]!] = (this.refused[why.split(' ')[0]!] ?? 0) + 1;
    return why;
  }

  private whyRefuse(kind: 'session' | 'link'): string | undefined {
    if (this.pendingHandshakes >= this.limits.maxPendingHandshakes) return `maxPendingHandshakes (${this.limits.maxPendingHandshakes}) reached`;
    if (kind === 'link') return undefined;
    if (this.sessions >= this.limits.maxSessions) return `maxSessions (${this.limits.maxSessions}) reached`;
    return this.overBudget();
  }

  /** Set when the process holds more than memoryBudgetBytes. */
  overBudget(): string | undefined {
    if (this.limits.memoryBudgetBytes <= 0) return undefined;
    const heldBytes = this.memory();
    return heldBytes > this.limits.memoryBudgetBytes ? `memoryBudgetBytes (${this.limits.memoryBudgetBytes}) exceeded: ${heldBytes} held` : undefined;
  }

  /** Marks one handshake in progress; the returned function ends it (idempotent). */
  beginHandshake(): () => void {
    return this.hold('pendingHandshakes');
  }

  /** Marks one session open; the returned function ends it (idempotent). */
  beginSession(): () => void {
    return this.hold('sessions');
  }

  private hold(counter: 'pendingHandshakes' | 'sessions'): () => void {
    this[counter]++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this[counter]--;
    };
  }

  /** Token bucket per remote address: false when this address opens connections too fast. */
  allowConnection(address: string | undefined): boolean {
    const rate = this.limits.connRatePerSec;
    if (rate <= 0 || !address) return true;
    const now = this.nowMs();
    const bucket = this.buckets.get(address) ?? { tokens: this.limits.connBurst, atMs: now };
    bucket.tokens = Math.min(this.limits.connBurst, bucket.tokens + ((now - bucket.atMs) / 1000) * rate);
    bucket.atMs = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(address, bucket);
    if (!allowed) this.refused.connRatePerSec = (this.refused.connRatePerSec ?? 0) + 1;
    return allowed;
  }

  /** Answers connections over the per-address rate with 429 before HTTP parsing starts. */
  guardServer(server: Server, onRefused: (address: string | undefined) => void): void {
    server.prependListener('connection', (socket: Socket) => {
      if (this.allowConnection(socket.remoteAddress)) return;
      onRefused(socket.remoteAddress);
      socket.on('error', () => {});
      socket.end(RATE_LIMITED_RESPONSE, () => socket.destroy());
    });
  }
}
