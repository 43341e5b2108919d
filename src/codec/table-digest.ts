// Running digest of every table insertion (kind + exact bytes), carried in each message header so a
// decoder whose tables diverged from its encoder's (lost, reordered or foreign messages) detects it.

/** FNV-1a over a latin1 key (one char per byte), seeded with the running digest */
export function digestString(digest: number, kind: number, key: string): number {
  let h = Math.imul(digest ^ kind, 0x01000193) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** the same digest over bytes */
export function digestBytes(digest: number, kind: number, b: Uint8Array, start = 0, end = b.length): number {
  let h = Math.imul(digest ^ kind, 0x01000193) >>> 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

export const KIND_STRING = 1;
export const KIND_OBJECT = 2;
export const KIND_SHAPE = 3;
