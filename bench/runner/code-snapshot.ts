// Pins the proxies' code for a whole run: `git archive HEAD` of src/ (plus package.json and tsconfig)
// into a temporary folder that links the repo's node_modules. Other engineers commit to src/ while a
// 30-minute run goes on; without this, arms started later would run newer code than earlier ones.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface CodeSnapshot {
  /** Folder holding src/cli.ts and friends, as committed. */
  root: string;
  commit: string;
  /** True when it is the live working tree (`--live-src`), which may change during the run. */
  live: boolean;
  dispose(): void;
}

/** Outside a git checkout (an exported copy) there is nothing to pin: the run uses the files as they are. */
export function snapshotCommittedSrc(): CodeSnapshot {
  let commit: string;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    process.stderr.write('bench: not a git checkout, running the src/ files as they are (as with --live-src)\n');
    return liveSrc();
  }
  const root = mkdtempSync(join(tmpdir(), 'hypha-accel-bench-src-'));
  const archive = execFileSync('git', ['archive', '--format=tar', commit, 'src', 'package.json', 'tsconfig.json'], {
    cwd: REPO_ROOT,
    maxBuffer: 256 * 1024 * 1024,
  });
  execFileSync('tar', ['-x', '-C', root], { input: archive });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  return { root, commit: commit.slice(0, 12), live: false, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

export function liveSrc(): CodeSnapshot {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() + '+worktree';
  } catch {
    // not a git checkout
  }
  return { root: REPO_ROOT, commit, live: true, dispose: () => undefined };
}
