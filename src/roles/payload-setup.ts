// Wires the payload plane into links: one PayloadPair per peer process (its chunk store and its belief
// about what the peer holds survive link churn), one PayloadEndpoint per link. Both sides derive the
// chunk-hash seed from the shared secret and both instance ids, so they agree without sending it.
import { createHmac } from 'node:crypto';
import type { CommonConfig } from '../config/load.js';
import type { LinkBlobPlane, LinkState } from '../link/link-session.js';
import { PayloadEndpoint, PayloadPair, defaultPayloadOptions, type ShmChannel } from '../payload/index.js';
import { effectiveThroughputBytesPerSec, type LinkEstimate } from '../payload/codec-policy.js';
import type { Logger } from '../log.js';

export const PAYLOAD_CAPABILITY = 'payload-v2';

// Chunks and manifests must fit a link frame (2 x maxFrameBytes + 64 accepted). The plane's 4/16/64 KiB
// chunking re-finds most of a resent array in shifted 256 KiB message_cache slices (docs/payload.md); blobs
// up to 16 MiB keep the worst-case manifest (one 21-byte entry per 4 KiB) under 90 KB. Larger messages
// travel as raw fragments.
const CHUNKING = { minChunkBytes: 4 * 1024, avgChunkBytes: 16 * 1024, maxChunkBytes: 64 * 1024 };
const MAX_BLOB_BYTES = 16 * 1024 * 1024;
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
  planeFor(edgeId: string, gatewayId: string, peerId: string, shm?: ShmChannel): LinkBlobPlane {
    const entry = this.entryFor(edgeId, gatewayId, peerId);
    entry.links++;
    if (shm) this.shmLinks++;
    let endpoint: PayloadEndpoint | undefined;
    let linkState: (() => LinkState) | undefined;
    let released = false;
    return {
      minBlobBytes: this.config.payloadMinBytes,
      maxBlobBytes: Math.min(MAX_BLOB_BYTES, this.config.maxMessageBytes),
      attach: (emitFrame, state) => {
        endpoint = new PayloadEndpoint({ pair: entry.pair, emitFrame, ...(shm ? { shm } : {}) });
        linkState = state;
      },
      // Shared memory always pays; over a network the plane pays unless the link is faster than its CPU.
      wanted: () => shm !== undefined || !this.isFastLink(linkEstimateFor(this.config, linkState?.())),
      sendBlob: (bytes) => {
        const estimate = linkEstimateFor(this.config, linkState?.());
        if (estimate) endpoint!.setLinkEstimate(estimate);
        return endpoint!.sendBlob(bytes);
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

  /**
   * A link estimated at payloadBypassMbps or more: chunking, hashing and the compression trial (a few
   * hundred MB/s on one core) would cost more time than the bytes they save. Unknown links are not fast.
   */
  private isFastLink(estimate: LinkEstimate | undefined): boolean {
    const bypassMbps = this.config.payloadBypassMbps;
    if (bypassMbps <= 0 || !estimate) return false;
    return effectiveThroughputBytesPerSec(estimate) * 8 >= bypassMbps * 1e6;
  }

  /** Payload counters summed over every pair so far, dropped ones included (see PayloadMetrics); `pairs` is the live count. */
  metrics(): Record<string, number> {
    const sum: Record<string, number> = { ...this.retired, pairs: this.pairs.size, shmLinks: this.shmLinks };
    for (const entry of this.pairs.values()) addCounters(sum, entry.pair.metrics.snapshot());
    return sum;
  }

  private entryFor(edgeId: string, gatewayId: string, peerId: string): PairEntry {
    const existing = this.pairs.get(peerId);
    if (existing) {
      clearTimeout(existing.idleTimer);
      return existing;
    }
    const seed = createHmac('sha256', this.secret).update(`hypha-accel/payload-seed\n${edgeId}\n${gatewayId}`).digest();
    const pair = new PayloadPair({
      chunking: CHUNKING,
      hashSeed: seed.readBigUInt64BE(0),
      storeBytes: this.config.payloadStoreBytes,
      peerStoreBytes: this.config.payloadStoreBytes,
      maxBlobBytes: MAX_BLOB_BYTES,
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

/**
 * The link as both compression policies see it (payload units here, small messages in link-setup.ts):
 * the operator's hint (linkBandwidthMbps; 0 means 1 Gbit/s), capped by what the link's window allows per
 * round trip: the pacing window (about twice the measured bandwidth-delay product) when the link paces,
 * else the stream window. A far link (long round trip) thus compresses; a local one does not.
 */
export function linkEstimateFor(config: CommonConfig, state: LinkState | undefined): LinkEstimate | undefined {
  if (state?.rttMs === undefined) return undefined;
  const mbps = config.linkBandwidthMbps;
  return {
    rttMs: state.rttMs,
    throughputBytesPerSec: mbps > 0 ? (mbps * 1e6) / 8 : defaultPayloadOptions.initialLinkEstimate.throughputBytesPerSec,
    windowBytes: state.pacingWindowBytes ?? config.windowBytes,
  };
}
