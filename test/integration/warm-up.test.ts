// The start-up warm-up through the real CLI (src/warm-up/loopback-warm-up.ts): a role (and each worker of a
// role with --workers) answers every warm-up call before it listens, and none of that traffic shows in the
// role's metrics: they start as a role without the warm-up starts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliRoleHooks, startCliRole, type CliRole } from '../helpers/cli-role.js';
import { writeSecret } from '../helpers/accel-pair.js';

const fixture = cliRoleHooks();

interface LogLine { msg: string; calls?: number; worker?: number; err?: string }

/** The role's log lines about its warm-up ('warmed up', or the warning of a failed one). */
function warmUpLines(role: CliRole): LogLine[] {
  return role.log().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine).filter((line) => /warm/.test(line.msg));
}

/** Series of a metric with a value above 0 in a Prometheus text page. */
function countedSeries(page: string, metric: string): string[] {
  return page.split('\n').filter((line) => line.startsWith(`${metric}{`) && Number(line.slice(line.lastIndexOf(' ') + 1)) > 0);
}

test('a gateway warms up before it listens, and its metrics count none of the warm-up', async () => {
  const gateway = await startCliRole('gateway', ['--hypha-url', fixture.hypha.url, '--secret-file', writeSecret(), '--log-level', 'info', '--warm-up-calls', '400']);
  fixture.started.push(gateway);
  const lines = warmUpLines(gateway);
  assert.deepEqual(lines.map((line) => [line.msg, line.calls]), [['warmed up', 400]], JSON.stringify(lines));
  const page = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
  assert.match(page, /^hypha_accel_build_info\{/m, 'the metrics page is the role\'s');
  for (const metric of ['hypha_accel_messages_total', 'hypha_accel_rpc_duration_seconds_count', 'hypha_accel_link_events_total', 'hypha_accel_session_events_total', 'hypha_accel_link_frames_total']) {
    assert.deepEqual(countedSeries(page, metric), [], `${metric} counts nothing the warm-up did`);
  }
});

test('with --warm-up-calls 0 a role starts without a warm-up', async () => {
  const edge = await startCliRole('edge', ['--gateway-url', 'tcp://127.0.0.1:9', '--secret-file', writeSecret(), '--log-level', 'info', '--warm-up-calls', '0']);
  fixture.started.push(edge);
  assert.deepEqual(warmUpLines(edge), []);
});

test('with --workers 2 each worker warms up', async () => {
  const edge = await startCliRole('edge', ['--gateway-url', 'tcp://127.0.0.1:9', '--secret-file', writeSecret(), '--log-level', 'info', '--workers', '2', '--warm-up-calls', '300']);
  fixture.started.push(edge);
  // Each worker warms up before it listens; the primary announces once all workers listen.
  const lines = warmUpLines(edge);
  assert.deepEqual(lines.map((line) => [line.msg, line.calls, line.worker]).sort(), [['warmed up', 300, 0], ['warmed up', 300, 1]], JSON.stringify(lines));
});
