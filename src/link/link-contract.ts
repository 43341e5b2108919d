// What a link session is given and what it reports: its transport, codec and payload plane as it sees
// them, its options, the counters all links of a role share, and its path state. Types only, besides
// newLinkStats; the session itself is link-session.ts.
import type { BlobOutcome } from '../events.js';
import type { Clock } from './clock.js';
import type { FrameHeader, TraceContext } from './frame.js';
import type { LinkSettings } from './handshake.js';
import { newFrameKindStats, type FrameKindStats, type LinkCompressionStats, type LinkCompressor } from './link-compressor.js';
import type { AccelError } from '../errors.js';
import type { Stream } from './stream.js';

/** What a link needs of its transport (a WebSocket in production, an in-memory pipe in tests). */
export interface LinkTransport {
  send(frame: Buffer, onWritten: (error?: Error) => void): void;
  /** Optional: sends a frame given as header and payload view without joining them first (batching transports). */
  sendParts?(header: FrameHeader, payload: Uint8Array, onWritten: (error?: Error) => void): void;
  close(code: number, reason: string): void;
}

/** Transcodes whole messages at send time (in link order) and back at receive time. Optional. */
export interface LinkCodec {
  encode(message: Uint8Array, isText: boolean): Uint8Array | null;
  decode(compact: Uint8Array, isText: boolean): Uint8Array;
}

/** Cumulative counters, shared by all links of a role so they survive link churn. */
export interface LinkStats extends LinkCompressionStats, FrameKindStats {
  framesSent: number;
  frameBytesSent: number;
  framesReceived: number;
  frameBytesReceived: number;
  /** Whole messages offered to the codec, their original bytes, and the bytes actually sent for them. */
  messagesTranscoded: number;
  transcodeBytesIn: number;
  transcodeBytesOut: number;
  /** Messages the codec declined (sent raw). */
  transcodeFallbacks: number;
  /** Large messages sent as blobs, their original bytes, and the payload-plane bytes sent for all blobs. */
  blobsSent: number;
  blobBytesIn: number;
  payloadBytesSent: number;
}

/** What a link knows of its path: the round trip (pacing's smallest of the last minutes, else the last PING) and its pacing window. */
export interface LinkState {
  rttMs: number | undefined;
  pacingWindowBytes: number | undefined;
  /** The link cannot leave this host (a Unix socket): no network between the two sides. */
  sameHost?: boolean;
}

export function newLinkStats(): LinkStats {
  return { framesSent: 0, frameBytesSent: 0, framesReceived: 0, frameBytesReceived: 0, messagesTranscoded: 0, transcodeBytesIn: 0, transcodeBytesOut: 0, transcodeFallbacks: 0, blobsSent: 0, blobBytesIn: 0, payloadBytesSent: 0, linkMessagesCompressed: 0, linkCompressRawBytes: 0, linkCompressWireBytes: 0, ...newFrameKindStats() };
}

/** The payload plane as a link sees it (one endpoint per link, sharing the pair's stores). Optional. */
export interface LinkBlobPlane {
  /** Binary messages of minBlobBytes..maxBlobBytes (and larger than one frame) travel as blobs. */
  minBlobBytes: number;
  maxBlobBytes: number;
  /**
   * Called once by the link with the function that emits payload frames to the peer, and one that tells
   * the link's current round trip and pacing window (for the compression policy).
   */
  attach(emitFrame: (frame: Uint8Array) => void, linkState: () => LinkState): void;
  /** False while large messages should go as plain fragments instead (asked per message). */
  wanted(): boolean;
  sendBlob(bytes: Uint8Array, outcome?: BlobOutcome): Promise<number>;
  takeBlob(blobId: number): Promise<Uint8Array>;
  /** A PAYLOAD frame from the peer; throws on a malformed one (the link then fails with BAD_FRAME). */
  receiveFrame(frame: Uint8Array): Promise<void>;
  close(reason?: string): void;
}

export interface LinkSessionOptions {
  stats?: LinkStats;
  /** Large messages move through this plane; its frames are emitted with sendPayloadFrame. */
  blobs?: LinkBlobPlane;
  local: LinkSettings;
  peer: LinkSettings;
  maxMessageBytes: number;
  pingIntervalMs: number;
  keepaliveTimeoutMs: number;
  /** Bytes handed to the transport and not yet written before the scheduler waits. */
  sendHighWaterBytes: number;
  codec?: LinkCodec;
  /** Compresses whole link messages (link-compressor.ts); establish wraps the transport with it. */
  compressor?: LinkCompressor;
  /** Asked per whole message when a codec is set: false sends it raw (the codec steps aside on fast links). */
  codecWanted?: (state: LinkState) => boolean;
  /** Both sides speak ACK frames: pace sending to the measured bandwidth-delay product. */
  pacing?: boolean;
  /** The transport cannot leave this host (a Unix socket); reported in linkState(). */
  sameHost?: boolean;
  clock?: Clock;
  /** Called when the peer opens a stream (gateway side). */
  onStreamOpen?: (stream: Stream, open: Uint8Array) => void;
  /** Called for OPEN_OK / OPEN_FAIL on a stream this side opened (edge side). */
  onStreamOpenReply?: (stream: Stream, ok: boolean, payload: Uint8Array) => void;
  onRtt?: (rttMs: number) => void;
  /** The peer sent DRAIN (capability drain-v1, docs/protocol.md §9b): open no new streams here. Absent: DRAIN is a protocol error. */
  onDrain?: (drainMs: number, reason: string) => void;
  /** Called for each frame that carries trace context (a sampled call or reply: tracing), as it is sent. */
  onTracedFrame?: (trace: TraceContext, frameBytes: number, flags: number, blob: BlobOutcome | undefined) => void;
  onClosed?: (error: AccelError | undefined) => void;
}
