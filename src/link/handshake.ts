// The link handshake as pure functions: a versioned preface (HELLO), mutual challenge-response over a
// shared secret (HMAC-SHA256 of both nonces and a digest of the whole transcript: preface, settings,
// capabilities, instance ids, key ids; the secret never crosses the wire), the settings each side
// announces, and the key ids of a rotation. establish.ts drives these for both roles.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AccelError } from '../errors.js';
import { decodeJson } from './frame.js';

export const PROTOCOL_MAGIC = 'HYAC';
/** 2: proofs cover the transcript, keys have ids (docs/protocol.md). */
export const PROTOCOL_VERSION = 2;
const EMPTY = new Uint8Array(0);

/** One link key: its id (announced in the handshake, never the key) and its bytes. */
export interface LinkKey {
  id: string;
  secret: Buffer;
}

/** The id of a key given without one (a plain secret file): a wrong secret then fails the proofs, as before ids. */
export function derivedKeyId(_secret: Buffer): string {
  return 'default';
}

/** Length-prefixed SHA-256 of the handshake messages so far, in order. */
export function transcriptDigest(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256').update(`hypha-accel/${PROTOCOL_VERSION}/transcript\n`);
  const length = Buffer.alloc(4);
  for (const part of parts) {
    length.writeUInt32BE(part.length, 0);
    hash.update(length).update(part);
  }
  return hash.digest();
}

/** The canonical bytes of a JSON handshake message without its proofs (what the proofs cover). */
export function coreBytes(body: Record<string, unknown>): Buffer {
  const { proof: _proof, shmProof: _shmProof, ...core } = body;
  return Buffer.from(JSON.stringify(core), 'utf8');
}
const NONCE_BYTES = 16;

/** Settings a side announces; the other side adopts them for what it sends. */
export interface LinkSettings {
  /** Initial credit per stream, in bytes of original message data. */
  windowBytes: number;
  /** Largest link frame this side accepts. */
  maxFrameBytes: number;
  /** Capabilities this side understands, e.g. ['codec-v1']. */
  capabilities: string[];
}

/** HELLO `shm`: where the edge wrote its shared-memory probe (a name, never a path or the nonce). */
export interface ShmOffer {
  pairId: string;
  probeName: string;
}

export interface Hello extends LinkSettings {
  version: number;
  instanceId: string;
  nonce: string; // base64
  /** Ids of the keys the edge holds, preferred first (the gateway picks the first it also holds). */
  keyIds: string[];
  /** Optional: the edge offers shared memory. */
  shm?: ShmOffer;
}

export interface Challenge extends LinkSettings {
  version: number;
  gatewayId: string;
  nonce: string; // base64
  /** The key both proofs use: the first of HELLO keyIds the gateway holds. */
  keyId: string;
  proof: string; // base64 HMAC proving the gateway holds the secret
  /** Present when HELLO offered shm: computeShmProof(...) if the gateway read the probe, else random. */
  shmProof?: string;
  /** Where the instance runs (host, port, worker): one live instance per slot, so a new gatewayId in the
   * same slot proves the previous instance is gone. Optional (older gateways send none). */
  gatewaySlot?: string;
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

/** HELLO payload: 4-byte magic, u16 version, then JSON, so a peer can refuse a version before parsing. */
export function encodeHello(hello: Hello): Buffer {
  const json = Buffer.from(JSON.stringify(hello), 'utf8');
  const out = Buffer.allocUnsafe(6 + json.length);
  out.write(PROTOCOL_MAGIC, 0, 'latin1');
  out.writeUInt16BE(hello.version, 4);
  out.set(json, 6);
  return out;
}

export function decodeHello(payload: Uint8Array): Hello {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.length < 6 || buf.toString('latin1', 0, 4) !== PROTOCOL_MAGIC) {
    throw new AccelError('HYPHA_ACCEL_ERR_VERSION', 'link preface has no HYAC magic: not a hypha-accel edge');
  }
  const version = buf.readUInt16BE(4);
  if (version !== PROTOCOL_VERSION) {
    throw new AccelError('HYPHA_ACCEL_ERR_VERSION', `edge speaks link protocol ${version}, this gateway speaks ${PROTOCOL_VERSION}`);
  }
  const body = decodeJson(buf.subarray(6)) as Partial<Hello>;
  const shm = checkShmOffer(body.shm);
  const keyIds = Array.isArray(body.keyIds) ? body.keyIds.filter((id): id is string => typeof id === 'string').slice(0, 16) : [];
  return { ...checkSettings(body), version, instanceId: String(body.instanceId ?? ''), nonce: checkNonce(body.nonce), keyIds, ...(shm ? { shm } : {}) };
}

