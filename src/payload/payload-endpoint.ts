// The seam the link integrates: one PayloadEndpoint per link (or per pair) on each side, borrowing
// the pair's PayloadPair. Outgoing frames go to `emitFrame`; incoming payload frames go to
// receiveFrame(); blob ids travel inside the (codec-encoded) message that carries the blob.

import { PayloadError, PayloadErrorCode } from './payload-error.js';
import type { PayloadPair } from './payload-pair.js';
import { PayloadReceiver } from './payload-receiver.js';
import { PayloadSender, type EmitFrame, type YieldTurn } from './payload-sender.js';
import type { BlobOutcome } from '../events.js';
import { decodePayloadFrame, FrameKind } from './payload-wire.js';
import type { LinkEstimate } from './codec-policy.js';
import type { ShmChannel } from './shm-segments.js';

export interface PayloadEndpointOptions {
  pair: PayloadPair;
  /** Sends one payload frame to the peer endpoint. Frames of one blob must arrive in emission order. */
  emitFrame: EmitFrame;
  /** Set only when the shared-memory probe succeeded for this pair. */
  shm?: ShmChannel;
  /** How long work yields between slices (default setImmediate); tests may inject their own. */
  yieldTurn?: YieldTurn;
}

const setImmediateTurn: YieldTurn = () => new Promise((resolve) => setImmediate(resolve));

export class PayloadEndpoint {
  readonly sender: PayloadSender;
  readonly receiver: PayloadReceiver;
  private readonly pair: PayloadPair;
  private closed = false;

  constructor(options: PayloadEndpointOptions) {
    this.pair = options.pair;
    const emit: EmitFrame = (frame) => {
      if (!this.closed) options.emitFrame(frame);
    };
    const yieldTurn = options.yieldTurn ?? setImmediateTurn;
    this.sender = new PayloadSender(options.pair, emit, yieldTurn, options.shm);
    this.receiver = new PayloadReceiver(options.pair, emit, options.shm, yieldTurn);
  }

  /** Moves a blob to the peer; resolves with the id to put in the message once its frames are emitted. */
  sendBlob(bytes: Uint8Array, outcome?: BlobOutcome): Promise<number> {
    if (this.closed) return Promise.reject(new PayloadError(PayloadErrorCode.closed, 'payload endpoint closed'));
    return this.sender.sendBlob(bytes, outcome);
  }

  /** The exact bytes of a blob the peer sent (waits for it); rejects with a coded PayloadError. */
  takeBlob(blobId: number): Promise<Uint8Array> {
    return this.receiver.takeBlob(blobId);
  }

  /** Feed the link's measured throughput and RTT to the codec policy. */
  setLinkEstimate(link: LinkEstimate): void {
    this.sender.setLinkEstimate(link);
  }

  /**
   * Handles one payload frame from the peer. Throws PayloadError(FRAME_INVALID) for a malformed frame
   * (the link should treat that as a bad frame); the returned promise settles when any async follow-up
   * (NACK answers, shm reads) is done, and never rejects.
   */
  receiveFrame(frame: Uint8Array): Promise<void> {
    if (this.closed) return Promise.resolve();
    const decoded = decodePayloadFrame(frame, this.pair.wireLimits);
    switch (decoded.kind) {
      case FrameKind.manifest:
        this.receiver.handleManifest(decoded);
        break;
      case FrameKind.chunk:
        this.receiver.handleChunk(decoded);
        break;
      case FrameKind.unit:
        this.receiver.handleUnitPiece(decoded);
        break;
      case FrameKind.fail:
        this.receiver.handleFail(decoded.blobId, decoded.code);
        break;
      case FrameKind.shm:
        return this.receiver.handleShm(decoded);
      case FrameKind.ack:
        this.sender.handleAck(decoded.blobId);
        break;
      case FrameKind.nack:
        return this.sender.handleNack(decoded.blobId, decoded.hashes).catch(() => undefined);
    }
    return Promise.resolve();
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver.close(reason);
    this.sender.close();
  }
}
