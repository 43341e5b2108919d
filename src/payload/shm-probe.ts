// Link-handshake probe proving that both proxies see the same memory-backed directory as the same
// user: the offering side writes a random nonce to a 0600 file in the pair directory and sends only
// its name; the other side reads it under its own baseDir and returns a proof derived from the nonce.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir } from './shm-segments.js';

export interface ShmProbeOffer {
  pairId: string;
  probeName: string;
}

export interface ShmProbe {
  offer: ShmProbeOffer;
  nonce: Uint8Array;
  path: string;
}

const nonceBytes = 32;
const probeNamePattern = /^probe-[0-9a-f]{32}$/;
const pairIdPattern = /^[A-Za-z0-9_]{1,40}$/;

function proofOf(nonce: Uint8Array): Buffer {
  return createHash('sha256').update('hypha-accel shm probe v1').update(nonce).digest();
}

/** Offering side: the proof an honest peer derives from our nonce (to bind it into a keyed handshake MAC). */
export function expectedProbeProof(probe: ShmProbe): Uint8Array {
  return proofOf(probe.nonce);
}

/** Offering side: writes the nonce file. Remove it with discardProbe() once the handshake ends. */
export async function writeProbe(baseDir: string, pairId: string): Promise<ShmProbe> {
  if (!pairIdPattern.test(pairId)) throw new RangeError('bad pairId');
  const dir = join(baseDir, pairId);
  await ensurePrivateDir(baseDir);
  await ensurePrivateDir(dir);
  const probeName = `probe-${randomBytes(16).toString('hex')}`;
  const nonce = randomBytes(nonceBytes);
  const path = join(dir, probeName);
  await fs.writeFile(path, nonce, { mode: 0o600, flag: fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW });
  return { offer: { pairId, probeName }, nonce, path };
}

/** Answering side: the proof to send back, or null when the file is not visible here (no shm). */
export async function answerProbe(baseDir: string, offer: ShmProbeOffer): Promise<Uint8Array | null> {
  if (!pairIdPattern.test(offer.pairId) || !probeNamePattern.test(offer.probeName)) return null;
  try {
    const handle = await fs.open(join(baseDir, offer.pairId, offer.probeName), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const stat = await handle.stat();
      if (!stat.isFile() || stat.size !== nonceBytes || (stat.mode & 0o077) !== 0) return null;
      // Same user too: segments are only accepted from our own uid, so a probe written by another user
      // (readable to us, e.g. as root) must not turn shm on.
      if (process.getuid && stat.uid !== process.getuid()) return null;
      const nonce = Buffer.alloc(nonceBytes);
      const { bytesRead } = await handle.read(nonce, 0, nonceBytes, 0);
      return bytesRead === nonceBytes ? proofOf(nonce) : null;
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

/** Offering side: true when `proof` shows the peer read our nonce. */
export function checkProbeProof(probe: ShmProbe, proof: Uint8Array | null): boolean {
  if (!proof || proof.byteLength !== 32) return false;
  return timingSafeEqual(proofOf(probe.nonce), proof);
}

export async function discardProbe(probe: ShmProbe): Promise<void> {
  await fs.unlink(probe.path).catch(() => undefined);
}
