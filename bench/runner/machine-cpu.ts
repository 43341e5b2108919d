// The whole machine's CPU in use, from /proc/stat (every process, ours and everybody else's): lets a
// measurement say how busy the host was and how much of that the rig itself does not explain (other
// jobs on a shared machine), instead of guessing from the load average.

import { readFileSync } from 'node:fs';

/** Jiffies (USER_HZ = 100 per second) per CPU state, summed over all CPUs. */
export interface MachineCpuSample {
  busyTicks: number;
  totalTicks: number;
}

export function sampleMachineCpu(): MachineCpuSample | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user).
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const busyTicks = user! + nice! + system! + irq! + softirq! + steal!;
    return { busyTicks, totalTicks: busyTicks + idle! + iowait! };
  } catch {
    return undefined;
  }
}

/** Busy cores between two samples over `seconds` of wall time (NaN when either sample is missing). */
export function busyCoresBetween(before: MachineCpuSample | undefined, after: MachineCpuSample | undefined, seconds: number): number {
  if (!before || !after || seconds <= 0) return NaN;
  return (after.busyTicks - before.busyTicks) / 100 / seconds;
}
