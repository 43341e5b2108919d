// The shared-memory side of a role: the handshake hooks that write (edge) or answer (gateway) the probe,
// the ShmSegments of each pair once a probe succeeded, and the start-up sweep of crash leftovers. One per
// role process; every failure here only means "no shared memory" (logged at debug), never a failed link.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CommonConfig } from '../config/load.js';
import type { ShmHandshake, ShmProbeHandle } from '../link/establish.js';
import type { ShmOffer } from '../link/handshake.js';
import {
  SHM_SUBDIR, ShmSegments, answerProbe, defaultShmBaseDir, defaultShmOptions, discardProbe, expectedProbeProof, writeProbe,
} from '../payload/index.js';
import type { Logger } from '../log.js';

export interface ShmSetupOptions {
  role: 'edge' | 'gateway';
  /** The port this role listens on: with the role it makes a writer id that is unique among live processes
   * on the host (one listener per port) and stable across restarts, so a restart sweeps its leftovers. */
  listenPort: number;
  /** Set when the role runs as several workers on one port (src/roles/workers.ts): part of the writer id. */
  workerIndex?: number;
  nowMs?: () => number;
}

export class ShmSetup implements ShmHandshake {
  readonly baseDir: string;
  /** Segment-file prefix of this process; the edge also uses it as its pair id (one directory per edge). */
  readonly writerId: string;
  private readonly segments = new Map<string, Promise<ShmSegments | undefined>>();
  private readonly readyPairs = new Map<string, ShmSegments>();
  private readonly nowMs: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: CommonConfig, options: ShmSetupOptions, private readonly log: Logger) {
    // A configured directory is the user's (an emptyDir, a tmpfs): ours is a subfolder of it, the only
    // place we create, chmod or sweep.
    this.baseDir = config.shmDir ? join(config.shmDir, SHM_SUBDIR) : defaultShmBaseDir();
    const worker = options.workerIndex === undefined ? '' : `\nworker ${options.workerIndex}`;
    const digest = createHash('sha256').update(`hypha-accel shm writer\n${options.role}\n${options.listenPort}${worker}`).digest('hex');
    this.writerId = `${options.role === 'edge' ? 'e' : 'g'}${digest.slice(0, 16)}`;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Start-up: removes this writer's segments from an earlier life and anything older than the age bound. */
  async sweep(): Promise<void> {
    try {
      const removed = await ShmSegments.sweepLeftovers({
        baseDir: this.baseDir, writerId: this.writerId, maxSegmentAgeMs: defaultShmOptions.maxSegmentAgeMs, nowMs: this.nowMs,
      });
      this.log.info({ dir: this.baseDir, writer: this.writerId, removed }, 'shared memory: start-up sweep');
    } catch (error) {
      this.log.info({ dir: this.baseDir, err: (error as Error).message }, 'shared memory: directory unusable, links will not use it');
    }
  }

  /** Removes segments older than the age bound (a crashed peer's leftovers), every intervalMs. */
  startPeriodicSweep(intervalMs = defaultShmOptions.maxSegmentAgeMs / 2): void {
    this.stopPeriodicSweep();
    this.sweepTimer = setInterval(() => void this.sweepAged(), intervalMs);
    this.sweepTimer.unref();
  }

  stopPeriodicSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** One periodic sweep: only files older than the age bound, never a live segment of this process. */
  async sweepAged(): Promise<number> {
    try {
      const removed = await ShmSegments.sweepLeftovers({
        baseDir: this.baseDir, writerId: this.writerId, maxSegmentAgeMs: defaultShmOptions.maxSegmentAgeMs, nowMs: this.nowMs,
      }, true);
      if (removed > 0) this.log.info({ dir: this.baseDir, removed }, 'shared memory: periodic sweep');
      return removed;
    } catch (error) {
      this.log.debug({ dir: this.baseDir, err: (error as Error).message }, 'shared memory: periodic sweep failed');
      return 0;
    }
  }

  async probe(): Promise<ShmProbeHandle | undefined> {
    try {
      const probe = await writeProbe(this.baseDir, this.writerId);
      return { offer: probe.offer, expected: expectedProbeProof(probe), discard: () => discardProbe(probe) };
    } catch (error) {
      this.log.debug({ dir: this.baseDir, err: (error as Error).message }, 'shared memory: cannot write the probe');
      return undefined;
    }
  }

  async answer(offer: ShmOffer): Promise<Uint8Array | null> {
    const proof = await answerProbe(this.baseDir, offer);
    if (!proof) this.log.debug({ dir: this.baseDir, pair: offer.pairId }, 'shared memory: the edge\'s probe is not visible here');
    return proof;
  }

  async ready(pairId: string): Promise<boolean> {
    return (await this.channel(pairId)) !== undefined;
  }

  /** The pair's segments (opened once per pair id), or undefined when they cannot be opened. */
  channel(pairId: string): Promise<ShmSegments | undefined> {
    let opening = this.segments.get(pairId);
    if (!opening) {
      opening = ShmSegments.open({
        baseDir: this.baseDir, pairId, writerId: this.writerId, maxTotalBytes: this.config.shmMaxBytes,
        maxSegmentAgeMs: defaultShmOptions.maxSegmentAgeMs, nowMs: this.nowMs,
        sweep: false, // swept once at start-up: a gateway opens one pair per edge with the same writer id
      }).then(
        (segments) => {
          this.log.info({ dir: segments.pairDir, writer: this.writerId }, 'shared memory: pair ready');
          this.readyPairs.set(pairId, segments);
          return segments;
        },
        (error: unknown) => {
          this.segments.delete(pairId); // try again on the next link
          this.log.info({ dir: this.baseDir, pair: pairId, err: (error as Error).message }, 'shared memory: cannot open the pair directory');
          return undefined;
        },
      );
      this.segments.set(pairId, opening);
    }
    return opening;
  }

  /** The segments of a pair whose ready() succeeded (synchronous, for the link's session factory). */
  segmentsFor(pairId: string | undefined): ShmSegments | undefined {
    return pairId === undefined ? undefined : this.readyPairs.get(pairId);
  }

  /** Gauges over every pair opened so far. */
  metrics(): { shmOutstandingBytes: number; shmOutstandingSegments: number } {
    let shmOutstandingBytes = 0;
    let shmOutstandingSegments = 0;
    for (const segments of this.readyPairs.values()) {
      shmOutstandingBytes += segments.outstandingBytes;
      shmOutstandingSegments += segments.outstandingSegments;
    }
    return { shmOutstandingBytes, shmOutstandingSegments };
  }
}
