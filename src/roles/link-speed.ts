// What a link's speed is taken to be, for the stages that step aside on fast links (the payload plane,
// the codec): the operator's hint (linkBandwidthMbps; 0 means 1 Gbit/s), capped by what the link's
// window allows per round trip. A far link (long round trip) is thus slow; a local one fast.
import type { CommonConfig } from '../config/load.js';
import type { LinkState } from '../link/link-session.js';
import { defaultPayloadOptions } from '../payload/index.js';
import { effectiveThroughputBytesPerSec, type LinkEstimate } from '../payload/codec-policy.js';

/** The estimate from a link's state: pacing window (about twice the measured BDP) when it paces, else the stream window. */
export function linkEstimate(config: CommonConfig, state: LinkState | undefined): LinkEstimate | undefined {
  if (state?.rttMs === undefined) return undefined;
  const mbps = config.linkBandwidthMbps;
  return {
    rttMs: state.rttMs,
    throughputBytesPerSec: mbps > 0 ? (mbps * 1e6) / 8 : defaultPayloadOptions.initialLinkEstimate.throughputBytesPerSec,
    windowBytes: state.pacingWindowBytes ?? config.windowBytes,
  };
}

/** True when the link is estimated at `thresholdMbps` or more; never for 0 or an unknown link. */
export function isFastLink(estimate: LinkEstimate | undefined, thresholdMbps: number): boolean {
  if (thresholdMbps <= 0 || !estimate) return false;
  return effectiveThroughputBytesPerSec(estimate) * 8 >= thresholdMbps * 1e6;
}
