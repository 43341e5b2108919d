// The one registry of hypha-accel error codes. Each code names what went wrong, the GOAWAY code sent on
// the link when it ends a link, and the WebSocket close code (or HTTP status) an endpoint sees.
// docs/errors.md lists every code; a unit test keeps the two in step.

export interface ErrorSpec {
  /** Numeric code carried in a link GOAWAY frame (0 when the error never ends a link). */
  goaway: number;
  /** WebSocket close code used on the link (4xxx) or toward a client (1xxx), or 0 when none. */
  wsClose: number;
  /** HTTP status answered on a client's upgrade, or 0 when not applicable. */
  httpStatus: number;
  description: string;
}

export const ERROR_CODES = {
  HYPHA_ACCEL_ERR_CONFIG: { goaway: 0, wsClose: 0, httpStatus: 0, description: 'A setting is invalid; the process exits with code 2.' },
  HYPHA_ACCEL_ERR_BAD_FRAME: { goaway: 1, wsClose: 4001, httpStatus: 0, description: 'A link frame is malformed (short header, unknown type, bad length).' },
  HYPHA_ACCEL_ERR_FRAME_TOO_LARGE: { goaway: 2, wsClose: 4002, httpStatus: 0, description: 'A link frame or reassembled message exceeds the configured limit.' },
  HYPHA_ACCEL_ERR_VERSION: { goaway: 3, wsClose: 4003, httpStatus: 0, description: 'The link peer speaks another protocol version or sent a wrong preface.' },
  HYPHA_ACCEL_ERR_AUTH: { goaway: 4, wsClose: 4004, httpStatus: 0, description: 'The link peer failed the shared-secret challenge, or the gateway removed the key a running link was made with.' },
  HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT: { goaway: 5, wsClose: 4005, httpStatus: 0, description: 'The link handshake did not complete in time.' },
  HYPHA_ACCEL_ERR_PROTOCOL: { goaway: 6, wsClose: 4006, httpStatus: 0, description: 'A well-formed frame arrived where the protocol does not allow it.' },
  HYPHA_ACCEL_ERR_KEEPALIVE_TIMEOUT: { goaway: 7, wsClose: 4007, httpStatus: 0, description: 'Nothing was heard from the link peer within the keep-alive timeout.' },
  HYPHA_ACCEL_ERR_SHUTDOWN: { goaway: 8, wsClose: 1001, httpStatus: 503, description: 'The proxy is stopping; clients are closed with 1001 so hypha-rpc reconnects.' },
  HYPHA_ACCEL_ERR_CODEC: { goaway: 9, wsClose: 4009, httpStatus: 0, description: 'A transcoded message could not be decoded; the link closes, never wrong bytes.' },
  HYPHA_ACCEL_ERR_PAYLOAD: { goaway: 10, wsClose: 1011, httpStatus: 0, description: 'A large message could not be moved through the payload plane (blob lost or failed verification); only its session is closed, never wrong bytes.' },
  HYPHA_ACCEL_ERR_LINK_LOST: { goaway: 0, wsClose: 1001, httpStatus: 0, description: "The link carrying a session died; the client is closed with 1001 so hypha-rpc reconnects." },
  HYPHA_ACCEL_ERR_RESUME_EXPIRED: { goaway: 0, wsClose: 1001, httpStatus: 0, description: 'A session lost its link and no link to the same gateway instance took it back within resumeGraceMs; the edge closes the client (and the gateway the upstream) with 1001, as a hypha restart would, so hypha-rpc reconnects.' },
  HYPHA_ACCEL_ERR_RESUME_REFUSED: { goaway: 0, wsClose: 1011, httpStatus: 0, description: 'The gateway instance no longer holds a session the edge tried to resume (it restarted, or its grace period ran out first); the client is closed with 1011 so hypha-rpc reconnects.' },
  HYPHA_ACCEL_ERR_RESUME_BUFFER_FULL: { goaway: 0, wsClose: 1011, httpStatus: 0, description: 'Messages a session sent and the peer has not yet confirmed exceed resumeBufferBytes (per session) or resumeProcessBufferBytes (per process); only that session is closed, with 1011 so hypha-rpc reconnects.' },
  HYPHA_ACCEL_ERR_NO_LINK: { goaway: 0, wsClose: 0, httpStatus: 503, description: 'No link to the gateway could be had in time; the upgrade is answered 503.' },
  HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE: { goaway: 0, wsClose: 0, httpStatus: 502, description: 'The gateway could not open the upstream WebSocket or HTTP request to hypha.' },
  HYPHA_ACCEL_ERR_OPEN_TIMEOUT: { goaway: 0, wsClose: 0, httpStatus: 504, description: 'The gateway did not answer a session open in time; the upgrade is answered 504.' },
  HYPHA_ACCEL_ERR_BAD_REQUEST: { goaway: 0, wsClose: 0, httpStatus: 400, description: 'A client upgrade (or a session OPEN from an edge) is malformed or targets what hypha does not serve; answered 400, nothing is dialed.' },
  HYPHA_ACCEL_ERR_OVERLOADED: { goaway: 0, wsClose: 0, httpStatus: 503, description: 'An admission limit (handshakes, links, streams, sessions, memory budget) is reached; new work is refused with 503.' },
  HYPHA_ACCEL_ERR_FORBIDDEN: { goaway: 0, wsClose: 0, httpStatus: 403, description: 'Mutual TLS: a link upgrade came without an acceptable client certificate (none, untrusted, not in tlsClientAllow, or revoked); answered 403, or a running link of a revoked edge is closed.' },
  HYPHA_ACCEL_ERR_RATE_LIMITED: { goaway: 0, wsClose: 0, httpStatus: 429, description: 'An address opened new connections faster than connRatePerSec allows; the connection is answered 429 and closed.' },
  HYPHA_ACCEL_ERR_MESSAGE_TOO_LARGE: { goaway: 0, wsClose: 1009, httpStatus: 0, description: 'A message exceeds maxMessageBytes; only its session is closed, with 1009.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AccelError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccelError';
    this.code = code;
  }
  get spec(): ErrorSpec {
    return ERROR_CODES[this.code];
  }
}

export function errorCodeForGoaway(goaway: number): ErrorCode | undefined {
  for (const [code, spec] of Object.entries(ERROR_CODES)) if (spec.goaway === goaway && goaway !== 0) return code as ErrorCode;
  return undefined;
}
