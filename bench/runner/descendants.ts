// Finds and kills every descendant process of a pid by walking /proc (children of children included,
// also those that started their own process group, like the hypha server). Used on Ctrl-C.

import { readdirSync, readFileSync } from 'node:fs';

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Every live process's children, from one walk of /proc (reuse it for several roots). */
export function childrenMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const parent = parentOf(pid);
    if (parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  return children;
}

export function descendantsOf(rootPid: number, children = childrenMap()): number[] {
  const out: number[] = [];
  const stack = [...(children.get(rootPid) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function killDescendants(rootPid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of descendantsOf(rootPid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
