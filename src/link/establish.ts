// Drives the handshake over a fresh transport and yields an established LinkSession:
// edge: HELLO -> (CHALLENGE) -> AUTH -> (WELCOME); gateway: the mirror. Any failure ends the transport
// with a coded GOAWAY/close; the promise rejects with the AccelError.
import { compressedTransport } from './link-compressor.js';
import { randomUUID } from 'node:crypto';
import { AccelError, errorCodeForGoaway } from '../errors.js';
import { FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeJson, encodeCodeReason, encodeFrame, encodeJson, type Frame } from './frame.js';
import {
  PROTOCOL_VERSION, checkSettings, computeProof, computeShmProof, coreBytes, decodeChallenge, decodeHello, decoyShmProof, derivedKeyId, encodeHello,
  newNonce, transcriptDigest, verifyProof, verifyShmProof, type LinkKey, type LinkSettings, type ShmOffer,
} from './handshake.js';
import { LinkSession, asAccelError, type LinkSessionOptions, type LinkTransport } from './link-session.js';
import { systemClock, type Clock } from './clock.js';

/** A transport whose received messages and close can be observed. */
export interface DuplexTransport extends LinkTransport {
  onMessage: ((data: Uint8Array) => void) | undefined;
  /**
   * Optional: takes a large received message as its first part and the views that hold the rest (`tail`),
   * not joined (a byte-stream transport's frame cut across socket reads). Unset: such messages are joined
   * and go to onMessage.
   */
  onMessageParts?: ((data: Uint8Array, tail: Uint8Array[]) => void) | undefined;
  onClose: ((code: number, reason: string) => void) | undefined;
  /**
   * Optional, for the wire counters: bytes the transport adds to a message of `length` bytes (negative
   * parts: what it leaves off, e.g. a compressed message's tag); default 4 (a u32 length prefix).
   */
  framingBytes?(length: number, compressed: boolean): number;
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
  /** The link key when `keys` gives none (its id is derived from it). */
  secret: Buffer;
  /** The keys this side holds now, preferred first (several during a rotation), read at each handshake. */
  keys?: () => LinkKey[];
  local: LinkSettings;
  handshakeTimeoutMs: number;
  instanceId: string;
  /** Gateway: where this instance runs (Challenge.gatewaySlot), announced inside the signed transcript. */
  slot?: string;
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
  /** The key this link's handshake used (both sides the same). */
  key: LinkKey;
}

export interface Established {
  session: LinkSession;
  peer: LinkSettings;
  peerId: string;
  /** Edge: the gateway instance's slot (handshake.ts Challenge.gatewaySlot), when it announced one. */
  peerSlot?: string;
  linkId: string;
  capabilities: string[];
  shmPairId?: string;
  /** The key the handshake used (its id is reported; a gateway ends the link when the key is removed). */
  key: LinkKey;
}

export async function establishAsEdge(transport: DuplexTransport, options: EstablishOptions): Promise<Established> {
  const reader = new HandshakeReader(transport, options);
  let probe: ShmProbeHandle | undefined;
  try {
    const edgeNonce = newNonce();
    const keys = linkKeys(options);
    probe = options.shm ? await options.shm.probe().catch(() => undefined) : undefined;
    const hello = encodeHello({
      version: PROTOCOL_VERSION, instanceId: options.instanceId, nonce: edgeNonce, keyIds: keys.map((k) => k.id), ...options.local, ...(probe ? { shm: probe.offer } : {}),
    });
    reader.send(FrameType.HELLO, hello);
    const challengeBody = decodeJson((await reader.next(FrameType.CHALLENGE)).payload);
    const challenge = decodeChallenge(challengeBody);
    const key = keys.find((k) => k.id === challenge.keyId);
    if (!key) throw new AccelError('HYPHA_ACCEL_ERR_AUTH', `the gateway chose key id ${challenge.keyId || '(none)'}, which this edge does not hold (holds ${keys.map((k) => k.id).join(', ')})`);
    const challengeCore = coreBytes(challengeBody);
    if (!verifyProof(key.secret, 'gateway', edgeNonce, challenge.nonce, challenge.proof, transcriptDigest(hello, challengeCore))) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', 'the gateway failed the shared-secret challenge (wrong secret on one side, or the handshake was altered on the way)');
    }
    // The gateway is authenticated; shm only if it also read our nonce file and our segments are ready.
    let shmReady = false;
    if (probe) {
      const proven = verifyShmProof(key.secret, edgeNonce, challenge.nonce, probe.expected, challenge.shmProof);
      void probe.discard();
      if (proven) shmReady = await options.shm!.ready(probe.offer.pairId).catch(() => false);
    }
    const authCore: Record<string, unknown> = shmReady ? { shm: true } : {};
    const authCoreBytes = coreBytes(authCore);
    reader.send(FrameType.AUTH, encodeJson({ ...authCore, proof: computeProof(key.secret, 'edge', edgeNonce, challenge.nonce, transcriptDigest(hello, challengeCore, authCoreBytes)) }));
    const welcome = decodeJson((await reader.next(FrameType.WELCOME)).payload);
    if (!verifyProof(key.secret, 'welcome', edgeNonce, challenge.nonce, welcome.proof, transcriptDigest(hello, challengeCore, authCoreBytes, coreBytes(welcome)))) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', 'the WELCOME of the gateway does not match the handshake (altered on the way)');
    }
    const capabilities = options.local.capabilities.filter((c) => challenge.capabilities.includes(c));
    const shmPairId = shmReady && welcome.shm === true ? probe!.offer.pairId : undefined;
    const established = reader.finish(challenge, challenge.gatewayId, String(welcome.linkId ?? ''), capabilities, key, shmPairId);
    return challenge.gatewaySlot ? { ...established, peerSlot: challenge.gatewaySlot } : established;
  } catch (error) {
    if (probe) void probe.discard();
    throw reader.abort(error);
  }
}

