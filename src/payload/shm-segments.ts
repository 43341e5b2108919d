// Shared-memory segments between the two proxies of a pair that share a host: plain files on a
// memory-backed directory (tmpfs), one per blob, mode 0600 with unguessable names in a 0700 per-pair
// directory, bounded in total bytes, unlinked by the reader when consumed, swept at start-up.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { isValidSegmentName } from './payload-wire.js';
import { PayloadError, PayloadErrorCode } from './payload-error.js';

/** What the sender and receiver need; implemented by ShmSegments. */
export interface ShmChannel {
  /** Writes a segment and returns its name, or null when the caller must use the link instead. */
  write(bytes: Uint8Array): Promise<string | null>;
  /** Reads and unlinks a segment the peer wrote; throws PayloadError(SHM_SEGMENT_INVALID). */
  read(segmentName: string, totalBytes: number): Promise<Uint8Array>;
  /** Forgets (and unlinks if still there) a segment this side wrote. */
  release(segmentName: string): Promise<void>;
}

export interface ShmOptions {
  /** Memory-backed directory shared by both proxies (default /dev/shm/hypha-accel-<uid>). */
  baseDir: string;
  /** Identifies the pair; both sides use the same id (agreed in the handshake). */
  pairId: string;
  /** Unique among live processes using baseDir and stable across restarts (e.g. "edge1"). */
  writerId: string;
  /** Bytes of unconsumed segments this side may have written at once. */
  maxTotalBytes: number;
  /** Segments older than this are leftovers and swept. */
  maxSegmentAgeMs: number;
  nowMs: () => number;
  /** Sweep leftovers on open (default true). Off when one process opens several pairs with one writerId:
   * sweep once at start-up with ShmSegments.sweepLeftovers instead, or a later open would remove the live
   * segments of the earlier pairs. */
  sweep?: boolean;
}

const idPattern = /^[A-Za-z0-9_]{1,40}$/;

/** Names this code creates under a pair directory: segments and handshake probes. */
function isOurFileName(name: string): boolean {
  return isValidSegmentName(name) || /^probe-[0-9a-f]{32}$/.test(name);
}

/** The subfolder of a configured shmDir that holds everything of ours (the user's directory is never changed). */
export const SHM_SUBDIR = 'hypha-accel-shm';

export function defaultShmBaseDir(): string {
  return `/dev/shm/hypha-accel-${process.getuid?.() ?? 'user'}`;
}

export const defaultShmOptions = {
  maxTotalBytes: 1024 * 1024 * 1024,
  maxSegmentAgeMs: 10 * 60 * 1000,
} as const;

