// The payloads of OPEN / OPEN_OK / OPEN_FAIL: what the gateway needs to open the upstream WebSocket
// exactly as the client asked for it, and what the edge needs to answer the client's upgrade.
import { AccelError } from '../errors.js';
import { decodeJson, encodeJson } from './frame.js';

export interface SessionOpen {
  sessionId: string;
  /** Path and query exactly as the client requested them, e.g. "/ws". */
  path: string;
  /** End-to-end request headers (hop-by-hop and WebSocket handshake headers removed). */
  headers: Record<string, string | string[]>;
  /** Subprotocols the client offered, in order. */
  protocols: string[];
  /** The client's address as the edge saw it (logs and traces only). */
  clientAddress: string;
  /** Set when the OPEN takes back a session whose link died: the messages the edge's client was handed. */
  resume?: { deliveredCount: number };
}

export interface SessionOpenReply {
  /** The subprotocol the server chose, '' for none. */
  protocol: string;
  /** Answer to a resume: the messages hypha (the gateway's upstream) was handed. */
  deliveredCount?: number;
}

export interface SessionOpenFailure {
  /** HTTP status to answer the client's upgrade with. */
  status: number;
  message: string;
  code?: string;
}

export const encodeSessionOpen = (open: SessionOpen): Buffer => encodeJson(open);
export const encodeOpenReply = (reply: SessionOpenReply): Buffer => encodeJson(reply);
export const encodeOpenFailure = (failure: SessionOpenFailure): Buffer => encodeJson(failure);

export function decodeSessionOpen(payload: Uint8Array): SessionOpen {
  const body = decodeJson(payload);
  if (typeof body.sessionId !== 'string' || typeof body.path !== 'string' || !body.path.startsWith('/')) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'OPEN needs a sessionId and a path starting with /');
  }
  const headers = body.headers && typeof body.headers === 'object' && !Array.isArray(body.headers) ? (body.headers as Record<string, string | string[]>) : {};
  const protocols = Array.isArray(body.protocols) ? body.protocols.filter((p): p is string => typeof p === 'string') : [];
  const resume = body.resume as { deliveredCount?: unknown } | undefined;
  const deliveredCount = resume && typeof resume === 'object' ? resume.deliveredCount : undefined;
  if (resume !== undefined && !(typeof deliveredCount === 'number' && Number.isSafeInteger(deliveredCount) && deliveredCount >= 0)) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'OPEN resume needs a non-negative deliveredCount');
  }
  return {
    sessionId: body.sessionId, path: body.path, headers, protocols, clientAddress: String(body.clientAddress ?? ''),
    ...(resume !== undefined ? { resume: { deliveredCount: deliveredCount as number } } : {}),
  };
}

export function decodeOpenReply(payload: Uint8Array): SessionOpenReply {
  const body = decodeJson(payload);
  const delivered = body.deliveredCount;
  return {
    protocol: typeof body.protocol === 'string' ? body.protocol : '',
    ...(typeof delivered === 'number' && Number.isSafeInteger(delivered) && delivered >= 0 ? { deliveredCount: delivered } : {}),
  };
}

export function decodeOpenFailure(payload: Uint8Array): SessionOpenFailure {
  const body = decodeJson(payload);
  const status = Number(body.status);
  return {
    status: Number.isInteger(status) && status >= 400 && status <= 599 ? status : 502,
    message: String(body.message ?? ''),
    code: typeof body.code === 'string' ? body.code : undefined,
  };
}
