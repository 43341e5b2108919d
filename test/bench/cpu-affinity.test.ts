// Pinned attribution runs: the proxies' CPU list is checked before a run starts, and a pinned proxy is the
// process the runner samples (taskset execs the command, so the pid is the proxy's) on exactly those CPUs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { describePinning, pinned, proxyCpus } from '../../bench/runner/cpu-affinity.js';

test('the CPU list: unset or blank means no pinning; lists taskset takes pass; anything else is a usage error', () => {
  assert.equal(proxyCpus({}), undefined);
  assert.equal(proxyCpus({ HYPHA_ACCEL_BENCH_PROXY_CPUS: ' ' }), undefined);
  for (const list of ['1', '0-1', '0,2', '0-1,3']) assert.equal(proxyCpus({ HYPHA_ACCEL_BENCH_PROXY_CPUS: list }), list);
  for (const bad of ['one', '1;rm -rf /', '-1', '0-', '1,,2']) {
    assert.throws(() => proxyCpus({ HYPHA_ACCEL_BENCH_PROXY_CPUS: bad }), (e: Error & { code?: string }) => e.code === 'HYPHA_ACCEL_ERR_BENCH_USAGE', bad);
  }
});

test('unpinned commands are left alone; the report names the pinning only when there is one', () => {
  assert.deepEqual(pinned('node', ['a.js'], undefined), { command: 'node', args: ['a.js'] });
  assert.equal(describePinning({ runner: '0-1' }), '');
  assert.match(describePinning({ runner: '0', proxies: '1' }), /proxies and null relays on 1; the runner, hypha, clients and emulator on 0/);
});

test('a pinned child runs on the given CPU under its own pid', async () => {
  const script = "const s=require('fs').readFileSync('/proc/self/status','utf8'); console.log(JSON.stringify({pid:process.pid, cpus:/Cpus_allowed_list:\\s*(\\S+)/.exec(s)[1]}))";
  const { command, args } = pinned(process.execPath, ['-e', script], '0');
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  const seen = JSON.parse(out) as { pid: number; cpus: string };
  assert.equal(seen.cpus, '0');
  assert.equal(seen.pid, child.pid, 'taskset must exec the command, so the runner samples the proxy itself');
});
