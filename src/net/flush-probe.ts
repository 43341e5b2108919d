// TEMPORARY (issue 11, lat21): env-gated timestamps of the write path, to see where a burst's latency goes.
// HYPHA_ACCEL_FLUSH_PROBE=DIR: each proxy writes DIR/<role>-<pid>.json at exit. Off: `flushProbe` is undefined.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { channels, type MessageEvent } from '../events.js';

const MAX = 400_000;

class FlushProbe {
  /** Absolute ms (comparable across processes). */
  now(): number {
    return performance.timeOrigin + performance.now();
  }
  rounds: number[][] = []; // [firstQueued, lastQueued, flushStart, flushEnd, queued, turns]
  batches: number[][] = []; // compressed batches: [firstEnqueued, flushStart, compressMs, frames, plainBytes]
  reads: number[][] = []; // link socket reads: [start, durationMs, bytes]
  messages: number[][] = []; // [t, up 1 / down 0, in 1 / out 0, session index, bytes]
  sessions = new Map<string, number>();
  pacerBlocks: number[][] = []; // [t, inFlightBytes, windowBytes]
  push(list: number[][], row: number[]): void {
    if (list.length < MAX) list.push(row);
  }
}

export const flushProbe = process.env.HYPHA_ACCEL_FLUSH_PROBE ? new FlushProbe() : undefined;

if (flushProbe) {
  const dir = process.env.HYPHA_ACCEL_FLUSH_PROBE!;
  const role = process.argv.includes('edge') ? 'edge' : process.argv.includes('gateway') ? 'gateway' : 'proxy';
  channels.message.subscribe((message) => {
    const event = message as MessageEvent;
    if (event.passthrough) return;
    let index = flushProbe.sessions.get(event.sessionId);
    if (index === undefined) flushProbe.sessions.set(event.sessionId, (index = flushProbe.sessions.size));
    flushProbe.push(flushProbe.messages, [flushProbe.now(), event.direction === 'up' ? 1 : 0, event.hop === 'in' ? 1 : 0, index, event.bytes ?? event.data.length]);
  });
  process.on('exit', () => {
    try {
      writeFileSync(join(dir, `${role}-${process.pid}.json`), JSON.stringify({ role, pid: process.pid, rounds: flushProbe.rounds, batches: flushProbe.batches, reads: flushProbe.reads, pacerBlocks: flushProbe.pacerBlocks, messages: flushProbe.messages, sessions: [...flushProbe.sessions.keys()] }));
    } catch {
      // a probe never fails the process
    }
  });
}
