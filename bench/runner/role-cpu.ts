// CPU time per role of a benchmark rig (edge, gateway, hypha, clients, runner, emulator), in nanoseconds
// on CPU, summed over every thread of each process (/proc/<pid>/task/<tid>/schedstat, first field) and,
// for a role that forks (workers, hypha's helpers), over its descendants. Threads that ended between two
// samples are not counted (Node's and Python's thread pools live as long as the process).

import { readdirSync, readFileSync } from 'node:fs';
import { childrenMap, descendantsOf } from './descendants.js';

export const CPU_ROLES = ['edge', 'gateway', 'hypha', 'clients', 'runner', 'emulator'] as const;
export type CpuRole = (typeof CPU_ROLES)[number];

/** Nanoseconds on CPU of every live thread of one process (0 when it is gone). */
export function processCpuNs(pid: number): number {
  let total = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended while listing
    }
  }
  return total;
}

/** One process and all its descendants. */
export function treeCpuNs(pid: number, children = childrenMap()): number {
  if (pid <= 0) return 0;
  return [pid, ...descendantsOf(pid, children)].reduce((sum, p) => sum + processCpuNs(p), 0);
}

/** Roots of each role (a role may have several processes, e.g. one per client). */
export type RolePids = Partial<Record<CpuRole, { pids: number[]; withDescendants: boolean }>>;

export function sampleRoleCpuNs(roles: RolePids): Partial<Record<CpuRole, number>> {
  const out: Partial<Record<CpuRole, number>> = {};
  const children = childrenMap(); // one walk of /proc per sample
  for (const [role, spec] of Object.entries(roles) as [CpuRole, { pids: number[]; withDescendants: boolean }][]) {
    out[role] = spec.pids.reduce((sum, pid) => sum + (spec.withDescendants ? treeCpuNs(pid, children) : processCpuNs(pid)), 0);
  }
  return out;
}