export async function establishAsGateway(transport: DuplexTransport, options: EstablishOptions): Promise<Established> {
  const reader = new HandshakeReader(transport, options);
  try {
    const helloBytes = (await reader.next(FrameType.HELLO)).payload;
    const hello = decodeHello(helloBytes);
    const keys = linkKeys(options);
    // The edge's preference wins among the keys both hold: during a rotation either order works.
    const offered = hello.keyIds.length > 0 ? hello.keyIds : [derivedKeyId(options.secret)]; // naming none = the default key
    const key = offered.map((id) => keys.find((k) => k.id === id)).find((k) => k !== undefined);
    if (!key) throw new AccelError('HYPHA_ACCEL_ERR_AUTH', `edge ${hello.instanceId || '?'} holds no key this gateway holds (edge: ${hello.keyIds.join(', ') || 'none'}; gateway: ${keys.map((k) => k.id).join(', ')})`);
    const gatewayNonce = newNonce();
    // Reading the probe before the edge authenticated reveals nothing: the answer is keyed with the
    // secret, and a decoy of the same shape goes out when the file is not visible here (or shm is off).
    const probeProof = hello.shm && options.shm ? await options.shm.answer(hello.shm).catch(() => null) : null;
    const shmProof = hello.shm ? (probeProof ? computeShmProof(key.secret, hello.nonce, gatewayNonce, probeProof) : decoyShmProof()) : undefined;
    const core = { version: PROTOCOL_VERSION, gatewayId: options.instanceId, ...(options.slot ? { gatewaySlot: options.slot } : {}), nonce: gatewayNonce, keyId: key.id, ...options.local };
    const challengeCore = coreBytes(core);
    reader.send(FrameType.CHALLENGE, encodeJson({
      ...core, proof: computeProof(key.secret, 'gateway', hello.nonce, gatewayNonce, transcriptDigest(helloBytes, challengeCore)), ...(shmProof ? { shmProof } : {}),
    }));
    const auth = decodeJson((await reader.next(FrameType.AUTH)).payload);
    const authCoreBytes = coreBytes(auth);
    if (!verifyProof(key.secret, 'edge', hello.nonce, gatewayNonce, auth.proof, transcriptDigest(helloBytes, challengeCore, authCoreBytes))) {
      throw new AccelError('HYPHA_ACCEL_ERR_AUTH', `edge ${hello.instanceId || '?'} failed the shared-secret challenge (wrong secret, or the handshake was altered on the way)`);
    }
    const shmReady = probeProof !== null && auth.shm === true && (await options.shm!.ready(hello.shm!.pairId).catch(() => false));
    const linkId = randomUUID();
    const welcome = { linkId, ...(shmReady ? { shm: true } : {}) };
    const welcomeProof = computeProof(key.secret, 'welcome', hello.nonce, gatewayNonce, transcriptDigest(helloBytes, challengeCore, authCoreBytes, coreBytes(welcome)));
    reader.send(FrameType.WELCOME, encodeJson({ ...welcome, proof: welcomeProof }));
    const capabilities = options.local.capabilities.filter((c) => hello.capabilities.includes(c));
    return reader.finish(checkSettings(hello), hello.instanceId, linkId, capabilities, key, shmReady ? hello.shm!.pairId : undefined);
  } catch (error) {
    throw reader.abort(error);
  }
}

/** The keys of this side now (a rotation may have changed them since the last link). */
function linkKeys(options: EstablishOptions): LinkKey[] {
  const keys = options.keys?.() ?? [];
  return keys.length > 0 ? keys : [{ id: derivedKeyId(options.secret), secret: options.secret }];
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

  finish(peer: LinkSettings, peerId: string, linkId: string, capabilities: string[], key: LinkKey, shmPairId?: string): Established {
    this.clock.clearTimeout(this.timer);
    const sessionOptions = this.options.session({ peer, capabilities, peerId, linkId, key, ...(shmPairId ? { shmPairId } : {}) });
    const transport = sessionOptions.compressor || sessionOptions.stats ? compressedTransport(this.transport, sessionOptions.compressor, sessionOptions.stats) : this.transport;
    const session = new LinkSession(transport, {
      ...sessionOptions,
      local: this.options.local,
      peer,
      clock: this.options.clock ?? sessionOptions.clock,
    });
    transport.onMessage = (data) => session.handleMessage(data);
    transport.onMessageParts = (data, tail) => session.handleMessage(data, tail);
    transport.onClose = (code, reason) =>
      session.handleTransportClosed(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `link socket closed (${code}${reason ? ' ' + reason : ''})`));
    for (const frame of this.queue) session.handleMessage(encodeFrame(frame));
    return { session, peer, peerId, linkId, capabilities, key, ...(shmPairId ? { shmPairId } : {}) };
  }

  abort(error: unknown): AccelError {
    this.clock.clearTimeout(this.timer);
    const accel = asAccelError(error);
    const spec = accel.spec;
    if (spec.goaway) this.send(FrameType.GOAWAY, encodeCodeReason(spec.goaway, accel.message.slice(0, 120)));
    this.transport.onMessage = undefined;
    this.transport.onMessageParts = undefined;
    this.transport.onClose = undefined;
    this.transport.close(spec.wsClose || 4006, accel.code);
    return accel;
  }
}
