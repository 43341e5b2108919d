// Shared-memory segments and the handshake probe on a real tmpfs: private permissions, round trips
// through endpoints with shm on, reclaim on consumption, crash leftovers swept, fallback when full.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ShmSegments, type ShmOptions } from '../../src/payload/shm-segments.js';
import { answerProbe, checkProbeProof, discardProbe, writeProbe } from '../../src/payload/shm-probe.js';
import { PayloadError, PayloadErrorCode } from '../../src/payload/payload-error.js';
import { FrameKind } from '../../src/payload/payload-wire.js';
import { createHarness, randomBytesSeeded, sameBytes } from './payload-harness.js';

const memoryRoot = (await fs.stat('/dev/shm').then(() => '/dev/shm', () => undefined)) ?? '/tmp';

async function tempBase(): Promise<string> {
  return join(memoryRoot, `hypha-accel-test-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function options(baseDir: string, writerId: string, extra: Partial<ShmOptions> = {}): ShmOptions {
  return { baseDir, pairId: 'pair1', writerId, maxTotalBytes: 64 * 1024 * 1024, maxSegmentAgeMs: 60_000, nowMs: () => Date.now(), ...extra };
}

test('segments are 0600 files in 0700 directories, read once and reclaimed', async () => {
  const baseDir = await tempBase();
  try {
    const writer = await ShmSegments.open(options(baseDir, 'edge1'));
    const reader = await ShmSegments.open(options(baseDir, 'gw1'));
    assert.equal((await fs.stat(baseDir)).mode & 0o777, 0o700);
    assert.equal((await fs.stat(writer.pairDir)).mode & 0o777, 0o700);
    const blob = randomBytesSeeded(3 * 1024 * 1024, 1);
    const name = await writer.write(blob);
    assert.ok(name && /^edge1-[0-9a-f]{32}\.seg$/.test(name), 'name && /^edge1-[0-9a-f]{32}\\.seg$/.test(name)');
    assert.equal((await fs.stat(join(writer.pairDir, name))).mode & 0o777, 0o600);
    assert.equal(writer.outstandingBytes, blob.length);
    assert.ok(sameBytes(await reader.read(name, blob.length), blob), 'sameBytes(await reader.read(name, blob.length), blob)');
    await assert.rejects(fs.stat(join(writer.pairDir, name)), /ENOENT/);
    await assert.rejects(reader.read(name, blob.length), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.shmSegmentInvalid);
    await writer.release(name);
    assert.equal(writer.outstandingBytes, 0);
  } finally {
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});

test('a segment of the wrong size, with loose permissions or a foreign name is refused', async () => {
  const baseDir = await tempBase();
  try {
    const segments = await ShmSegments.open(options(baseDir, 'edge1'));
    const name = (await segments.write(new Uint8Array(100)))!;
    await assert.rejects(segments.read(name, 99), /size 100, expected 99/);
    const loose = (await segments.write(new Uint8Array(10)))!;
    await fs.chmod(join(segments.pairDir, loose), 0o644);
    await assert.rejects(segments.read(loose, 10), /not private/);
    await assert.rejects(segments.read('../../etc/passwd', 10), /not a name we issue/);
  } finally {
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});

test('crash leftovers are swept at start-up; live files of other writers are kept', async () => {
  const baseDir = await tempBase();
  try {
    const first = await ShmSegments.open(options(baseDir, 'edge1'));
    const other = await ShmSegments.open(options(baseDir, 'gw1'));
    const leftover = (await first.write(new Uint8Array(1000)))!; // edge1 "crashes" here
    const live = (await other.write(new Uint8Array(1000)))!;
    const stalePairDir = join(baseDir, 'oldpair');
    await fs.mkdir(stalePairDir, { mode: 0o700 });
    await fs.writeFile(join(stalePairDir, 'gw9-old.seg'), 'x', { mode: 0o600 });
    const old = new Date(Date.now() - 3_600_000);
    await fs.utimes(join(stalePairDir, 'gw9-old.seg'), old, old);
    const restarted = await ShmSegments.open(options(baseDir, 'edge1'));
    assert.deepEqual(await fs.readdir(restarted.pairDir), [live]);
    await assert.rejects(fs.stat(stalePairDir), /ENOENT/, 'aged leftovers and their empty pair directory are gone');
    assert.ok(leftover, 'leftover');
  } finally {
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});

test('probe: the peer proves it read our nonce; a different directory or a forged proof fails', async () => {
  const baseDir = await tempBase();
  const otherBase = await tempBase();
  try {
    const probe = await writeProbe(baseDir, 'pair1');
    assert.equal((await fs.stat(probe.path)).mode & 0o777, 0o600);
    assert.ok(checkProbeProof(probe, await answerProbe(baseDir, probe.offer)), 'checkProbeProof(probe, await answerProbe(baseDir, probe.offer))');
    assert.equal(await answerProbe(otherBase, probe.offer), null);
    assert.equal(checkProbeProof(probe, null), false);
    assert.equal(checkProbeProof(probe, randomBytes(32)), false);
    assert.equal(await answerProbe(baseDir, { pairId: '..', probeName: probe.offer.probeName }), null);
    await discardProbe(probe);
    assert.equal(await answerProbe(baseDir, probe.offer), null);
  } finally {
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});

test('endpoints with shm on move large blobs through segments and small ones over the link', async () => {
  const baseDir = await tempBase();
  const a = await ShmSegments.open(options(baseDir, 'edge1'));
  const b = await ShmSegments.open(options(baseDir, 'gw1'));
  const h = createHarness({ shmThresholdBytes: 64 * 1024, lz4Enabled: false, zstdEnabled: false }, undefined, { a, b });
  try {
    const big = randomBytesSeeded(5 * 1024 * 1024 + 3, 2);
    assert.ok(sameBytes(await h.roundTrip(h.a, big), big), 'sameBytes(await h.roundTrip(h.a, big), big)');
    assert.ok(sameBytes(await h.roundTrip(h.b, big), big), 'sameBytes(await h.roundTrip(h.b, big), big)');
    const small = randomBytesSeeded(1000, 3);
    assert.ok(sameBytes(await h.roundTrip(h.a, small), small), 'sameBytes(await h.roundTrip(h.a, small), small)');
    assert.equal(h.a.pair.metrics.shmBlobsSent, 1);
    assert.equal(h.b.pair.metrics.shmBlobsReceived, 1);
    assert.ok(h.a.emitted.every((f) => f.byteLength < 64 * 1024), 'the big blob never crossed the link');
    assert.equal(a.outstandingBytes + b.outstandingBytes, 0, 'segments reclaimed after ACK');
    assert.deepEqual(await fs.readdir(a.pairDir), []);
  } finally {
    await h.close();
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});

test('a full or broken shm directory makes the sender fall back to the link', async () => {
  const baseDir = await tempBase();
  const a = await ShmSegments.open(options(baseDir, 'edge1', { maxTotalBytes: 1024 * 1024 }));
  const b = await ShmSegments.open(options(baseDir, 'gw1'));
  const h = createHarness({ shmThresholdBytes: 1024, lz4Enabled: false, zstdEnabled: false }, undefined, { a, b });
  try {
    const big = randomBytesSeeded(2 * 1024 * 1024, 4);
    assert.ok(sameBytes(await h.roundTrip(h.a, big), big), 'sameBytes(await h.roundTrip(h.a, big), big)'); // above maxTotalBytes: full
    assert.equal(h.a.pair.metrics.shmFallbacks, 1);
    assert.ok(h.a.emitted.some((f) => f[0] === FrameKind.manifest), 'h.a.emitted.some((f) => f[0] === FrameKind.manifest)');
    await fs.rm(a.pairDir, { recursive: true });
    await fs.writeFile(a.pairDir, 'not a directory'); // writes now fail (ENOTDIR), like ENOSPC would
    const medium = randomBytesSeeded(100_000, 5);
    assert.ok(sameBytes(await h.roundTrip(h.a, medium), medium), 'sameBytes(await h.roundTrip(h.a, medium), medium)');
    assert.equal(h.a.pair.metrics.shmFallbacks, 2);
    assert.equal(a.outstandingBytes, 0);
  } finally {
    await h.close();
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});

test('a segment changed after it was written, or shm frames without shm, fail the blob with a coded error', async () => {
  const baseDir = await tempBase();
  const a = await ShmSegments.open(options(baseDir, 'edge1'));
  const b = await ShmSegments.open(options(baseDir, 'gw1'));
  const h = createHarness({ shmThresholdBytes: 1024, lz4Enabled: false, zstdEnabled: false }, undefined, { a, b });
  try {
    const tampering = {
      write: async (bytes: Uint8Array) => {
        const name = await a.write(bytes);
        if (name) await fs.writeFile(join(a.pairDir, name), Buffer.alloc(bytes.byteLength, 1), { mode: 0o600 });
        return name;
      },
      read: a.read.bind(a),
      release: a.release.bind(a),
    };
    const h2 = createHarness({ shmThresholdBytes: 1024 }, undefined, { a: tampering, b });
    try {
      await assert.rejects(h2.roundTrip(h2.a, randomBytesSeeded(5000, 1)), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.hashMismatch);
    } finally {
      await h2.close();
    }
    const noShm = createHarness({ shmThresholdBytes: 1024 }, undefined, undefined);
    try {
      // Forward a's SHM frame to a receiver that never negotiated shared memory.
      const id = await h.a.endpoint.sendBlob(randomBytesSeeded(5000, 2));
      const shmFrame = h.a.emitted.find((f) => f[0] === FrameKind.shm)!;
      const pending = noShm.b.endpoint.takeBlob(id);
      await noShm.b.endpoint.receiveFrame(shmFrame);
      await assert.rejects(pending, (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.shmSegmentInvalid);
    } finally {
      await noShm.close();
    }
  } finally {
    await h.close();
    await fs.rm(baseDir, { recursive: true, force: true });
  }
});
