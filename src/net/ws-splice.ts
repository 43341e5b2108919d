// Splices a plain client's WebSocket to hypha's byte for byte: the gateway's passthrough when neither hop
// negotiated an extension. After both handshakes a masked client frame is a valid frame toward hypha (the
// gateway is hypha's client; the key travels in each frame) and hypha's unmasked frames are valid toward
// the client, so bytes pass both ways unchanged, Close frames, codes and TCP ends included, with the
// sockets' own backpressure. A FrameFollower per direction enforces maxMessageBytes (1009, as ws would),
// hands observers each message's head, and finds the boundary where the gateway may write its own Close.
import type { Duplex } from 'node:stream';
import { publishMessage, channels, type RoleName } from '../events.js';
import { FrameFollower } from './frame-follower.js';
import { closeFrame } from './ws-frame-header.js';
import { OBSERVED_HEAD_BYTES } from './ingress-tap.js';
import { CLOSE_GRACE_MS } from './ws-close.js';
import { resetOrDestroy } from './socket-reset.js';

export interface SpliceHandle {
  /** Closes the client with `code` (a Close at the next frame boundary toward it); its answer goes on to hypha. */
  close(code: number, reason: string): void;
  /** Ends both connections now. */
  terminate(): void;
}

export interface SpliceOptions {
  maxMessageBytes: number;
  /** Who the messages belong to, for observers (metrics, call pairing); heads only, as on the cut-through path. */
  observed?: { role: RoleName; sessionId: string };
  /** A message broke maxMessageBytes (the splice closes with 1009 itself): for the caller's log. */
  onTooLarge?(direction: 'up' | 'down'): void;
  onClosed(): void;
}

/** `clientHead`: bytes that came with the client's upgrade request (its first frames, if any). */
export function spliceWebSockets(client: Duplex, clientHead: Buffer, upstream: Duplex, options: SpliceOptions): SpliceHandle {
  let graceTimer: NodeJS.Timeout | undefined;
  const endBoth = () => {
    graceTimer ??= setTimeout(terminate, CLOSE_GRACE_MS).unref();
  };
  const fail = (failed: Pump, other: Pump, code: 1009, reason: string, cleanCut: boolean) => {
    options.onTooLarge?.(failed === up ? 'up' : 'down');
    // The sender of the oversized message gets the Close (at a boundary of the bytes toward it); the
    // receiver gets it right where the message was cut, or a dropped connection when the cut is mid-header.
    if (cleanCut) failed.haltWith(code, reason);
    else failed.to.destroy();
    other.closeAtBoundary(code, reason);
    endBoth();
  };
  const up: Pump = new Pump(client, upstream, true, options, 'up', (code, reason, cleanCut) => fail(up, down, code, reason, cleanCut));
  const down: Pump = new Pump(upstream, client, false, options, 'down', (code, reason, cleanCut) => fail(down, up, code, reason, cleanCut));
  let closedCount = 0;
  const onSocketClose = () => {
    if (++closedCount === 1) return endBoth(); // the other side has been ended; it gets CLOSE_GRACE_MS to follow
    if (closedCount !== 2) return;
    clearTimeout(graceTimer);
    options.onClosed();
  };
  client.on('close', onSocketClose);
  upstream.on('close', onSocketClose);
  function terminate(): void {
    client.destroy();
    upstream.destroy();
  }
  if (clientHead.length > 0) up.feed(clientHead);
  return {
    close(code, reason) {
      down.closeAtBoundary(code, reason);
      endBoth();
    },
    terminate,
  };
}

/** One direction: `from`'s bytes to `to`, followed frame by frame. `toHypha`: frames written toward `to` are masked. */
class Pump {
  private readonly follower: FrameFollower;
  private closeFrame: Buffer | undefined; // ours, waiting for a frame boundary
  private halted = false;
  private waitingForDrain = false;

  constructor(
    readonly from: Duplex,
    readonly to: Duplex,
    private readonly toHypha: boolean,
    options: SpliceOptions,
    direction: 'up' | 'down',
    private readonly onTooLarge: (code: 1009, reason: string, cleanCut: boolean) => void,
  ) {
    const observed = options.observed;
    // A passthrough message is published as the client's coming in (up, hop in) or hypha's going out (down, hop out),
    // every event with the same keys in the same order as the link sessions' (bind-endpoint.ts): one object shape.
    const hop = direction === 'up' ? 'in' : 'out';
    this.follower = new FrameFollower({
      maxMessageBytes: options.maxMessageBytes,
      headBytes: OBSERVED_HEAD_BYTES,
      ...(observed && {
        wantsHeads: () => channels.message.hasSubscribers,
        onMessageHead: (data: Buffer, isBinary: boolean, bytes: number | undefined) =>
          publishMessage({ role: observed.role, sessionId: observed.sessionId, direction, hop, isBinary, data, trace: undefined, bytes, passthrough: true }),
      }),
    });
    from.on('data', (chunk: Buffer) => this.feed(chunk));
    from.on('end', () => {
      if (!to.destroyed) to.end(); // the endpoint's FIN, passed on after what it sent
    });
    from.on('error', (error: NodeJS.ErrnoException) => {
      // A reset passes on as a reset, as a direct connection would show it; other errors end the hop.
      if (error.code === 'ECONNRESET') resetOrDestroy(to);
      else to.destroy();
    });
    from.on('close', () => {
      if (!to.writableEnded && !to.destroyed) to.end();
    });
    to.on('error', () => {});
    from.resume(); // a socket paused on purpose (taken from ws) stays paused when a 'data' listener comes
  }

  feed(chunk: Buffer): void {
    if (this.halted) return;
    const passOn = this.follower.follow(chunk);
    if (passOn > 0) this.write(passOn === chunk.length ? chunk : chunk.subarray(0, passOn));
    const failure = this.follower.failure;
    if (failure) {
      this.halted = true; // once: nothing more passes this way
      return this.onTooLarge(failure.code, failure.reason, failure.cleanCut);
    }
    if (this.follower.stopped) this.halt();
  }

  /** Writes a Close of ours toward `to` at the next frame boundary; nothing from `from` follows it. */
  closeAtBoundary(code: number, reason: string): void {
    if (this.halted || this.closeFrame) return;
    this.closeFrame = closeFrame(code, reason, this.toHypha);
    this.follower.stopAtBoundary();
    if (this.follower.stopped) this.halt();
  }

  /** At a boundary already (the follower cut there): the Close goes now. */
  haltWith(code: number, reason: string): void {
    this.closeFrame = closeFrame(code, reason, this.toHypha);
    this.halt();
  }

  private halt(): void {
    this.halted = true;
    if (this.closeFrame && !this.to.destroyed && !this.to.writableEnded) this.to.write(this.closeFrame);
    this.closeFrame = undefined;
    if (this.waitingForDrain) return;
    this.from.resume(); // what still comes is read and dropped, so the endpoint's Close and FIN are seen
  }

  private write(bytes: Buffer): void {
    if (this.to.write(bytes) || this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.from.pause();
    this.to.once('drain', () => {
      this.waitingForDrain = false;
      this.from.resume();
    });
  }
}
