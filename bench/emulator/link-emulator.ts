// A user-space shaping TCP relay on loopback: every connection through one emulator shares one
// Bottleneck per direction (up = toward the target, down = back), so the bandwidth is a shared uplink.
// Backpressure: a source socket is paused while its queue is over bound or its destination is full.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Bottleneck, END_OF_STREAM, type BottleneckFlow, type Piece } from './bottleneck.js';
import {
  FirstHeadScanner,
  isSwitchingProtocols,
  isWebSocketUpgradeRequest,
  offersDeflate,
  stripWebSocketExtensions,
} from './http-head.js';
import { profileShape, type LinkShape, type ProfileName } from './profiles.js';
import { resetOrDestroy } from '../../src/net/socket-reset.js';

/** Stand-in for the lead's registry (src/errors.ts does not exist yet). */
export class EmulatorError extends Error {
  constructor(
    readonly code: 'HYPHA_ACCEL_ERR_BENCH_EMULATOR_LISTEN' | 'HYPHA_ACCEL_ERR_BENCH_EMULATOR_CONFIG',
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }
}

export interface LinkEmulatorOptions {
  target: { host: string; port: number };
  /** A named profile, or an explicit shape (which wins). */
  profile?: ProfileName;
  shape?: Partial<LinkShape>;
  /** Remove Sec-WebSocket-Extensions from upgrade requests going upstream (no permessage-deflate). */
  stripWebSocketExtensions?: boolean;
  /** Listen port (default: any free port); always on 127.0.0.1. */
  listenPort?: number;
  now?: () => number;
  /** Pause a source while its destination socket buffers more than this. */
  destinationHighWaterBytes?: number;
}

export interface DirectionStats {
  bytesIn: number;
  bytesOut: number;
  queuedBytes: number;
  maxQueuedBytes: number;
}

export interface LinkEmulatorStats {
  up: DirectionStats;
  down: DirectionStats;
  connectionsTotal: number;
  connectionsOpen: number;
  upgradeRequests: number;
  upgradesOfferingDeflate: number;
  upgradesStripped: number;
  upgradesAccepted: number;
  upgradesNegotiatingDeflate: number;
}

export interface LinkEmulator {
  port: number;
  shape: LinkShape;
  stats(): LinkEmulatorStats;
  /** Holds every byte in both directions for `durationMs` (connections stay open, as TCP rides out a blip). */
  blackhole(durationMs: number): void;
  /** Resets every open connection (a hard link failure). */
  resetAll(): void;
  close(): Promise<void>;
}

const DEFAULT_DESTINATION_HIGH_WATER_BYTES = 1024 * 1024;

/** One direction of one connection: reads `source`, writes `destination` through the bottleneck. */
class RelayFlow implements BottleneckFlow {
  queuedBytes = 0;
  private pausedForQueue = false;
  private pausedForDestination = false;

  constructor(
    private readonly source: net.Socket,
    private readonly destination: net.Socket,
    private readonly bottleneck: Bottleneck,
    private readonly highWaterBytes: number,
  ) {
    destination.on('drain', () => {
      this.pausedForDestination = false;
      this.updateReading();
    });
  }

  send(piece: Piece): void {
    this.bottleneck.enqueue(this, piece);
    if (this.bottleneck.isOverBound(this)) {
      this.pausedForQueue = true;
      this.bottleneck.markWaiting(this);
    }
    this.updateReading();
  }

  deliver(pieces: Piece[]): void {
    if (this.destination.destroyed) return;
    if (pieces.length > 1) this.destination.cork();
    for (const piece of pieces) {
      if (piece === END_OF_STREAM) this.destination.end();
      else if (!this.destination.writableEnded) this.destination.write(piece);
    }
    if (pieces.length > 1) this.destination.uncork();
    if (this.destination.writableLength > this.highWaterBytes) {
      this.pausedForDestination = true;
      this.updateReading();
    }
  }

  onQueueDrained(): void {
    this.pausedForQueue = this.bottleneck.isOverBound(this);
    if (this.pausedForQueue) this.bottleneck.markWaiting(this);
    this.updateReading();
  }

  private updateReading(): void {
    if (this.source.destroyed) return;
    if (this.pausedForQueue || this.pausedForDestination) this.source.pause();
    else this.source.resume();
  }
}