export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory() || (process.getuid && stat.uid !== process.getuid())) {
    throw new PayloadError(PayloadErrorCode.shmSegmentInvalid, `${dir} is not a directory we own`);
  }
  if ((stat.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
}

export class ShmSegments implements ShmChannel {
  readonly pairDir: string;
  private readonly outstanding = new Map<string, number>();
  private outstandingBytesTotal = 0;

  private constructor(readonly options: ShmOptions) {
    this.pairDir = join(options.baseDir, options.pairId);
  }

  /** Creates the private directories and sweeps leftovers of earlier lives of this writer. */
  static async open(options: ShmOptions): Promise<ShmSegments> {
    if (!idPattern.test(options.pairId) || !idPattern.test(options.writerId)) {
      throw new RangeError('pairId and writerId must match [A-Za-z0-9_]{1,40}');
    }
    const segments = new ShmSegments(options);
    await ensurePrivateDir(options.baseDir);
    if (options.sweep !== false) await segments.sweep();
    await ensurePrivateDir(segments.pairDir);
    return segments;
  }

  /**
   * The sweep alone (see sweep()), for a process that opens its pairs with `sweep: false`: at start-up, and
   * periodically with agedOnly (then only files older than maxSegmentAgeMs go).
   */
  static async sweepLeftovers(options: Omit<ShmOptions, 'pairId' | 'maxTotalBytes' | 'sweep'>, agedOnly = false): Promise<number> {
    if (!idPattern.test(options.writerId)) throw new RangeError('writerId must match [A-Za-z0-9_]{1,40}');
    await ensurePrivateDir(options.baseDir);
    const sweeper = new ShmSegments({ ...options, pairId: '.', maxTotalBytes: 0 });
    return sweeper.sweep(agedOnly);
  }

  get outstandingBytes(): number {
    return this.outstandingBytesTotal;
  }

  get outstandingSegments(): number {
    return this.outstanding.size;
  }

  /**
   * Removes, in every pair directory under baseDir, files this writer left behind (it is starting, so
   * none is live; skipped with agedOnly, for periodic sweeps of a running process) and any file older than
   * maxSegmentAgeMs; then removes empty pair directories. Only names this code issues (segments, probes)
   * are ever touched. Returns the number of files removed.
   */
  async sweep(agedOnly = false): Promise<number> {
    const { baseDir, writerId, maxSegmentAgeMs, nowMs } = this.options;
    let removed = 0;
    const dirs = await fs.readdir(baseDir, { withFileTypes: true }).catch(() => []);
    for (const dirent of dirs) {
      if (!dirent.isDirectory() || !idPattern.test(dirent.name)) continue;
      const dir = join(baseDir, dirent.name);
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      let kept = 0;
      for (const name of names) {
        const path = join(dir, name);
        const stat = !isOurFileName(name) ? undefined : await fs.lstat(path).catch(() => undefined);
        if (!stat || !stat.isFile()) {
          kept++; // not a file we make: never touched
          continue;
        }
        const ours = !agedOnly && name.startsWith(`${writerId}-`) && !this.outstanding.has(name);
        if (ours || nowMs() - stat.mtimeMs > maxSegmentAgeMs) {
          await fs.unlink(path).then(() => removed++, () => undefined);
        } else {
          kept++;
        }
      }
      if (kept === 0 && dir !== this.pairDir) await fs.rmdir(dir).catch(() => undefined);
    }
    return removed;
  }

  async write(bytes: Uint8Array): Promise<string | null> {
    if (this.outstandingBytesTotal + bytes.byteLength > this.options.maxTotalBytes) return null;
    const name = `${this.options.writerId}-${randomBytes(16).toString('hex')}.seg`;
    const path = join(this.pairDir, name);
    this.outstanding.set(name, bytes.byteLength);
    this.outstandingBytesTotal += bytes.byteLength;
    let handle: fs.FileHandle | undefined;
    try {
      const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
      handle = await fs.open(path, flags, 0o600).catch(async (error: NodeJS.ErrnoException) => {
        // Another process's start-up sweep removes empty pair directories: recreate ours once.
        if (error.code !== 'ENOENT') throw error;
        await ensurePrivateDir(this.pairDir);
        return fs.open(path, flags, 0o600);
      });
      let offset = 0;
      while (offset < bytes.byteLength) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset);
        offset += bytesWritten;
      }
      await handle.close();
      return name;
    } catch {
      await handle?.close().catch(() => undefined);
      await this.release(name); // ENOSPC (full tmpfs), EACCES, ...: the caller falls back to the link
      return null;
    }
  }

  async read(segmentName: string, totalBytes: number): Promise<Uint8Array> {
    const invalid = (why: string): PayloadError => new PayloadError(PayloadErrorCode.shmSegmentInvalid, `segment ${segmentName}: ${why}`);
    if (!isValidSegmentName(segmentName)) throw invalid('not a name we issue');
    const path = join(this.pairDir, segmentName);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (error) {
      throw invalid((error as Error).message);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile() || stat.size !== totalBytes) throw invalid(`size ${stat.size}, expected ${totalBytes}`);
      if ((stat.mode & 0o077) !== 0 || (process.getuid && stat.uid !== process.getuid())) throw invalid('not private to our user');
      const bytes = Buffer.allocUnsafe(totalBytes);
      let offset = 0;
      while (offset < totalBytes) {
        const { bytesRead } = await handle.read(bytes, offset, totalBytes - offset, offset);
        if (bytesRead === 0) throw invalid('truncated');
        offset += bytesRead;
      }
      return bytes;
    } finally {
      await handle.close().catch(() => undefined);
      await fs.unlink(path).catch(() => undefined); // consumed (or bad): reclaim the memory now
    }
  }

  async release(segmentName: string): Promise<void> {
    const bytes = this.outstanding.get(segmentName);
    if (bytes !== undefined) {
      this.outstanding.delete(segmentName);
      this.outstandingBytesTotal -= bytes;
    }
    if (isValidSegmentName(segmentName)) await fs.unlink(join(this.pairDir, segmentName)).catch(() => undefined);
  }
}
