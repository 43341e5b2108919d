// Two in-memory DuplexTransports wired back to back, standing in for the link WebSocket in tests.
// Messages arrive asynchronously (one per macrotask turn) and in order; a send's callback fires once
// the message was "written" (taken by the peer), unless writes are held. Hooks drop, rewrite or inject
// messages and simulate a graceful close or a dropped socket. Also: direct LinkSession pairs, a
// recording StreamHandler and a bounded `until` poll, so tests never sleep.
import type { DuplexTransport } from '../../src/link/establish.js';
import type { LinkSettings } from '../../src/link/handshake.js';
import { LinkSession, type LinkSessionOptions } from '../../src/link/link-session.js';
import type { Stream, StreamHandler } from '../../src/link/stream.js';
import { AccelError } from '../../src/errors.js';

type Inbound = { kind: 'message'; data: Buffer; onTaken?: () => void } | { kind: 'close'; code: number; reason: string };

export class PipeEnd implements DuplexTransport {
  onMessage: ((data: Uint8Array) => void) | undefined;
  onClose: ((code: number, reason: string) => void) | undefined;
  /** Every frame handed to `send`, in the order the transport saw them (before `outbound` rewrites). */
  readonly sent: Buffer[] = [];
  /** Every message delivered to `onMessage`, in order. */
  readonly received: Buffer[] = [];
  /** Rewrites each message this end sends before the peer sees it; return null to drop it. */
  outbound: ((data: Buffer) => Buffer | null) | undefined;
  /** Set once `close` was called on this end (or the socket dropped). */
  closedWith: { code: number; reason: string } | undefined;
  /** Set when this end's onClose fired. */
  closeSeen: { code: number; reason: string } | undefined;
  peer!: PipeEnd;
  private readonly inbound: Inbound[] = [];
  private draining = false;
  private heldWrites: Array<() => void> | undefined;
  private socketGone = false;

  constructor(readonly name: string) {}

  send(frame: Buffer, onWritten: (error?: Error) => void): void {
    if (this.socketGone) {
      setImmediate(() => onWritten(new Error(`${this.name}: link socket is not open`)));
      return;
    }
    this.sent.push(frame);
    const data = this.outbound ? this.outbound(frame) : frame;
    const written = () => {
      if (this.heldWrites) this.heldWrites.push(() => onWritten());
      else onWritten();
    };
    if (data === null) {
      setImmediate(written); // dropped on the wire: the local write still completes
      return;
    }
    this.peer.enqueue({ kind: 'message', data: Buffer.from(data), onTaken: written });
  }

  /** Graceful close: messages already sent still arrive, then both ends see onClose(code, reason). */
  close(code: number, reason: string): void {
    if (this.socketGone) return;
    this.socketGone = true;
    this.closedWith = { code, reason };
    this.peer.socketGone = true;
    this.peer.enqueue({ kind: 'close', code, reason });
    this.enqueue({ kind: 'close', code, reason });
  }

  /** The socket drops abruptly: pending messages are lost and both ends see onClose(1006, ''). */
  dropSocket(): void {
    for (const end of [this, this.peer]) {
      end.socketGone = true;
      end.closedWith ??= { code: 1006, reason: '' };
      end.inbound.length = 0;
      end.enqueue({ kind: 'close', code: 1006, reason: '' });
    }
  }

  /** Delivers bytes to this end as if its peer had sent them (in order with real traffic). */
  inject(data: Uint8Array): void {
    this.enqueue({ kind: 'message', data: Buffer.from(data) });
  }

  /** From now on, send callbacks wait until `releaseWrites` (a socket whose buffer does not drain). */
  holdWrites(): void {
    this.heldWrites ??= [];
  }

  releaseWrites(): void {
    const held = this.heldWrites ?? [];
    this.heldWrites = undefined;
    for (const callback of held) callback();
  }

  get isOpen(): boolean {
    return !this.socketGone;
  }

