// CPU pinning for attribution runs (issue 11: "add runs with processes pinned to cores"). The runner, and
// with it every process it starts (hypha, the clients, the emulator), keeps the affinity it was started with
// (`taskset -c 0 npm run bench ...`); HYPHA_ACCEL_BENCH_PROXY_CPUS=LIST starts the proxies and the null relays
// on LIST instead (through `taskset -c LIST`, which execs, so the pid stays the proxy's). Unset: no pinning.

import { readFileSync } from 'node:fs';
import { BenchError } from './bench-error.js';

/** A Linux CPU list as taskset and /proc take it: "1", "0,2", "0-3". */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The CPU list the proxies are pinned to, or undefined (not pinned). Rejects anything taskset would not take. */
export function proxyCpus(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.HYPHA_ACCEL_BENCH_PROXY_CPUS?.trim();
  if (!value) return undefined;
  if (!CPU_LIST.test(value)) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `HYPHA_ACCEL_BENCH_PROXY_CPUS must be a CPU list such as 1 or 0-1 (got ${JSON.stringify(value)})`);
  return value;
}

/** `command args` as spawned, pinned to `cpus` when given. */
export function pinned(command: string, args: readonly string[], cpus: string | undefined): { command: string; args: string[] } {
  return cpus === undefined ? { command, args: [...args] } : { command: 'taskset', args: ['-c', cpus, command, ...args] };
}

/** The CPUs this process may run on (Cpus_allowed_list of /proc/self/status), or undefined where there is no /proc. */
export function ownCpus(): string | undefined {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Where the run's processes could run: the runner's CPUs (inherited by hypha, clients, emulator) and the proxies'. */
export interface CpuPinning {
  runner?: string;
  proxies?: string;
}

export function cpuPinning(env: NodeJS.ProcessEnv = process.env): CpuPinning {
  return { runner: ownCpus(), proxies: proxyCpus(env) };
}

/** A sentence for the report when the run was pinned, else ''. */
export function describePinning(cpus: CpuPinning | undefined): string {
  if (cpus?.proxies === undefined) return '';
  return ` CPUs pinned: proxies and null relays on ${cpus.proxies}; the runner, hypha, clients and emulator on ${cpus.runner ?? 'any'}.`;
}
