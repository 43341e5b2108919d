// Synthetic data sets for the payload stage benchmarks: image-like uint16 (smooth background, noisy
// object), float32 model weights (normal distribution), and random bytes. Deterministic per seed.

export function randomData(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const words = new Uint32Array(out.buffer, 0, Math.floor(bytes / 4));
  let state = seed | 0 || 1;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  return out;
}

export function imageLikeData(bytes: number, seed: number): Uint8Array {
  const pixels = Math.floor(bytes / 2);
  const width = 4096;
  const height = Math.ceil(pixels / width);
  const noise = randomData(pixels + 4, seed);
  const out = new Uint16Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    const dx = x - width / 2;
    const dy = y - height / 2;
    const inside = dx * dx + dy * dy < (width * height) / 12;
    out[i] = 100 + (inside ? 1500 + (noise[i]! & 0xff) * 4 : noise[i]! & 7);
  }
  return new Uint8Array(out.buffer);
}

export function float32WeightsData(bytes: number, seed: number): Uint8Array {
  const count = Math.floor(bytes / 4);
  const uniform = randomData(count * 4 + 8, seed);
  const words = new Uint32Array(uniform.buffer, 0, count + 1);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = (words[i]! + 1) / 4294967297;
    const u2 = (words[i + 1]! + 1) / 4294967297;
    const r = Math.sqrt(-2 * Math.log(u1)) * 0.02;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return new Uint8Array(out.buffer);
}

export const dataSets = {
  image: imageLikeData,
  weights: float32WeightsData,
  random: randomData,
} as const;
