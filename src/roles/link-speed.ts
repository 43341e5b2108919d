// What a link's speed is taken to be, for the stages that step aside on fast links (the payload plane,
// the codec): the operator's hint (linkBandwidthMbps; 0 means 1 Gbit/s), capped by what the link's
// window allows per round trip. A far link (long round trip) is thus slow; a local one fast.
import type { CommonConfig } from '../config/load.js';
import type { LinkState } from '../link/link-session.js';
import { defaultPayloadOptions } from '../payload/index.js';
import { effectiveThroughputBytesPerSec, type LinkEstimate } from '../payload/codec-policy.js';

/**
 * The estimate from a link's state: pacing window (about twice the measured BDP) when it paces, else the
 * stream window. A link that cannot leave the host (a Unix socket) has no network round trip: its measured
 * RTT is only how busy the host's cores are (seen at 5-10 ms on a loaded 2-core machine, which made a
 * loopback link look slow and put 16 MiB arrays through the payload plane at ~100 ms per MB), so it counts
 * as 0 and the link runs at the operator's hint (or 1 Gbit/s).
 */
export function linkEstimate(config: CommonConfig, state: LinkState | undefined): LinkEstimate | undefined {
  if (state?.rttMs === undefined && !state?.sameHost) return undefined;
  const mbps = config.linkBandwidthMbps;
  return {
    rttMs: state.sameHost ? 0 : state.rttMs!,
    throughputBytesPerSec: mbps > 0 ? (mbps * 1e6) / 8 : defaultPayloadOptions.initialLinkEstimate.throughputBytesPerSec,
    windowBytes: state.pacingWindowBytes ?? config.windowBytes,
  };
}

/** True when the link is estimated at `thresholdMbps` or more; never for 0 or an unknown link. */
export function isFastLink(estimate: LinkEstimate | undefined, thresholdMbps: number): boolean {
  if (thresholdMbps <= 0 || !estimate) return false;
  return effectiveThroughputBytesPerSec(estimate) * 8 >= thresholdMbps * 1e6;
}
