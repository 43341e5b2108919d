// Sums a proxy's `--trace-gc-nvp` log per phase of the relay-overhead harness (RELAY_OVERHEAD_STDOUT_DIR logs,
// split at its `### <round> <arm> <mark>` lines): collections by kind, main-thread pause, the scavenger's
// background time, bytes allocated, surviving a scavenge and promoted, per collection and per message.
// Usage: node --import tsx bench/gc-nvp-summary.ts LOG... [--calls N] [--json]
// --calls: the harness's --calls, so per-message figures can be given (4 messages per call through each
// proxy; the sequential phase has N calls, the 64-in-flight phase 2N). Phases are named by the mark they
// start at: `sequential` and `concurrent` are measured, `end` runs from one client's end to the next's start.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface PhaseGc {
  phase: string;
  scavenges: number;
  markCompacts: number;
  /** Main-thread pause of all collections, ms. */
  pauseMs: number;
  scavengePauseMs: number;
  /** The scavenger's parallel work on helper threads, ms. */
  backgroundScavengeMs: number;
  /** Incremental marking steps on the main thread before full collections, ms (not in `pause`). */
  incrementalMs: number;
  /** Concurrent marking, sweeping and evacuation of full collections on helper threads, ms. */
  backgroundFullMs: number;
  allocatedBytes: number;
  survivedBytes: number;
  promotedBytes: number;
  /** Heap object size (young generation included) after the phase's last collection, MB. */
  lastObjectMB: number;
}

const fields = (line: string) => Object.fromEntries([...line.matchAll(/([a-z_.]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));

export function summarise(text: string): PhaseGc[] {
  const phases: PhaseGc[] = [];
  let current: PhaseGc | undefined;
  const open = (phase: string) => {
    current = { phase, scavenges: 0, markCompacts: 0, pauseMs: 0, scavengePauseMs: 0, backgroundScavengeMs: 0, incrementalMs: 0, backgroundFullMs: 0, allocatedBytes: 0, survivedBytes: 0, promotedBytes: 0, lastObjectMB: 0 };
    phases.push(current);
    return current;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('### ')) {
      open(line.slice(4).trim());
      continue;
    }
    if (!line.includes(' gc=') || !line.includes('pause=')) continue;
    const f = fields(line);
    const phase = current ?? open('start');
    const pause = Number(f.pause);
    phase.pauseMs += pause;
    if (f.gc === 's') {
      phase.scavenges++;
      phase.scavengePauseMs += pause;
      phase.backgroundScavengeMs += Number(f['background.scavenge.parallel'] ?? 0);
      phase.survivedBytes += Number(f.new_space_survived ?? 0);
    } else if (f.gc === 'mc' || f.gc === 'ms' || f.gc === 'mmc') {
      phase.markCompacts++;
      phase.incrementalMs += Number(f.incremental ?? 0);
      for (const key of ['background.mark', 'background.sweep', 'background.evacuate.copy', 'background.evacuate.update_pointers']) phase.backgroundFullMs += Number(f[key] ?? 0);
    }
    phase.allocatedBytes += Number(f.allocated ?? 0);
    phase.promotedBytes += Number(f.promoted ?? 0);
    phase.lastObjectMB = Number(f.end_object_size ?? 0) / 1e6;
  }
  return phases;
}

function main(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf('--calls');
  const calls = at >= 0 ? Number(args.splice(at, 2)[1]) : 0;
  const json = args.includes('--json');
  const files = args.filter((a) => a !== '--json');
  if (files.length === 0) throw new Error('usage: gc-nvp-summary.ts LOG... [--calls N] [--json]');
  const out: Record<string, PhaseGc[]> = {};
  for (const file of files) out[basename(file)] = summarise(readFileSync(file, 'utf8'));
  if (json) return console.log(JSON.stringify(out, null, 2));
  const messagesIn = (phase: string) => (phase.endsWith(' sequential') ? calls * 4 : phase.endsWith(' concurrent') ? calls * 8 : 0);
  for (const [file, phases] of Object.entries(out)) {
    console.log(`\n${file}`);
    console.log('phase | scav | mc | pause ms | incr ms | bg scav ms | bg full ms | alloc MB | survived KB/scav | promoted KB | heap MB | main µs/msg | bg µs/msg | alloc B/msg');
    for (const p of phases) {
      const n = messagesIn(p.phase);
      const per = (v: number, scale = 1) => (n > 0 ? ((v * scale) / n).toFixed(2) : '');
      console.log([p.phase, p.scavenges, p.markCompacts, p.pauseMs.toFixed(1), p.incrementalMs.toFixed(1), p.backgroundScavengeMs.toFixed(1), p.backgroundFullMs.toFixed(1),
        (p.allocatedBytes / 1e6).toFixed(1), p.scavenges ? (p.survivedBytes / p.scavenges / 1e3).toFixed(0) : '', (p.promotedBytes / 1e3).toFixed(0), p.lastObjectMB.toFixed(1),
        per(p.pauseMs + p.incrementalMs, 1000), per(p.backgroundScavengeMs + p.backgroundFullMs, 1000), per(p.allocatedBytes, 1).replace(/\.\d+$/, '')].join(' | '));
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main();