/** A well-formed shm offer, or undefined: a malformed one only means "no shared memory", never a failed link. */
function checkShmOffer(value: unknown): ShmOffer | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pairId, probeName } = value as Record<string, unknown>;
  if (typeof pairId !== 'string' || !/^[A-Za-z0-9_]{1,40}$/.test(pairId)) return undefined;
  if (typeof probeName !== 'string' || !/^probe-[0-9a-f]{32}$/.test(probeName)) return undefined;
  return { pairId, probeName };
}

export function checkSettings(body: Partial<LinkSettings>): LinkSettings {
  const { windowBytes, maxFrameBytes, capabilities } = body;
  if (!Number.isSafeInteger(windowBytes) || (windowBytes as number) < 1024) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `windowBytes must be an integer >= 1024, got ${String(windowBytes)}`);
  }
  if (!Number.isSafeInteger(maxFrameBytes) || (maxFrameBytes as number) < 1024) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `maxFrameBytes must be an integer >= 1024, got ${String(maxFrameBytes)}`);
  }
  if (!Array.isArray(capabilities) || !capabilities.every((c) => typeof c === 'string')) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'capabilities must be an array of strings');
  }
  return { windowBytes: windowBytes as number, maxFrameBytes: maxFrameBytes as number, capabilities };
}

function checkNonce(nonce: unknown): string {
  if (typeof nonce !== 'string' || Buffer.from(nonce, 'base64').length !== NONCE_BYTES) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'handshake nonce must be 16 bytes of base64');
  }
  return nonce;
}

export function decodeChallenge(body: Record<string, unknown>): Challenge {
  const version = body.version;
  if (version !== PROTOCOL_VERSION) {
    throw new AccelError('HYPHA_ACCEL_ERR_VERSION', `gateway speaks link protocol ${String(version)}, this edge speaks ${PROTOCOL_VERSION}`);
  }
  if (typeof body.proof !== 'string') throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'CHALLENGE has no proof');
  return {
    ...checkSettings(body as Partial<LinkSettings>),
    version,
    gatewayId: String(body.gatewayId ?? ''),
    nonce: checkNonce(body.nonce),
    keyId: String(body.keyId ?? ''),
    proof: body.proof,
    ...(typeof body.shmProof === 'string' ? { shmProof: body.shmProof } : {}),
    ...(typeof body.gatewaySlot === 'string' && body.gatewaySlot.length > 0 && body.gatewaySlot.length <= 300 ? { gatewaySlot: body.gatewaySlot } : {}),
  };
}

/** Who gives a proof: the gateway in CHALLENGE, the edge in AUTH, the gateway again in WELCOME. */
export type ProofRole = 'edge' | 'gateway' | 'welcome';

/**
 * The proof one side gives: HMAC(secret, role || edgeNonce || gatewayNonce || transcript digest). Roles
 * differ so a proof cannot be reflected; the transcript binds everything said before it.
 */
export function computeProof(secret: Buffer, role: ProofRole, edgeNonce: string, gatewayNonce: string, transcript: Uint8Array = EMPTY): string {
  return createHmac('sha256', secret)
    .update(`hypha-accel/${PROTOCOL_VERSION}/${role}\n`)
    .update(Buffer.from(edgeNonce, 'base64'))
    .update(Buffer.from(gatewayNonce, 'base64'))
    .update(transcript)
    .digest('base64');
}

export function verifyProof(secret: Buffer, role: ProofRole, edgeNonce: string, gatewayNonce: string, proof: unknown, transcript: Uint8Array = EMPTY): boolean {
  if (typeof proof !== 'string') return false;
  const expected = Buffer.from(computeProof(secret, role, edgeNonce, gatewayNonce, transcript), 'base64');
  const given = Buffer.from(proof, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The gateway's answer to a shm probe, bound to this handshake: HMAC(secret, label || both nonces ||
 * probeProof), where probeProof is what only a reader of the edge's nonce file can derive. A peer without
 * the secret can neither forge it nor learn from it whether the file was readable (the gateway sends
 * random bytes of the same length when it was not).
 */
export function computeShmProof(secret: Buffer, edgeNonce: string, gatewayNonce: string, probeProof: Uint8Array): string {
  return createHmac('sha256', secret)
    .update(`hypha-accel/${PROTOCOL_VERSION}/shm-probe\n`)
    .update(Buffer.from(edgeNonce, 'base64'))
    .update(Buffer.from(gatewayNonce, 'base64'))
    .update(probeProof)
    .digest('base64');
}

export function verifyShmProof(secret: Buffer, edgeNonce: string, gatewayNonce: string, probeProof: Uint8Array, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(computeShmProof(secret, edgeNonce, gatewayNonce, probeProof), 'base64');
  const got = Buffer.from(given, 'base64');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** What the gateway sends in place of a proof it cannot give (same shape as a real one). */
export function decoyShmProof(): string {
  return randomBytes(32).toString('base64');
}