export async function startLinkEmulator(options: LinkEmulatorOptions): Promise<LinkEmulator> {
  const shape: LinkShape = { ...profileShape(options.profile ?? 'lan'), ...options.shape };
  if (shape.oneWayDelayMs < 0 || shape.bandwidthBitsPerSec < 0 || shape.queueBytes <= 0) {
    throw new EmulatorError('HYPHA_ACCEL_ERR_BENCH_EMULATOR_CONFIG', `invalid link shape ${JSON.stringify(shape)}`);
  }
  const now = options.now ?? (() => performance.now());
  const highWaterBytes = options.destinationHighWaterBytes ?? DEFAULT_DESTINATION_HIGH_WATER_BYTES;
  const up = new Bottleneck({ ...shape, now });
  const down = new Bottleneck({ ...shape, now });
  const sockets = new Set<net.Socket>();
  const counters = {
    connectionsTotal: 0,
    upgradeRequests: 0,
    upgradesOfferingDeflate: 0,
    upgradesStripped: 0,
    upgradesAccepted: 0,
    upgradesNegotiatingDeflate: 0,
  };

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    counters.connectionsTotal += 1;
    const upstream = net.connect({ host: options.target.host, port: options.target.port, allowHalfOpen: true, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const upFlow = new RelayFlow(client, upstream, up, highWaterBytes);
    const downFlow = new RelayFlow(upstream, client, down, highWaterBytes);
    client.pause();
    upstream.once('connect', () => client.resume());

    const requestScanner = new FirstHeadScanner((head) => {
      if (!isWebSocketUpgradeRequest(head)) return head;
      counters.upgradeRequests += 1;
      if (offersDeflate(head)) counters.upgradesOfferingDeflate += 1;
      if (!options.stripWebSocketExtensions) return head;
      const stripped = stripWebSocketExtensions(head);
      if (stripped !== head) counters.upgradesStripped += 1;
      return stripped;
    });
    const responseScanner = new FirstHeadScanner();

    client.on('data', (chunk: Buffer) => {
      const { forward } = requestScanner.push(chunk);
      if (forward) upFlow.send(forward);
    });
    client.on('end', () => {
      const rest = requestScanner.flush();
      if (rest) upFlow.send(rest);
      upFlow.send(END_OF_STREAM);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!responseScanner.finished) {
        // Only observed, never held back: the response bytes go out as they came.
        const { head } = responseScanner.push(chunk);
        if (head && isSwitchingProtocols(head)) {
          counters.upgradesAccepted += 1;
          if (offersDeflate(head)) counters.upgradesNegotiatingDeflate += 1;
        }
      }
      downFlow.send(chunk);
    });
    upstream.on('end', () => downFlow.send(END_OF_STREAM));

    let torn = false;
    const teardown = (): void => {
      if (torn) return;
      torn = true;
      up.removeFlow(upFlow);
      down.removeFlow(downFlow);
      client.destroy();
      upstream.destroy();
    };
    const onClose = (hadError: boolean): void => {
      // A clean close of one side leaves the other direction's queued bytes to be delivered;
      // an error, or both sides gone, ends the connection and drops whatever is left.
      if (hadError || (client.destroyed && upstream.destroyed)) {
        sockets.delete(client);
        sockets.delete(upstream);
        teardown();
      }
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', onClose);
    upstream.on('close', onClose);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new EmulatorError('HYPHA_ACCEL_ERR_BENCH_EMULATOR_LISTEN', `emulator cannot listen: ${err.message}`)),
    );
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new EmulatorError('HYPHA_ACCEL_ERR_BENCH_EMULATOR_LISTEN', 'emulator has no TCP address');
  }

  return {
    port: address.port,
    shape,
    stats: () => {
      let connectionsOpen = 0;
      for (const socket of sockets) if (!socket.destroyed) connectionsOpen += 1;
      return { up: up.stats(), down: down.stats(), ...counters, connectionsOpen: Math.ceil(connectionsOpen / 2) };
    },
    blackhole: (durationMs: number) => {
      const untilMs = now() + durationMs;
      up.freezeUntil(untilMs);
      down.freezeUntil(untilMs);
    },
    resetAll: () => {
      for (const socket of sockets) resetOrDestroy(socket); // one whose FIN is under way cannot be reset
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      up.close();
      down.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
