// What an endpoint binding (net/bind-endpoint.ts) needs of the session it carries: a plain stream on one
// link (streamPort) or a session that outlives its link (resumable-session.ts).
import type { EndKindValue, TraceContext } from './frame.js';
import type { LinkSession } from './link-session.js';
import type { Stream, StreamHandler } from './stream.js';

export interface SessionPort {
  /** Binds the endpoint; events that arrived before are replayed in order. */
  bind(handler: StreamHandler): void;
  sendMessage(data: Uint8Array, isText: boolean, trace?: TraceContext): void;
  /** Ingress cut-through (Stream.takesPieces / sendPiece); absent where messages must be sent whole. */
  takesPieces?(frameBytes: number, final: boolean): boolean;
  sendPiece?(piece: Uint8Array, fin: boolean, trace?: TraceContext): void;
  /** The endpoint closed: mirror its code, reason and how its connection ended to the far side. */
  close(code: number, reason: string, endKind: EndKindValue): void;
  /** The far endpoint has closed. */
  readonly remoteClosed: boolean;
  /** Grows with every message moved either way (a drain closes a session when it stops growing). */
  readonly messagesMoved: number;
}

/** A session that lives and dies with one stream on one link. */
export function streamPort(stream: Stream, link: LinkSession): SessionPort {
  return {
    bind: (handler) => stream.bind(handler),
    sendMessage: (data, isText, trace) => stream.sendMessage(data, isText, trace),
    takesPieces: (frameBytes, final) => stream.takesPieces(frameBytes, final),
    sendPiece: (piece, fin, trace) => stream.sendPiece(piece, fin, trace),
    close: (code, reason, endKind) => link.closeStream(stream, code, reason, endKind),
    get remoteClosed() {
      return stream.remoteClosed;
    },
    get messagesMoved() {
      return stream.nextSendSeq + stream.nextRecvSeq;
    },
  };
}
