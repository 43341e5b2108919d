// The CLI names the launcher's V8 heap flags a node started without them lacks (src/config/node-flags.ts), and
// says nothing when they are there (as bin/hypha-accel.js and the image give them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeSecret } from '../helpers/accel-pair.js';
import { cliRoleHooks, startCliRole } from '../helpers/cli-role.js';

const { hypha, started } = cliRoleHooks();

const flagWarnings = (log: string) => log.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; missing?: string[] })
  .filter((entry) => entry.msg.includes("launcher's V8 heap flags"));

test('a gateway started by bare node warns once and names the missing flags; with them it does not warn', async () => {
  const flags = ['--hypha-url', hypha.url, '--secret-file', writeSecret(), '--log-level', 'warn'];
  const bare = await startCliRole('gateway', flags, process.env, []);
  started.push(bare);
  const launched = await startCliRole('gateway', flags);
  started.push(launched);
  // stderr may arrive after the listening line on stdout: wait for the warning (bounded), then count.
  for (let deadline = Date.now() + 5000; flagWarnings(bare.log()).length === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
  const bareWarnings = flagWarnings(bare.log());
  assert.equal(bareWarnings.length, 1, bare.log());
  assert.equal(bareWarnings[0]!.level, 40);
  assert.deepEqual(bareWarnings[0]!.missing, ['--initial-old-space-size=160', '--max-semi-space-size=4']);
  assert.deepEqual(flagWarnings(launched.log()), [], launched.log());
});
