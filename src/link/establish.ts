// Drives the handshake over a fresh transport and yields an established LinkSession:
// edge: HELLO -> (CHALLENGE) -> AUTH -> (WELCOME); gateway: the mirror. Any failure ends the transport
// with a coded GOAWAY/close; the promise rejects with the AccelError.
import { randomUUID } from 'node:crypto';
import { AccelError, errorCodeForGoaway } from '../errors.js';
import { FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeJson, encodeCodeReason, encodeFrame, encodeJson, type Frame } from './frame.js';
import {
  PROTOCOL_VERSION, checkSettings, computeProof, decodeChallenge, decodeHello, encodeHello, newNonce, verifyProof,
  type LinkSettings,
} from './handshake.js';
import { LinkSession, asAccelError, type LinkSessionOptions, type LinkTransport } from './link-session.js';
import { systemClock, type Clock } from './clock.js';

/** A transport whose received messages and close can be observed. */
export interface DuplexTransport extends LinkTransport {
  onMessage: ((data: Uint8Array) => void) | undefined;
  onClose: ((code: number, reason: string) => void) | undefined;
}

export interface EstablishOptions {
  secret: Buffer;
  local: LinkSettings;
  handshakeTimeoutMs: number;
  instanceId: string;
  clock?: Clock;
  /** Everything a LinkSession needs besides settings, given the negotiated capabilities. */
  session: (negotiated: { peer: LinkSettings; capabilities: string[]; peerId: string; linkId: string }) => Omit<LinkSessionOptions, 'local' | 'peer'>;
}

export interface Established {
  session: LinkSession;
  peer: LinkSettings;
  peerId: string;
  linkId: string;
  capabilities: string[];
}

export async function establishAsEdge(transport: DuplexTransport, options: EstablishOptions): Promise<Established> {
  const reader = new HandshakeReader(transport, options);
  try {
    const edgeNonce = newNonce();
    reader.send(FrameType.HELLO, encodeHello({ version: PROTOCOL_VERSION, instanceId: options.instanceId, nonce: edgeNonce, ...options.local }));
    const challenge = decodeChallenge(decodeJson((await reader.next(FrameType.CHALLENGE)).payload));
    if (!verifyProof(options.secret, 'gateway', edgeNonce, challenge.nonce, challenge.proof)) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', 'the gateway failed the shared-secret challenge (wrong secret on one side?)');
    }
    reader.send(FrameType.AUTH, encodeJson({ proof: computeProof(options.secret, 'edge', edgeNonce, challenge.nonce) }));
    const welcome = decodeJson((await reader.next(FrameType.WELCOME)).payload);
    const capabilities = options.local.capabilities.filter((c) => challenge.capabilities.includes(c));
    return reader.finish(challenge, challenge.gatewayId, String(welcome.linkId ?? ''), capabilities);
  } catch (error) {
    throw reader.abort(error);
  }
}

export async function establishAsGateway(transport: DuplexTransport, options: EstablishOptions): Promise<Established> {
  const reader = new HandshakeReader(transport, options);
  try {
    const hello = decodeHello((await reader.next(FrameType.HELLO)).payload);
    const gatewayNonce = newNonce();
    reader.send(FrameType.CHALLENGE, encodeJson({
      version: PROTOCOL_VERSION, gatewayId: options.instanceId, nonce: gatewayNonce,
      proof: computeProof(options.secret, 'gateway', hello.nonce, gatewayNonce), ...options.local,
    }));
    const auth = decodeJson((await reader.next(FrameType.AUTH)).payload);
    if (!verifyProof(options.secret, 'edge', hello.nonce, gatewayNonce, auth.proof)) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', `edge ${hello.instanceId || '?'} failed the shared-secret challenge`);
    }
    const linkId = randomUUID();
    reader.send(FrameType.WELCOME, encodeJson({ linkId }));
    const capabilities = options.local.capabilities.filter((c) => hello.capabilities.includes(c));
    return reader.finish(checkSettings(hello), hello.instanceId, linkId, capabilities);
  } catch (error) {
    throw reader.abort(error);
  }
}

/** Queues handshake frames as they arrive and hands them out one at a time, with a deadline. */
class HandshakeReader {
  private readonly queue: Frame[] = [];
  private waiter: ((frame: Frame | AccelError) => void) | undefined;
  private failure: AccelError | undefined;
  private readonly clock: Clock;
  private readonly timer: unknown;

  constructor(private readonly transport: DuplexTransport, private readonly options: EstablishOptions) {
    this.clock = options.clock ?? systemClock;
    transport.onMessage = (data) => {
      try {
        this.push(decodeFrame(data, options.local.maxFrameBytes));
      } catch (error) {
        this.fail(asAccelError(error));
      }
    };
    transport.onClose = (code, reason) => this.fail(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `link closed during handshake (${code} ${reason})`));
    this.timer = this.clock.setTimeout(
      () => this.fail(new AccelError('HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT', `link handshake took longer than ${options.handshakeTimeoutMs} ms`)),
      options.handshakeTimeoutMs,
    );
  }

  private push(frame: Frame): void {
    if (frame.type === FrameType.GOAWAY) {
      const { code, reason } = decodeCodeReason(frame.payload);
      this.fail(new AccelError(errorCodeForGoaway(code) ?? 'HYPHA_ACCEL_ERR_PROTOCOL', `peer refused the link: ${reason}`));
      return;
    }
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(frame);
    } else {
      this.queue.push(frame);
    }
  }

  private fail(error: AccelError): void {
    if (this.failure) return;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(error);
  }

  send(type: (typeof FrameType)[keyof typeof FrameType], payload: Uint8Array): void {
    this.transport.send(encodeFrame({ type, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload }), () => {});
  }

  async next(type: number): Promise<Frame> {
    const frame = this.failure ?? this.queue.shift() ?? (await new Promise<Frame | AccelError>((resolve) => (this.waiter = resolve)));
    if (frame instanceof AccelError) throw frame;
    if (frame.type !== type) throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `expected handshake frame 0x${type.toString(16)}, got 0x${frame.type.toString(16)}`);
    return frame;
  }

  finish(peer: LinkSettings, peerId: string, linkId: string, capabilities: string[]): Established {
    this.clock.clearTimeout(this.timer);
    const sessionOptions = this.options.session({ peer, capabilities, peerId, linkId });
    const session = new LinkSession(this.transport, {
      ...sessionOptions,
      local: this.options.local,
      peer,
      clock: this.options.clock ?? sessionOptions.clock,
    });
    this.transport.onMessage = (data) => session.handleMessage(data);
    this.transport.onClose = (code, reason) =>
      session.handleTransportClosed(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `link socket closed (${code}${reason ? ' ' + reason : ''})`));
    for (const frame of this.queue) session.handleMessage(encodeFrame(frame));
    return { session, peer, peerId, linkId, capabilities };
  }

  abort(error: unknown): AccelError {
    this.clock.clearTimeout(this.timer);
    const accel = asAccelError(error);
    const spec = accel.spec;
    if (spec.goaway) this.send(FrameType.GOAWAY, encodeCodeReason(spec.goaway, accel.message.slice(0, 120)));
    this.transport.onMessage = undefined;
    this.transport.onClose = undefined;
    this.transport.close(spec.wsClose || 4006, accel.code);
    return accel;
  }
}
