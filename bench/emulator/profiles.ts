// Link profiles of docs/benchmarks.md (lan, wan, slow, held) and their resolution into emulator settings.
// A profile is data only; the emulator (link-emulator.ts) applies it per direction.

export type QueueDiscipline = 'fifo' | 'fq';

export interface LinkShape {
  /** Added per direction, after serialisation. */
  oneWayDelayMs: number;
  /** Shared by every connection through the emulator, per direction; 0 means unshaped. */
  bandwidthBitsPerSec: number;
  discipline: QueueDiscipline;
  /** fifo: bound of the one shared queue; fq: bound of each connection's queue. */
  queueBytes: number;
}

export type ProfileName = 'lan' | 'wan' | 'slow' | 'held';

export const PROFILE_NAMES: readonly ProfileName[] = ['lan', 'wan', 'slow', 'held'];

/** Queue bounds are about 2x the bandwidth-delay product: deep enough to show bufferbloat under fifo. */
export function profileShape(name: ProfileName, discipline: QueueDiscipline = 'fifo'): LinkShape {
  switch (name) {
    case 'lan':
      return { oneWayDelayMs: 0, bandwidthBitsPerSec: 0, discipline, queueBytes: 4 * 1024 * 1024 };
    case 'wan':
      return { oneWayDelayMs: 20, bandwidthBitsPerSec: 100_000_000, discipline, queueBytes: 1024 * 1024 };
    case 'slow':
      return { oneWayDelayMs: 60, bandwidthBitsPerSec: 20_000_000, discipline, queueBytes: 512 * 1024 };
    case 'held':
      // The held-out link of issue 11 (an independent emulator): 40 ms one way, 20 Mbit/s.
      return { oneWayDelayMs: 40, bandwidthBitsPerSec: 20_000_000, discipline, queueBytes: 400 * 1024 };
  }
}

export function isProfileName(value: string): value is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(value);
}
