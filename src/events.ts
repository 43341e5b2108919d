// The event seam between the core and observability: named diagnostics_channel channels, below every
// layer that publishes (net/, roles/, edge/, gateway/). The core only publishes (cheaply: nothing is built
// unless someone subscribes); metrics, tracing and the frame recorder (src/observe) subscribe.
import diagnostics from 'node:diagnostics_channel';

export type RoleName = 'edge' | 'gateway';
/** up = client toward hypha, down = hypha toward client. */
export type Direction = 'up' | 'down';

export interface MessageEvent {
  role: RoleName;
  sessionId: string;
  direction: Direction;
  /** in = the message entered this proxy from an endpoint; out = it left this proxy toward an endpoint. */
  hop: 'in' | 'out';
  isBinary: boolean;
  data: Buffer;
  /**
   * W3C trace context of the message on the link. hop out: what the link frame carried (the parent of
   * this side's span). hop in: a subscriber (tracing) may set it; the proxy then sends it in the frame header.
   */
  trace?: TraceParent;
  /**
   * Set when `data` is only the head of the message (at least its first 4 KiB, or all of it): a large
   * message passed on piece by piece is never joined for observers. Its length in bytes (for a message the
   * client sent in several WebSocket frames, a lower bound: the length of its first frame).
   */
  bytes?: number;
  /** Set for a plain client's message relayed by the gateway without a link (session kind passthrough). */
  passthrough?: true;
}

/** A message's length, whether its event carries all of it or its head. */
export function messageBytes(event: MessageEvent): number {
  return event.bytes ?? event.data.length;
}

/** The link frame header's trace context (docs/protocol.md §2): 16-byte trace id, 8-byte span id, flags. */
export interface TraceParent {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceFlags: number;
}

export interface SessionEvent {
  role: RoleName;
  sessionId: string;
  event: 'open' | 'close' | 'refused';
  path?: string;
  code?: number;
  reason?: string;
  status?: number;
  /** True for a session carried over a link (kind `edge`); false for a plain client passed through the gateway. */
  viaLink: boolean;
}

export interface LinkEvent {
  role: RoleName;
  linkId: string;
  /**
   * drain: the gateway instance said DRAIN on this link (sent by the gateway, received by the edge; `streams`:
   * sessions it carried then). drain-close: the edge closed one of that instance's sessions with 1001
   * (`message`: `quiet` when nothing moved on it, `deadline` when the gateway's drain time ran out).
   * resume: the edge took a session that had lost its link back over this link (with `errorCode` when the
   * gateway refused: the session ended).
   */
  event: 'up' | 'down' | 'rtt' | 'refused' | 'drain' | 'drain-close' | 'resume';
  rttMs?: number;
  errorCode?: string;
  message?: string;
  streams?: number;
}

/** What a role tells observability about one live link (read at scrape time, never on the hot path). */
export interface LinkInfo {
  linkId: string;
  peerId: string;
  rttMs: number | undefined;
  pacingWindowBytes: number | undefined;
  inFlightBytes: number | undefined;
  streams: number;
  capabilities: string[];
  shm: boolean;
  /** Id of the link key the handshake used (docs/security.md, rotating the link key). */
  keyId: string;
}

/**
 * How one blob crossed the plane, filled in by the payload plane's sendBlob only when the caller passes it (a traced message):
 * `rawBytes` the blob, `dedupedBytes` its chunks the peer already held (sent as references),
 * `wireBytes` the bodies of its new chunks as sent (after compression; 0 through shared memory).
 */
export interface BlobOutcome {
  rawBytes: number;
  dedupedBytes: number;
  wireBytes: number;
  shm: boolean;
}

/**
 * A link frame that carries trace context (only a sampled call or its reply does), as its proxy sends it:
 * `trace` is the very object a tracing subscriber set on the message event, so it finds its span by identity.
 */
export interface TracedFrameEvent {
  trace: TraceParent;
  /** Header and payload as put on the link (after the codec, before link compression). */
  frameBytes: number;
  /** The frame's DATA flags (docs/protocol.md §2): CODEC = compact form, BLOB = bytes on the payload plane. */
  flags: number;
  /** For a BLOB reference: how the sending proxy's plane moved the message (only the sender knows). */
  blob?: BlobOutcome;
}

export const channels = {
  /** Every message through the pair; a large one passed on piece by piece comes with its head only (`bytes`). */
  message: diagnostics.channel('hypha-accel:message'),
  /**
   * Every message with all of its bytes (the frame recorder). While this has subscribers large messages are
   * kept whole on their way through (no ingress cut-through), so observing them costs a copy.
   */
  wholeMessage: diagnostics.channel('hypha-accel:whole-message'),
  session: diagnostics.channel('hypha-accel:session'),
  link: diagnostics.channel('hypha-accel:link'),
  tracedFrame: diagnostics.channel('hypha-accel:traced-frame'),
};

/** True while anyone observes messages (build events only then). */
export function observingMessages(): boolean {
  return channels.message.hasSubscribers || channels.wholeMessage.hasSubscribers;
}

export function publishMessage(event: MessageEvent): void {
  if (channels.message.hasSubscribers) channels.message.publish(event);
  if (event.bytes === undefined && channels.wholeMessage.hasSubscribers) channels.wholeMessage.publish(event);
}

export function publishSession(event: SessionEvent): void {
  if (channels.session.hasSubscribers) channels.session.publish(event);
}

export function publishLink(event: LinkEvent): void {
  if (channels.link.hasSubscribers) channels.link.publish(event);
}

export function publishTracedFrame(event: TracedFrameEvent): void {
  if (channels.tracedFrame.hasSubscribers) channels.tracedFrame.publish(event);
}