  private enqueue(item: Inbound): void {
    if (this.closeSeen) return;
    this.inbound.push(item);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drainOne());
    }
  }

  private drainOne(): void {
    const item = this.inbound.shift();
    if (!item) {
      this.draining = false;
      return;
    }
    if (item.kind === 'message') {
      if (!this.closeSeen) {
        this.received.push(item.data);
        this.onMessage?.(item.data);
      }
      item.onTaken?.();
    } else if (!this.closeSeen) {
      this.closeSeen = { code: item.code, reason: item.reason };
      this.inbound.length = 0;
      this.onClose?.(item.code, item.reason);
    }
    setImmediate(() => this.drainOne());
  }
}

export interface LinkPair {
  /** The edge's end (dials). */
  a: PipeEnd;
  /** The gateway's end (accepts). */
  b: PipeEnd;
}

export function createLinkPair(): LinkPair {
  const a = new PipeEnd('a');
  const b = new PipeEnd('b');
  a.peer = b;
  b.peer = a;
  return { a, b };
}

export const testSettings = (overrides: Partial<LinkSettings> = {}): LinkSettings => ({
  windowBytes: 64 * 1024,
  maxFrameBytes: 16 * 1024,
  capabilities: [],
  ...overrides,
});

export type SessionSideOptions = Omit<LinkSessionOptions, 'local' | 'peer'> & { settings?: LinkSettings };

const sessionDefaults = { maxMessageBytes: 4 * 1024 * 1024, pingIntervalMs: 5000, keepaliveTimeoutMs: 15000, sendHighWaterBytes: 256 * 1024 };

/** Two LinkSessions over a fresh pair, as if the handshake had happened (a = edge, b = gateway). */
export function createSessionPair(a: Partial<SessionSideOptions> = {}, b: Partial<SessionSideOptions> = {}) {
  const pair = createLinkPair();
  const aSettings = a.settings ?? testSettings();
  const bSettings = b.settings ?? testSettings();
  const edge = new LinkSession(pair.a, { ...sessionDefaults, ...a, local: aSettings, peer: bSettings });
  const gateway = new LinkSession(pair.b, { ...sessionDefaults, ...b, local: bSettings, peer: aSettings });
  pair.a.onMessage = (data) => edge.handleMessage(data);
  pair.b.onMessage = (data) => gateway.handleMessage(data);
  pair.a.onClose = (code, reason) => edge.handleTransportClosed(closedError(code, reason));
  pair.b.onClose = (code, reason) => gateway.handleTransportClosed(closedError(code, reason));
  return { pair, edge, gateway };
}

function closedError(code: number, reason: string): AccelError {
  return new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `link socket closed (${code} ${reason})`);
}

export interface ReceivedMessage {
  data: Buffer;
  isText: boolean;
  written: () => void;
}

/** A StreamHandler that records everything; `autoWrite` returns credit as soon as a message arrives. */
export class RecordingHandler implements StreamHandler {
  readonly messages: ReceivedMessage[] = [];
  readonly remoteCloses: Array<{ code: number; reason: string }> = [];
  /** The end kind (CLOSE flags) of each remote close, in order. */
  readonly endKinds: number[] = [];
  readonly aborts: AccelError[] = [];
  pauses = 0;
  resumes = 0;
  constructor(private readonly autoWrite = true) {}
  onMessage(data: Buffer, isText: boolean, written: () => void): void {
    this.messages.push({ data: Buffer.from(data), isText, written });
    if (this.autoWrite) written();
  }
  onRemoteClose(code: number, reason: string, endKind: number): void {
    this.remoteCloses.push({ code, reason });
    this.endKinds.push(endKind);
  }
  onAbort(error: AccelError): void {
    this.aborts.push(error);
  }
  onPause(): void {
    this.pauses++;
  }
  onResume(): void {
    this.resumes++;
  }
}

/** Captures streams the peer opens (pass `accept` as onStreamOpen); each gets a RecordingHandler. */
export class StreamAcceptor {
  readonly streams: Array<{ stream: Stream; handler: RecordingHandler; open: Buffer }> = [];
  constructor(private readonly autoWrite = true) {}
  readonly accept = (stream: Stream, open: Uint8Array): void => {
    const handler = new RecordingHandler(this.autoWrite);
    stream.bind(handler);
    this.streams.push({ stream, handler, open: Buffer.from(open) });
  };
}

/** Polls `condition` every macrotask turn until it holds; rejects after `timeoutMs` of real time. */
export async function until(condition: () => boolean, what = 'condition', timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
