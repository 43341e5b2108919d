// Payload bytes per array byte for the S3 arrays (made by bench/clients/bench_client.py's generator) sent as
// hypha-rpc sends them: 256 KiB message_cache slices of the encoded message, the array starting `phase`
// bytes into it; through a pair of payload endpoints at a link estimate. Frame bytes are counted with the
// link's per-frame overhead (13 B: 12-byte header, 1-byte compact prefix), so the figure compares with the
// bench's wirePayloadBytesPerUnit. Run: node --import tsx bench/payload/image-slices.ts [--kind image|weights]
// [--mib 16] [--phases 0,1,201] [--mbps 20,40] [--v4 true|false]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHarness } from '../../test/payload/payload-harness.js';
import { VENV_PYTHON, REPO_ROOT } from '../../test/helpers/hypha-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const kind = option('kind', 'image');
const mib = Number(option('mib', '16'));
const phases = option('phases', '0,1,201').split(',').map(Number);
const mbpsList = option('mbps', '20').split(',').map(Number);
const payloadV4 = option('v4', 'true') === 'true';
const SLICE_BYTES = 256 * 1024;
const LINK_FRAME_OVERHEAD = 13;

const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-slices-'));
execFileSync(VENV_PYTHON, ['-c', `
import sys; sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'bench/clients'))})
from bench_client import make_array
make_array(${JSON.stringify(kind)}, ${mib * 1024 * 1024}, 1000).tofile(${JSON.stringify(join(dir, 'a.bin'))})
`]);
const array = readFileSync(join(dir, 'a.bin'));
rmSync(dir, { recursive: true });

for (const mbps of mbpsList) {
  for (const phase of phases) {
    // The encoded message: `phase` bytes of envelope (msgpack header, other fields), the array, a short tail.
    const message = Buffer.concat([Buffer.alloc(phase, 0x82), array, Buffer.from('tail')]);
    const options = { lz4Enabled: false, payloadV4, initialLinkEstimate: { throughputBytesPerSec: (mbps * 1e6) / 8, rttMs: 120 } };
    const h = createHarness(options, options);
    let frames = 0;
    let bytes = 0;
    const startEmitted = h.a.emitted.length;
    for (let at = 0; at < message.length; at += SLICE_BYTES) await h.roundTrip(h.a, message.subarray(at, at + SLICE_BYTES));
    for (const frame of h.a.emitted.slice(startEmitted)) {
      frames++;
      bytes += frame.length + LINK_FRAME_OVERHEAD;
    }
    for (const frame of h.b.emitted) bytes += frame.length + LINK_FRAME_OVERHEAD; // ACKs back
    const m = h.a.pair.metrics;
    console.log(`${kind} ${mib} MiB, ${mbps} Mbit/s, phase ${phase}, payload-v4 ${payloadV4}: ${(bytes / array.length).toFixed(4)} payload B per array B (${frames} frames); unit bodies ${(m.unitWireBytes / m.unitRawBytes).toFixed(4)} of their raw bytes; level ${m.unitLevel}; units by element bytes ${JSON.stringify(m.unitsByElementBytes)}; planes ${JSON.stringify(m.unitPlanesByCodec)}`);
    await h.close();
  }
}
