// Wires the payload plane into links: one PayloadPair per peer process (its chunk store and its belief
// about what the peer holds survive link churn), one PayloadEndpoint per link. Both sides derive the
// chunk-hash seed from the shared secret and both instance ids, so they agree without sending it.
import { createHmac } from 'node:crypto';
import type { CommonConfig } from '../config/load.js';
import type { LinkBlobPlane, LinkState } from '../link/link-session.js';
import { PayloadEndpoint, PayloadPair, type ShmChannel } from '../payload/index.js';
import type { LinkEstimate } from '../payload/codec-policy.js';
import { isFastLink, linkEstimate } from './link-speed.js';
import type { Logger } from '../log.js';

export const PAYLOAD_CAPABILITY = 'payload-v3';
/** v3 plus aligned splits and masked planes (docs/payload.md): announced beside v3; used toward peers that announce it. */
export const PAYLOAD_V4_CAPABILITY = 'payload-v4';

// Every payload frame (a chunk with its headers, a manifest) fits maxFrameBytes of both sides. The plane's
// 4/16/64 KiB chunking re-finds most of a resent array in shifted 256 KiB message_cache slices
// (docs/payload.md); smaller frame limits scale it down. A blob may have as many chunks as one manifest
// frame can list (one 21-byte entry per chunk, at least minChunkBytes each), and at most 16 MiB; larger
// messages travel as raw fragments.
const MAX_BLOB_BYTES = 16 * 1024 * 1024;
/** Link frame header, trace context and the payload frame's own header, with room to spare. */
const PAYLOAD_FRAME_OVERHEAD_BYTES = 128;
const MANIFEST_ENTRY_BYTES = 21;

export interface PayloadLimits {
  chunking: { minChunkBytes: number; avgChunkBytes: number; maxChunkBytes: number };
  maxBlobBytes: number;
}

/** Chunk sizes and the largest blob such that no payload frame exceeds frameBytes (>= 16 KiB). */
export function payloadLimits(frameBytes: number): PayloadLimits {
  const maxChunkBytes = Math.min(64 * 1024, frameBytes - PAYLOAD_FRAME_OVERHEAD_BYTES);
  const avgChunkBytes = Math.min(16 * 1024, 2 ** Math.floor(Math.log2(maxChunkBytes / 2)));
  const minChunkBytes = Math.min(4 * 1024, avgChunkBytes / 2);
  const manifestEntries = Math.floor((frameBytes - PAYLOAD_FRAME_OVERHEAD_BYTES) / MANIFEST_ENTRY_BYTES);
  return { chunking: { minChunkBytes, avgChunkBytes, maxChunkBytes }, maxBlobBytes: Math.min(MAX_BLOB_BYTES, manifestEntries * minChunkBytes) };
}
const IDLE_PAIR_MS = 10 * 60 * 1000;

interface PairEntry {
  pair: PayloadPair;
  links: number;
  idleTimer: NodeJS.Timeout | undefined;
}

export class PayloadPairs {
  private readonly pairs = new Map<string, PairEntry>();
  /** Links that came up with shared memory negotiated (cumulative). */
  private shmLinks = 0;
  /** Counters of pairs already dropped, so the sums in metrics() never go down. */
  private readonly retired: Record<string, number> = {};

  constructor(private readonly config: CommonConfig, private readonly secret: Buffer, private readonly log: Logger) {}

  /**
   * A plane for one new link between edge `edgeId` and gateway `gatewayId`; `peerId` is the other side.
   * `shm`: the pair's segments when this link's handshake proved shared memory (both sides then have it).
   */
  planeFor(edgeId: string, gatewayId: string, peerId: string, peerMaxFrameBytes: number, shm?: ShmChannel, linkKey?: Buffer, peer: { payloadV4?: boolean } = {}): LinkBlobPlane {
    const limits = payloadLimits(Math.min(this.config.maxFrameBytes, peerMaxFrameBytes));
    const entry = this.entryFor(edgeId, gatewayId, peerId, limits, linkKey ?? this.secret, peer.payloadV4 === true);
    entry.links++;
    if (shm) this.shmLinks++;
    let endpoint: PayloadEndpoint | undefined;
    let linkState: (() => LinkState) | undefined;
    let released = false;
    return {
      minBlobBytes: this.config.payloadMinBytes,
      maxBlobBytes: Math.min(entry.pair.options.maxBlobBytes, this.config.maxMessageBytes),
      attach: (emitFrame, state) => {
        endpoint = new PayloadEndpoint({ pair: entry.pair, emitFrame, ...(shm ? { shm } : {}) });
        linkState = state;
      },
      // Shared memory always pays; over a network the plane pays unless the link is faster than its CPU.
      wanted: () => shm !== undefined || !this.isFastLink(this.linkEstimate(linkState?.())),
      sendBlob: (bytes, outcome) => {
        const estimate = this.linkEstimate(linkState?.());
        if (estimate) endpoint!.setLinkEstimate(estimate);
        return endpoint!.sendBlob(bytes, outcome);
      },
      takeBlob: (blobId) => endpoint!.takeBlob(blobId),
      receiveFrame: (frame) => endpoint!.receiveFrame(frame),
      close: (reason) => {
        endpoint?.close(reason);
        if (released) return;
        released = true;
        if (--entry.links === 0) entry.idleTimer = setTimeout(() => void this.drop(peerId), IDLE_PAIR_MS).unref();
      },
    };
  }

