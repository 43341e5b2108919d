// CPU cost and size of the unit coding (src/payload/unit-codec.ts) on the S3 arrays, as an edge packs them:
// each unit is one 256 KiB message_cache slice wrapped like a hypha call (an envelope ending in a msgpack
// bin32 header, the slice, a short trailer), given as ~16 KiB chunk views. Encodes every unit one after
// another (so process CPU = the coding's CPU, threadpool included), then decodes them and checks the bytes.
// Prints CPU ms per MB of array (encode, decode), unit bytes per array byte and the data's entropy (the
// generator's: image 0.2010, weights ~0.82). Like UnitPacker, every 8th unit tries every codec and the
// others get what won there (`planeHints`; a checkout from before them gets `tryZstd`). `--root DIR` codes
// with another checkout's src (an A/B: run both, interleaved by hand). Run:
//   node --import tsx bench/payload/unit-cost.ts [--kind image|weights] [--mib 16] [--levels 1,3,6,9] [--rounds 3] [--root DIR]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VENV_PYTHON, REPO_ROOT } from '../../test/helpers/hypha-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const kind = option('kind', 'image');
const mib = Number(option('mib', '16'));
const levels = option('levels', '1,3,6,9').split(',').map(Number);
const rounds = Number(option('rounds', '3'));
const root = option('root', REPO_ROOT);
const codec = (await import(join(root, 'src/payload/unit-codec.ts'))) as typeof import('../../src/payload/unit-codec.js');
const { decodeUnit, encodeUnit, PlaneCodec } = codec;
const hasHints = 'shufflePlanes' in (await import(join(root, 'src/payload/byte-shuffle.ts')));
const SLICE_BYTES = 256 * 1024;
const ENTROPY: Record<string, number> = { image: 0.2010, weights: 0.82 };

const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-unit-cost-'));
execFileSync(VENV_PYTHON, ['-c', `
import sys; sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'bench/clients'))})
from bench_client import make_array
make_array(${JSON.stringify(kind)}, ${mib * 1024 * 1024}, 1000).tofile(${JSON.stringify(join(dir, 'a.bin'))})
`]);
const array = readFileSync(join(dir, 'a.bin'));
rmSync(dir, { recursive: true });
const elementBytes = kind === 'image' ? 2 : 4;

// Units as the edge sees them: envelope (odd length, so the array starts at an odd phase) + bin32 + slice + trailer.
const units: Array<{ pieces: Uint8Array[]; rawBytes: number; arrayBytes: number }> = [];
for (let at = 0; at < array.length; at += SLICE_BYTES) {
  const slice = array.subarray(at, Math.min(array.length, at + SLICE_BYTES));
  const head = Buffer.alloc(5);
  head[0] = 0xc6;
  head.writeUInt32BE(slice.length, 1);
  const message = Buffer.concat([Buffer.alloc(266, 0x82), head, slice, Buffer.alloc(25, 0xa3)]);
  const pieces: Uint8Array[] = [];
  for (let p = 0; p < message.length; p += 16411) pieces.push(message.subarray(p, Math.min(message.length, p + 16411)));
  units.push({ pieces, rawBytes: message.length, arrayBytes: slice.length });
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const arrayMB = array.length / 1e6;
for (const level of levels) {
  for (let round = 0; round < rounds; round++) {
    let c0 = cpuMs();
    let t0 = performance.now();
    const bodies: Uint8Array[] = [];
    let winners: number[] | undefined;
    let planeLevels: number[] | undefined;
    for (const [i, unit] of units.entries()) {
      const probe = winners === undefined || i % 8 === 0;
      const learnt = probe ? {} : hasHints ? { planeHints: winners, planeLevels } : { tryZstd: winners!.map((codec) => codec === PlaneCodec.zstd) };
      const encoded = await encodeUnit(unit.pieces, unit.rawBytes, { elementBytes, zstdLevel: level, payloadV4: true, ...learnt } as Parameters<typeof encodeUnit>[2]);
      if (probe) {
        // As UnitPacker.rememberPlanes (a checkout without planeSizes remembers the codecs as they are).
        const { planeSizes, planeLevels: levelsWon } = encoded as { planeSizes?: Array<{ coded: number; raw: number }>; planeLevels?: number[] };
        winners = encoded.planeCodecs.map((codec, j) => (planeSizes && planeSizes[j]!.coded > planeSizes[j]!.raw * 0.99 ? PlaneCodec.raw : codec));
        planeLevels = levelsWon;
      }
      bodies.push(encoded.body);
    }
    const encodeCpu = cpuMs() - c0;
    const encodeWall = performance.now() - t0;
    c0 = cpuMs();
    t0 = performance.now();
    units.forEach((unit, i) => {
      const out = decodeUnit(bodies[i]!, unit.rawBytes, elementBytes);
      if (!Buffer.from(out).equals(Buffer.concat(unit.pieces))) throw new Error(`unit ${i} did not round-trip`);
    });
    const decodeCpu = cpuMs() - c0;
    const bodyBytes = bodies.reduce((sum, b) => sum + b.byteLength, 0);
    console.log(`${root === REPO_ROOT ? 'this' : root} ${kind} level ${level} round ${round}: encode ${(encodeCpu / arrayMB).toFixed(1)} ms CPU/MB (wall ${(encodeWall / arrayMB).toFixed(1)}), decode+check ${(decodeCpu / arrayMB).toFixed(1)} ms CPU/MB; ${(bodyBytes / array.length).toFixed(4)} unit B per array B (entropy ${ENTROPY[kind] ?? '?'})`);
  }
}
