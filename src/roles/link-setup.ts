// What edge and gateway agree on for every link: the reserved path, the settings each announces, and the
// codec each link gets when both sides enabled it.
import type { CommonConfig } from '../config/load.js';
import type { LinkSettings } from '../link/handshake.js';
import type { LinkBlobPlane, LinkCodec, LinkSessionOptions, LinkState, LinkStats } from '../link/link-session.js';
import { publishLink, publishTracedFrame, type LinkInfo, type RoleName } from '../events.js';
import type { Established } from '../link/establish.js';
import { createLinkCodec } from '../codec/index.js';
import { PAYLOAD_CAPABILITY, PAYLOAD_V4_CAPABILITY } from './payload-setup.js';
import { isFastLink, linkEstimate } from './link-speed.js';
import { StreamDeflateCompressor, STREAM_DEFLATE_CAPABILITY, STREAM_DEFLATE_V2_CAPABILITY } from '../link/stream-deflate-compressor.js';
import { effectiveThroughputBytesPerSec } from '../payload/codec-policy.js';

/** The gateway path that carries links; every other path is hypha's. */
export const LINK_PATH = '/.hypha-accel/link';

export const CODEC_CAPABILITY = 'codec-v1';
export const PACING_CAPABILITY = 'pacing-v1';
/** Sessions outlive their link (DELIVERED frames, resume OPEN): docs/protocol.md. */
export const RESUME_CAPABILITY = 'resume-v1';
/** A stopping gateway says DRAIN before it ends the link: docs/protocol.md §9b. */
export const DRAIN_CAPABILITY = 'drain-v1';

export function linkSettings(config: CommonConfig): LinkSettings {
  return {
    windowBytes: config.windowBytes,
    maxFrameBytes: config.maxFrameBytes,
    capabilities: [
      ...(config.codec ? [CODEC_CAPABILITY] : []),
      ...(config.payload ? [PAYLOAD_CAPABILITY, PAYLOAD_V4_CAPABILITY] : []),
      ...(config.pacing ? [PACING_CAPABILITY] : []),
      ...(config.resumeGraceMs > 0 ? [RESUME_CAPABILITY] : []),
      DRAIN_CAPABILITY,
      ...(config.linkCompression !== 'off' ? [STREAM_DEFLATE_CAPABILITY, STREAM_DEFLATE_V2_CAPABILITY] : []),
    ],
  };
}

/** A factory of per-link codecs (fresh tables per link), or undefined when the link runs raw. */
export function linkCodecFactory(config: CommonConfig, negotiated: string[]): (() => LinkCodec) | undefined {
  if (!config.codec || !negotiated.includes(CODEC_CAPABILITY)) return undefined;
  // Only messages that fit one frame are transcoded (the peer cuts to our maxFrameBytes), so a declared
  // size above it is refused before the decoder allocates anything.
  return () => createLinkCodec({ maxMessageBytes: Math.min(config.maxMessageBytes, config.maxFrameBytes) });
}

/** Bytes handed to a link socket and not yet written before the scheduler waits (bounds head-of-line delay). */
const SEND_HIGH_WATER_BYTES = 256 * 1024;

export interface LinkSessionContext {
  role: RoleName;
  config: CommonConfig;
  linkStats: LinkStats;
  linkId: string;
  capabilities: string[];
  blobs?: LinkBlobPlane;
  /** The link runs over a Unix socket (link-speed.ts counts it as fast whatever its measured RTT). */
  sameHost?: boolean;
}

/** The session options both roles share; each adds its own stream-open handler. */
export function commonSessionOptions(context: LinkSessionContext): Omit<LinkSessionOptions, 'local' | 'peer'> {
  const { role, config, linkId, blobs } = context;
  const compressor = config.linkCompression !== 'off' && context.capabilities.includes(STREAM_DEFLATE_CAPABILITY)
    ? new StreamDeflateCompressor({
      mode: config.linkCompression, stats: context.linkStats, linkBytesPerUs: perState((state) => linkBytesPerUs(config, state)), maxLinkBytesPerUs: config.linkCompressionBelowMbps / 8,
      seqDelta: context.capabilities.includes(STREAM_DEFLATE_V2_CAPABILITY),
    })
    : undefined;
  const codecFastLink = perState((state) => isFastLink(linkEstimate(config, state), config.codecBypassMbps));
  return {
    stats: context.linkStats,
    maxMessageBytes: config.maxMessageBytes,
    pingIntervalMs: config.pingIntervalMs,
    keepaliveTimeoutMs: config.keepaliveTimeoutMs,
    sendHighWaterBytes: SEND_HIGH_WATER_BYTES,
    codec: linkCodecFactory(config, context.capabilities)?.(),
    // Measured on loopback: the codec costs more CPU per message than the bytes it saves are worth there
    // (docs/design.md). While the link's deflate stream compresses, it finds what the codec would remove:
    // on `slow` S1 the codec then saved 0-6 B per call for 70-120 µs of CPU per message per proxy.
    codecWanted: (state) => !codecFastLink(state) && !compressor?.active(),
    pacing: config.pacing && context.capabilities.includes(PACING_CAPABILITY),
    ...(context.sameHost ? { sameHost: true } : {}),
    ...(compressor ? { compressor } : {}),
    blobs,
    onRtt: (rttMs) => {
      publishLink({ role, linkId, event: 'rtt', rttMs });
    },
    onTracedFrame: (trace, frameBytes, flags, blob) => publishTracedFrame(blob ? { trace, frameBytes, flags, blob } : { trace, frameBytes, flags }),
  };
}

/**
 * `decide`, answered once per link state: a link session hands out the same state object until its round
 * trip or pacing window changes, and the codec and link compression ask for every message.
 */
function perState<T>(decide: (state: LinkState) => T): (state: LinkState) => T {
  let lastState: LinkState | undefined;
  let lastAnswer: T;
  return (state) => {
    if (state !== lastState) {
      lastAnswer = decide(state);
      lastState = state;
    }
    return lastAnswer;
  };
}

/** The link's throughput in bytes per µs as the compression policies estimate it (link-speed.ts). */
export function linkBytesPerUs(config: CommonConfig, state: LinkState): number | undefined {
  const estimate = linkEstimate(config, state);
  return estimate && effectiveThroughputBytesPerSec(estimate) / 1e6;
}

/** A live link as observability sees it (read at scrape time). */
export function describeLink(link: Established): LinkInfo {
  const pacing = link.session.pacingState;
  return {
    linkId: link.linkId,
    peerId: link.peerId,
    rttMs: link.session.rttMs,
    pacingWindowBytes: pacing?.windowBytes,
    inFlightBytes: pacing?.inFlightBytes,
    streams: link.session.streamCount,
    capabilities: link.capabilities,
    shm: link.shmPairId !== undefined,
    keyId: link.key.id,
  };
}
