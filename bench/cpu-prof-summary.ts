// Sums a V8 `.cpuprofile` (node --cpu-prof, or `npm run bench -- --cpu-prof`) by self time: per function,
// per file, and per function with its nearest callers (bottom-up), as % of the busy (non-idle) time.
// Usage: node --import tsx bench/cpu-prof-summary.ts FILE.cpuprofile [--skip-s N] [--top N]
// --skip-s drops the first N seconds (process start: module loading and tsx transforms).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function main(): void {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
  };
  const skipUs = flag('--skip-s', 0) * 1e6;
  const top = flag('--top', 25);
  if (args.length !== 1) throw new Error('usage: cpu-prof-summary.ts FILE.cpuprofile [--skip-s N] [--top N]');
  const profile = JSON.parse(readFileSync(args[0]!, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A sample stands for the time until the next one (the profiler samples wall time).
  const msById = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (t - profile.startTime < skipUs) continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    msById.set(profile.samples[i]!, (msById.get(profile.samples[i]!) ?? 0) + ms);
  }
  const short = (url: string) => (url || '(native)').replace(/^.*\/(src|node_modules)\//, '$1/');
  const frame = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const bottomUp = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, ms: number) => map.set(key, (map.get(key) ?? 0) + ms);
  let busy = 0;
  let idle = 0;
  for (const [id, ms] of msById) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    add(byFunction, frame(node), ms);
    add(byFile, short(node.callFrame.url), ms);
    const callers: string[] = [];
    for (let p = parent.get(id); p !== undefined && callers.length < 4; p = parent.get(p)) callers.push(frame(byId.get(p)!));
    add(bottomUp, `${frame(node)}  <=  ${callers.join(' < ')}`, ms);
  }
  const print = (title: string, map: Map<string, number>, n: number) => {
    console.log(`--- ${title}`);
    for (const [key, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${key}`);
  };
  console.log(`span ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s; after --skip-s: busy ${busy.toFixed(0)} ms, idle ${idle.toFixed(0)} ms`);
  print('self time by function (% of busy)', byFunction, top);
  print('self time by file', byFile, 15);
  print('bottom-up: self time with its callers', bottomUp, top);
}

main();
