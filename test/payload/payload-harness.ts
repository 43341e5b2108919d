// In-memory pair of payload endpoints for tests: frames travel in order through an async chain per
// direction, with hooks to tamper with or drop frames. No sockets, no timers.

import { PayloadEndpoint } from '../../src/payload/payload-endpoint.js';
import { PayloadPair } from '../../src/payload/payload-pair.js';
import type { PayloadOptions } from '../../src/payload/payload-options.js';
import type { ShmChannel } from '../../src/payload/shm-segments.js';

export type FrameHook = (frame: Uint8Array) => Uint8Array | null;

export interface Side {
  pair: PayloadPair;
  endpoint: PayloadEndpoint;
  /** Rewrites (or drops, returning null) each frame this side emits. */
  hook: FrameHook;
  emitted: Uint8Array[];
}

export interface Harness {
  a: Side;
  b: Side;
  /** Sends from `from` and returns what the other side received (or throws its coded error). */
  roundTrip(from: Side, bytes: Uint8Array): Promise<Uint8Array>;
  /** Resolves when no frame is in flight in either direction. */
  quiet(): Promise<void>;
  close(): Promise<void>;
}

export function createHarness(
  optionsA: Partial<PayloadOptions> = {},
  optionsB: Partial<PayloadOptions> = optionsA,
  shm?: { a: ShmChannel; b: ShmChannel },
): Harness {
  const chains = { a: Promise.resolve(), b: Promise.resolve() };
  const sides = {} as { a: Side; b: Side };
  const make = (name: 'a' | 'b', options: Partial<PayloadOptions>): Side => {
    const pair = new PayloadPair(options);
    const peerName = name === 'a' ? 'b' : 'a';
    const side: Side = {
      pair,
      hook: (frame) => frame,
      emitted: [],
      endpoint: new PayloadEndpoint({
        pair,
        shm: shm?.[name],
        emitFrame: (frame) => {
          const copy = frame.slice();
          side.emitted.push(copy);
          const delivered = side.hook(copy);
          if (delivered === null) return;
          chains[name] = chains[name].then(() => sides[peerName].endpoint.receiveFrame(delivered));
        },
      }),
    };
    return side;
  };
  sides.a = make('a', optionsA);
  sides.b = make('b', optionsB);
  const quiet = async (): Promise<void> => {
    for (;;) {
      const before = [chains.a, chains.b];
      await Promise.all(before);
      await new Promise((resolve) => setImmediate(resolve));
      if (chains.a === before[0] && chains.b === before[1]) return;
    }
  };
  return {
    a: sides.a,
    b: sides.b,
    quiet,
    async roundTrip(from, bytes) {
      const to = from === sides.a ? sides.b : sides.a;
      const blobId = await from.endpoint.sendBlob(bytes);
      try {
        return await to.endpoint.takeBlob(blobId);
      } finally {
        await quiet();
      }
    },
    async close() {
      for (const side of [sides.a, sides.b]) {
        side.endpoint.close();
        await side.pair.close();
      }
    },
  };
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function randomBytesSeeded(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** An image-like uint16 array: smooth background with a noisy blob, little-endian. */
export function imageLikeBytes(width: number, height: number, seed: number): Uint8Array {
  const noise = randomBytesSeeded(width * height, seed);
  const out = new Uint8Array(width * height * 2);
  const view = new DataView(out.buffer);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - width / 2;
      const dy = y - height / 2;
      const inside = dx * dx + dy * dy < (width * height) / 16;
      const value = 100 + (inside ? 2000 + (noise[y * width + x]! & 0x3f) * 8 : noise[y * width + x]! & 3);
      view.setUint16((y * width + x) * 2, value, true);
    }
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}
