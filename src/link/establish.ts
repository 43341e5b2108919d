// Drives the handshake over a fresh transport and yields an established LinkSession:
// edge: HELLO -> (CHALLENGE) -> AUTH -> (WELCOME); gateway: the mirror. Any failure ends the transport
// with a coded GOAWAY/close; the promise rejects with the AccelError.
import { compressedTransport } from './link-compressor.js';
import { randomUUID } from 'node:crypto';
import { AccelError, errorCodeForGoaway } from '../errors.js';
import { FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeJson, encodeCodeReason, encodeFrame, encodeJson, type Frame } from './frame.js';
import {
  PROTOCOL_VERSION, checkSettings, computeProof, computeShmProof, decodeChallenge, decodeHello, decoyShmProof, encodeHello,
  newNonce, verifyProof, verifyShmProof, type LinkSettings, type ShmOffer,
} from './handshake.js';
import { LinkSession, asAccelError, type LinkSessionOptions, type LinkTransport } from './link-session.js';
import { systemClock, type Clock } from './clock.js';

/** A transport whose received messages and close can be observed. */
export interface DuplexTransport extends LinkTransport {
  onMessage: ((data: Uint8Array) => void) | undefined;
  onClose: ((code: number, reason: string) => void) | undefined;
}

/** An edge's shared-memory probe for one handshake (written before HELLO, discarded after CHALLENGE). */
export interface ShmProbeHandle {
  offer: ShmOffer;
  /** The probe proof an honest gateway derives from the nonce file. */
  expected: Uint8Array;
  discard(): Promise<void>;
}

/**
 * The shared-memory probe as the handshake drives it (src/roles/shm-setup.ts implements it). Every hook
 * may fail or return "no": the link then comes up without shared memory, never fails because of it.
 */
export interface ShmHandshake {
  /** Edge: write a probe to offer in HELLO (undefined: shm off here). */
  probe(): Promise<ShmProbeHandle | undefined>;
  /** Gateway: read the probe under this side's directory; the raw probe proof, or null. */
  answer(offer: ShmOffer): Promise<Uint8Array | null>;
  /** Both: the probe succeeded; get this side's segments for the pair ready (false: stay on the link). */
  ready(pairId: string): Promise<boolean>;
}

export interface EstablishOptions {
  secret: Buffer;
  local: LinkSettings;
  handshakeTimeoutMs: number;
  instanceId: string;
  clock?: Clock;
  /** Offer (edge) / answer (gateway) the shared-memory probe; absent: never shm. */
  shm?: ShmHandshake;
  /** Everything a LinkSession needs besides settings, given the negotiated capabilities. */
  session: (negotiated: Negotiated) => Omit<LinkSessionOptions, 'local' | 'peer'>;
}

export interface Negotiated {
  peer: LinkSettings;
  capabilities: string[];
  peerId: string;
  linkId: string;
  /** Set when both sides proved they share the memory-backed directory: the pair id of its segments. */
  shmPairId?: string;
}

export interface Established {
  session: LinkSession;
  peer: LinkSettings;
  peerId: string;
  linkId: string;
  capabilities: string[];
  shmPairId?: string;
}

