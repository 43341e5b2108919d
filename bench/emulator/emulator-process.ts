// The link emulator as its own process (forked by bench/runner/emulator-child.ts), so the CPU it spends
// is measured apart from the runner's. Options arrive as JSON in argv[2]; requests (stats, blackhole,
// resetAll, close) arrive over the IPC channel and are answered with their id.

import { startLinkEmulator, type LinkEmulatorOptions } from './link-emulator.js';

interface Request {
  id: number;
  op: 'stats' | 'blackhole' | 'resetAll' | 'close';
  durationMs?: number;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as LinkEmulatorOptions;
  const emulator = await startLinkEmulator(options);
  const reply = (id: number, result?: unknown) => process.send?.({ id, result });
  process.on('message', (request: Request) => {
    switch (request.op) {
      case 'stats':
        return reply(request.id, emulator.stats());
      case 'blackhole':
        emulator.blackhole(request.durationMs ?? 0);
        return reply(request.id);
      case 'resetAll':
        emulator.resetAll();
        return reply(request.id);
      case 'close':
        void emulator.close().then(() => {
          reply(request.id);
          process.disconnect();
        });
    }
  });
  // The runner gone means nobody measures: stop.
  process.once('disconnect', () => void emulator.close().then(() => process.exit(0)));
  process.send?.({ id: 0, result: { port: emulator.port, shape: emulator.shape } });
}

main().catch((err: unknown) => {
  process.stderr.write(`emulator: ${(err as Error).message}\n`);
  process.exit(1);
});
