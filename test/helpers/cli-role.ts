// Starts a role through the real CLI (`node --import tsx src/cli.ts <role> ...`) and resolves on its
// `listening` line (stdout); its stderr (the pino log) is kept for the test to read. Node gets the launcher's V8
// flags, as bin/hypha-accel.js gives them, unless a test passes its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';
import { serverUrlFromEnv } from './hypha-server.js';

export interface CliRole {
  child: ChildProcess;
  url: string;
  adminUrl: string;
  /** Everything the role wrote to stderr so far (its JSON log lines). */
  log(): string;
  exited: Promise<number | null>;
}

export async function startCliRole(role: 'edge' | 'gateway', flags: string[], env: NodeJS.ProcessEnv = process.env, nodeFlags: readonly string[] = LAUNCHER_NODE_FLAGS): Promise<CliRole> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', 'src/cli.ts', role, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...flags], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stderr: Buffer[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  const log = () => Buffer.concat(stderr).toString('utf8');
  for await (const line of createInterface({ input: child.stdout! })) {
    const event = JSON.parse(line) as { event: string; url: string; admin: string };
    if (event.event === 'listening') return { child, url: event.url, adminUrl: event.admin, log, exited };
  }
  throw new Error(`${role} exited before listening: ${log().slice(-2000)}`);
}

/**
 * Registers a test file's hooks for the roles it starts itself: the shared hypha server's URL is read before
 * the tests (`hypha.url`), and every role pushed to `started` is killed after them.
 */
export function cliRoleHooks<Role extends { child: ChildProcess } = CliRole>(): { hypha: { url: string }; started: Role[] } {
  const fixture = { hypha: { url: '' }, started: [] as Role[] };
  before(async () => {
    fixture.hypha.url = await serverUrlFromEnv();
  });
  after(() => {
    for (const role of fixture.started) role.child.kill('SIGKILL');
  });
  return fixture;
}
