// Preloaded into a proxy by bench/wake-count/run.ts: counts the async resources the process creates, by
// type (Timeout, Immediate, TickObject, PROMISE, WRITEWRAP, ...), and writes the totals as JSON to
// $WAKE_COUNT_FILE on SIGUSR2. Counting only: it slows the process (promise hooks), so no times are taken.
// WAKE_COUNT_STACKS=TYPE,TYPE: also counts where those are created (the first few user frames), as `TYPE@where`.
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';

const counts: Record<string, number> = {};
const traced = new Set((process.env.WAKE_COUNT_STACKS ?? '').split(',').filter(Boolean));
const where = () => (new Error().stack ?? '').split('\n').slice(3).filter((l) => !l.includes('node:internal/async_hooks') && !l.includes('count-callbacks')).slice(0, 4).map((l) => l.trim().replace(/^at /, '').replace(/\(.*\/(src|node_modules)\//, '($1/')).join(' < ');
createHook({
  init(_id, type) {
    counts[type] = (counts[type] ?? 0) + 1;
    if (traced.has(type)) {
      const key = `${type}@${where()}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  },
}).enable();
const file = process.env.WAKE_COUNT_FILE;
if (file) process.on('SIGUSR2', () => writeFileSync(file, JSON.stringify(counts)));
