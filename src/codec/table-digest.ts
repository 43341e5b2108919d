// Running digest of every table insertion (kind, length, first and last 4 bytes), carried in each
// message header so a decoder whose tables diverged from its encoder's (lost, reordered or foreign
// messages) notices. O(1) per insertion: it samples the entry instead of hashing all of it.

export const KIND_STRING = 1;
export const KIND_OBJECT = 2;
export const KIND_SHAPE = 3;

const P = 0x01000193;

export function digestEntry(digest: number, kind: number, b: Uint8Array, start: number, end: number): number {
  let h = Math.imul(digest ^ kind, P);
  h = Math.imul(h ^ (end - start), P);
  const head = Math.min(end, start + 4);
  for (let i = start; i < head; i++) h = Math.imul(h ^ b[i]!, P);
  for (let i = Math.max(head, end - 4); i < end; i++) h = Math.imul(h ^ b[i]!, P);
  return h >>> 0;
}