export async function establishAsEdge(transport: DuplexTransport, options: EstablishOptions): Promise<Established> {
  const reader = new HandshakeReader(transport, options);
  let probe: ShmProbeHandle | undefined;
  try {
    const edgeNonce = newNonce();
    probe = options.shm ? await options.shm.probe().catch(() => undefined) : undefined;
    reader.send(FrameType.HELLO, encodeHello({
      version: PROTOCOL_VERSION, instanceId: options.instanceId, nonce: edgeNonce, ...options.local, ...(probe ? { shm: probe.offer } : {}),
    }));
    const challenge = decodeChallenge(decodeJson((await reader.next(FrameType.CHALLENGE)).payload));
    if (!verifyProof(options.secret, 'gateway', edgeNonce, challenge.nonce, challenge.proof)) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', 'the gateway failed the shared-secret challenge (wrong secret on one side?)');
    }
    // The gateway is authenticated; shm only if it also read our nonce file and our segments are ready.
    let shmReady = false;
    if (probe) {
      const proven = verifyShmProof(options.secret, edgeNonce, challenge.nonce, probe.expected, challenge.shmProof);
      void probe.discard();
      if (proven) shmReady = await options.shm!.ready(probe.offer.pairId).catch(() => false);
    }
    reader.send(FrameType.AUTH, encodeJson({ proof: computeProof(options.secret, 'edge', edgeNonce, challenge.nonce), ...(shmReady ? { shm: true } : {}) }));
    const welcome = decodeJson((await reader.next(FrameType.WELCOME)).payload);
    const capabilities = options.local.capabilities.filter((c) => challenge.capabilities.includes(c));
    const shmPairId = shmReady && welcome.shm === true ? probe!.offer.pairId : undefined;
    return reader.finish(challenge, challenge.gatewayId, String(welcome.linkId ?? ''), capabilities, shmPairId);
  } catch (error) {
    if (probe) void probe.discard();
    throw reader.abort(error);
  }
}

export async function establishAsGateway(transport: DuplexTransport, options: EstablishOptions): Promise<Established> {
  const reader = new HandshakeReader(transport, options);
  try {
    const hello = decodeHello((await reader.next(FrameType.HELLO)).payload);
    const gatewayNonce = newNonce();
    // Reading the probe before the edge authenticated reveals nothing: the answer is keyed with the
    // secret, and a decoy of the same shape goes out when the file is not visible here (or shm is off).
    const probeProof = hello.shm && options.shm ? await options.shm.answer(hello.shm).catch(() => null) : null;
    const shmProof = hello.shm ? (probeProof ? computeShmProof(options.secret, hello.nonce, gatewayNonce, probeProof) : decoyShmProof()) : undefined;
    reader.send(FrameType.CHALLENGE, encodeJson({
      version: PROTOCOL_VERSION, gatewayId: options.instanceId, nonce: gatewayNonce,
      proof: computeProof(options.secret, 'gateway', hello.nonce, gatewayNonce), ...options.local, ...(shmProof ? { shmProof } : {}),
    }));
    const auth = decodeJson((await reader.next(FrameType.AUTH)).payload);
    if (!verifyProof(options.secret, 'edge', hello.nonce, gatewayNonce, auth.proof)) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', `edge ${hello.instanceId || '?'} failed the shared-secret challenge`);
    }
    const shmReady = probeProof !== null && auth.shm === true && (await options.shm!.ready(hello.shm!.pairId).catch(() => false));
    const linkId = randomUUID();
    reader.send(FrameType.WELCOME, encodeJson({ linkId, ...(shmReady ? { shm: true } : {}) }));
    const capabilities = options.local.capabilities.filter((c) => hello.capabilities.includes(c));
    return reader.finish(checkSettings(hello), hello.instanceId, linkId, capabilities, shmReady ? hello.shm!.pairId : undefined);
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

  finish(peer: LinkSettings, peerId: string, linkId: string, capabilities: string[], shmPairId?: string): Established {
    this.clock.clearTimeout(this.timer);
    const sessionOptions = this.options.session({ peer, capabilities, peerId, linkId, ...(shmPairId ? { shmPairId } : {}) });
    const transport = sessionOptions.compressor ? compressedTransport(this.transport, sessionOptions.compressor) : this.transport;
    const session = new LinkSession(transport, {
      ...sessionOptions,
      local: this.options.local,
      peer,
      clock: this.options.clock ?? sessionOptions.clock,
    });
    transport.onMessage = (data) => session.handleMessage(data);
    transport.onClose = (code, reason) =>
      session.handleTransportClosed(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `link socket closed (${code}${reason ? ' ' + reason : ''})`));
    for (const frame of this.queue) session.handleMessage(encodeFrame(frame));
    return { session, peer, peerId, linkId, capabilities, ...(shmPairId ? { shmPairId } : {}) };
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
