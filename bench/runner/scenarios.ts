// The workloads S1-S5 of docs/benchmarks.md, each run on one rig (one arm, one topology) and returning
// figures. Correctness is checked inside the clients (a wrong echo or digest rejects the request), so
// a measurement either carries figures of correct calls or an error.

import { linkBytesBetween, proxyCostBetween, roleCpuBetween, wireBetween, type Rig } from './rig.js';
import { runBootstrap } from './py-client.js';
import type { Figures, ProxyCost } from './results.js';
import { percentile } from './stats.js';

export interface ScenarioOutput {
  variant: string;
  figures: Figures;
  /** CPU seconds per proxy during this measurement, and its peak RSS so far. */
  proxyCost: Record<string, ProxyCost>;
  /** CPU seconds per role (edge, gateway, hypha, clients, runner, emulator) during this measurement. */
  roleCpu: Record<string, number>;
}

export interface Sizes {
  s1SequentialCalls: number;
  s1ConcurrentCalls: number;
  /** S1 in-flight levels (--s1-concurrency); default [1, 64]. 1 runs s1SequentialCalls as `seq`. */
  s1Concurrency?: number[];
  s3Bytes: number;
  s3Kinds: string[];
  s4Bytes: number;
  s4Passes: number;
  s5Bytes: number;
}

export function callerOf(rig: Rig, index = 0) {
  const caller = rig.callers[index];
  if (!caller) throw new Error(`rig ${rig.options.label} has no caller ${index}`);
  return caller;
}

/** Wraps a measured body with link-byte and proxy-cost accounting. */
export async function measured(rig: Rig, variant: string, body: () => Promise<Figures>, perLinkUnit?: number): Promise<ScenarioOutput> {
  const before = await rig.snapshot();
  const figures = await body();
  const after = await rig.snapshot();
  const bytes = linkBytesBetween(before, after);
  figures.linkBytes = bytes.up + bytes.down;
  if (perLinkUnit) {
    figures.linkBytesPerUnit = figures.linkBytes / perLinkUnit;
    Object.assign(figures, wireBetween(before, after, perLinkUnit));
  }
  return { variant, figures, proxyCost: proxyCostBetween(before, after), roleCpu: roleCpuBetween(before, after, rig.proxies.length > 0) };
}

export async function runS1(rig: Rig, sizes: Sizes): Promise<ScenarioOutput[]> {
  const caller = callerOf(rig);
  await caller.request('small_calls', { calls: 20, concurrency: 1 }); // warm-up, unmeasured
  const out: ScenarioOutput[] = [];
  // Above 1 in flight: at least 4 calls per slot, so each slot turns over a few times in the measurement.
  const levels = (sizes.s1Concurrency ?? [1, 64]).map((c) =>
    c === 1 ? (['seq', sizes.s1SequentialCalls, 1] as const) : ([`c${c}`, Math.max(sizes.s1ConcurrentCalls, 4 * c), c] as const),
  );
  for (const [variant, calls, concurrency] of levels) {
    out.push(
      await measured(
        rig,
        variant,
        async () => {
          // Each call of a batch carries its own counter, so a reply routed to the wrong call fails the check.
          const answer = await caller.request('small_calls', { calls, concurrency });
          const latencies = answer.latencies_ms as number[];
          return {
            callsPerSec: calls / (answer.seconds as number),
            p50Ms: percentile(latencies, 0.5),
            p99Ms: percentile(latencies, 0.99),
          };
        },
        calls,
      ),
    );
  }
  return out;
}

/** A new client process per measurement (Python, then JS): connect, get the service, first call. */
export async function runS2(rig: Rig): Promise<ScenarioOutput[]> {
  const out: ScenarioOutput[] = [];
  for (const lang of ['py', 'js'] as const) {
    out.push(
      await measured(rig, lang, async () => {
        const r = await runBootstrap(lang, rig.behindUrl, rig.serviceId);
        return { timeToFirstResultMs: r.wallMs, inProcessMs: r.inProcessMs, connectMs: r.connectMs, getServiceMs: r.getServiceMs, firstCallMs: r.firstCallMs };
      }),
    );
  }
  return out;
}