  /** The link's estimate for the compression policy (src/roles/link-speed.ts). */
  private linkEstimate(state: LinkState | undefined): LinkEstimate | undefined {
    return linkEstimate(this.config, state);
  }

  /**
   * A link estimated at payloadBypassMbps or more: chunking, hashing and the compression trial (a few
   * hundred MB/s on one core) would cost more time than the bytes they save. Unknown links are not fast.
   */
  private isFastLink(estimate: LinkEstimate | undefined): boolean {
    return isFastLink(estimate, this.config.payloadBypassMbps);
  }

  /** Payload counters summed over every pair so far, dropped ones included (see PayloadMetrics); `pairs` is the live count. */
  metrics(): Record<string, number> {
    const sum: Record<string, number> = { ...this.retired, pairs: this.pairs.size, shmLinks: this.shmLinks };
    for (const entry of this.pairs.values()) addCounters(sum, entry.pair.metrics.snapshot());
    return sum;
  }

  private entryFor(edgeId: string, gatewayId: string, peerId: string, limits: PayloadLimits, secret: Buffer, payloadV4: boolean): PairEntry {
    const existing = this.pairs.get(peerId);
    if (existing) {
      clearTimeout(existing.idleTimer);
      return existing;
    }
    // Keyed with the pair's first link key: both sides used it.
    const seed = createHmac('sha256', secret).update(`hypha-accel/payload-seed\n${edgeId}\n${gatewayId}`).digest();
    const pair = new PayloadPair({
      chunking: limits.chunking,
      hashSeed: seed.readBigUInt64BE(0),
      storeBytes: this.config.payloadStoreBytes,
      peerStoreBytes: this.config.payloadStoreBytes,
      maxBlobBytes: limits.maxBlobBytes,
      unitPieceBytes: limits.chunking.maxChunkBytes, // a UNIT piece's header is a CHUNK's size: it fits a frame too
      payloadV4, // the peer process announced payload-v4 (the same on all its links)
    });
    const entry: PairEntry = { pair, links: 0, idleTimer: undefined };
    this.pairs.set(peerId, entry);
    this.log.info({ peer: peerId, storeBytes: this.config.payloadStoreBytes }, 'payload pair created');
    return entry;
  }

  private async drop(peerId: string): Promise<void> {
    const entry = this.pairs.get(peerId);
    if (!entry || entry.links > 0) return;
    this.pairs.delete(peerId);
    addCounters(this.retired, entry.pair.metrics.snapshot(), false);
    await entry.pair.close();
  }

  async close(): Promise<void> {
    const entries = [...this.pairs.values()];
    this.pairs.clear();
    for (const entry of entries) clearTimeout(entry.idleTimer);
    await Promise.all(entries.map((entry) => entry.pair.close()));
  }
}

/** Per-pair gauges (the latest compression decision): the largest over live pairs, never summed or retired. */
const PAIR_GAUGES = new Set(['policyLinkBytesPerUs', 'policySavedBytesPerCpuUs', 'unitLevel']);

function addCounters(into: Record<string, number>, snapshot: Record<string, number>, withGauges = true): void {
  for (const [key, value] of Object.entries(snapshot)) {
    if (key.endsWith('Ratio')) continue;
    if (PAIR_GAUGES.has(key)) {
      if (withGauges) into[key] = Math.max(into[key] ?? 0, value);
      continue;
    }
    into[key] = (into[key] ?? 0) + value;
  }
}