/** Rigs whose proxies have carried S3's first array (see runS3Cold). */
const s3Warm = new WeakSet<Rig>();

/**
 * The first array through a rig's fresh processes (random bytes), reported as its own variant `cold`,
 * before the kinds: a fresh proxy's first 16-32 MiB cost about twice its later ones (JIT, fresh pages),
 * which used to land on whichever kind ran first (image) and read as a cost of that kind. Once per rig.
 */
export async function runS3Cold(rig: Rig, sizes: Sizes): Promise<ScenarioOutput[]> {
  if (s3Warm.has(rig)) return [];
  s3Warm.add(rig);
  return runS3(rig, sizes, 'random', 'cold');
}

export async function runS3(rig: Rig, sizes: Sizes, kind: string, variant = kind): Promise<ScenarioOutput[]> {
  const caller = callerOf(rig);
  const seed = rig.nextSeed(); // a first transfer in every repetition
  await caller.request('prepare', { kind, nbytes: sizes.s3Bytes, seed });
  return [
    await measured(
      rig,
      variant,
      async () => {
        const answer = await caller.request('bulk', { kind, nbytes: sizes.s3Bytes, seed });
        const seconds = answer.seconds as number;
        return { seconds, mbPerSec: (answer.nbytes as number) / 1e6 / seconds };
      },
      sizes.s3Bytes,
    ),
  ];
}

export async function runS4(rig: Rig, sizes: Sizes): Promise<ScenarioOutput[]> {
  const caller = callerOf(rig);
  const kind = 'image';
  const seed = rig.nextSeed(); // the first pass is a first transfer; later passes repeat it
  await caller.request('prepare', { kind, nbytes: sizes.s4Bytes, variant: 0, seed });
  await caller.request('prepare', { kind, nbytes: sizes.s4Bytes, variant: 1, seed });
  const out: ScenarioOutput[] = [];
  for (let pass = 1; pass <= sizes.s4Passes; pass += 1) {
    out.push(
      await measured(
        rig,
        pass === 1 ? 'first' : 'later',
        async () => ({ seconds: (await caller.request('bulk', { kind, nbytes: sizes.s4Bytes, variant: 0, seed })).seconds as number }),
        sizes.s4Bytes,
      ),
    );
  }
  out.push(
    await measured(
      rig,
      'changed1pct',
      async () => ({ seconds: (await caller.request('bulk', { kind, nbytes: sizes.s4Bytes, variant: 1, seed })).seconds as number }),
      sizes.s4Bytes,
    ),
  );
  return out;
}

/** Client A uploads while client B makes sequential small calls; B's latency is the figure. */
export async function runS5(rig: Rig, sizes: Sizes): Promise<ScenarioOutput[]> {
  const uploader = callerOf(rig, 0);
  const prober = callerOf(rig, 1);
  const seed = rig.nextSeed();
  await uploader.request('prepare', { kind: 'random', nbytes: sizes.s5Bytes, seed });
  await prober.request('small_calls', { calls: 10, concurrency: 1 });
  return [
    await measured(rig, rig.options.discipline, async () => {
      const loop = `s5-${Date.now()}`;
      const probing = prober.request('latency_loop', { loop });
      const upload = await uploader.request('bulk', { kind: 'random', nbytes: sizes.s5Bytes, seed });
      await prober.request('stop', { loop });
      const latencies = (await probing).latencies_ms as number[];
      return {
        bP50Ms: percentile(latencies, 0.5),
        bP99Ms: percentile(latencies, 0.99),
        bCalls: latencies.length,
        aSeconds: upload.seconds as number,
      };
    }),
  ];
}
