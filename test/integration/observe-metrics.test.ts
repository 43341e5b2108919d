// /metrics of both roles after a real Python client's calls through the pair: every metric parses as
// Prometheus text, is listed in docs/metrics.md (and the page lists nothing that does not exist), RPC
// durations carry normalised method names only, counters never go down; /ready follows the role's state.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failedChecks, runPyCaller, startPyService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { REPO_ROOT, serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { startAdmin, type AdminHandle } from '../../src/observe/admin.js';
import { createLogger } from '../../src/log.js';
import type { EdgeHandle } from '../../src/edge/edge.js';
import type { GatewayHandle } from '../../src/gateway/gateway.js';

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Scrape { types: Map<string, string>; samples: Sample[] }

/** A strict reader of the Prometheus text format (prom-client writes NaN as `Nan`, which Prometheus parses): throws on any odd line. */
function parsePrometheus(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') types.set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

async function scrape(admin: AdminHandle): Promise<Scrape> {
  const res = await fetch(`${admin.url}/metrics`);
  assert.equal(res.status, 200);
  return parsePrometheus(await res.text());
}

function sources(handle: EdgeHandle | GatewayHandle) {
  return {
    readiness: () => handle.readiness(),
    sessions: () => ('sessionCounts' in handle ? handle.sessionCounts() : { edge: handle.sessionCount() }),
    linkStats: () => ({ ...handle.linkStats }),
    payloadStats: () => handle.payloadMetrics(),
    links: () => handle.linkInfo(),
  };
}

const documented = new Set([...readFileSync(join(REPO_ROOT, 'docs/metrics.md'), 'utf8').matchAll(/^\| `([a-z0-9_:]+)` \|/gm)].map((m) => m[1]!));

describe('metrics and readiness of the pair', () => {
  let pair: AccelPair;
  let service: ServiceProcess | undefined;
  const admins: AdminHandle[] = [];
  let edgeAdmin: AdminHandle;
  let gatewayAdmin: AdminHandle;

  before(async () => {
    const hyphaUrl = await serverUrlFromEnv();
    const log = createLogger('silent');
    edgeAdmin = await startAdmin('127.0.0.1:0', 'edge', 'test', log);
    gatewayAdmin = await startAdmin('127.0.0.1:0', 'gateway', 'test', log);
    admins.push(edgeAdmin, gatewayAdmin);
    pair = await startAccelPair(hyphaUrl);
    edgeAdmin.attach(sources(pair.edge));
    gatewayAdmin.attach(sources(pair.gateway));
    service = await startPyService(hyphaUrl, uniqueServiceId('metrics'));
  });
  after(async () => {
    await service?.stop();
    await pair?.close();
    for (const admin of admins) await admin.close();
  });

  test('every metric is documented, counters only grow, RPC methods are normalised', async () => {
    const result = await runPyCaller(pair.edgeUrl, service!.serviceId, { checks: ['echo', 'add_positional', 'exception'] });
    assert.deepEqual(failedChecks(result), []);
    const first = { edge: await scrape(edgeAdmin), gateway: await scrape(gatewayAdmin) };
    const again = await runPyCaller(pair.edgeUrl, service!.serviceId, { checks: ['echo'] });
    assert.deepEqual(failedChecks(again), []);
    const second = { edge: await scrape(edgeAdmin), gateway: await scrape(gatewayAdmin) };

    for (const role of ['edge', 'gateway'] as const) {
      const { types, samples } = second[role];
      for (const name of types.keys()) assert.ok(documented.has(name), `${role}: ${name} is not in docs/metrics.md`);
      for (const [name, type] of types) {
        if (type === 'counter') assert.match(name, /_total$/, `${role}: counter ${name} must end in _total`);
        if (name.startsWith('hypha_accel_') && type !== 'counter') assert.doesNotMatch(name, /_total$/, `${role}: ${type} ${name} ends in _total`);
      }
      // Counters (and histogram counts) never go down between scrapes.
      const key = (s: Sample) => `${s.name}${JSON.stringify(s.labels)}`;
      const before = new Map(first[role].samples.map((s) => [key(s), s]));
      for (const sample of samples) {
        const type = types.get(sample.name) ?? types.get(sample.name.replace(/_(count|sum|bucket)$/, ''));
        const old = before.get(key(sample));
        if (old && (type === 'counter' || /_(count|bucket)$/.test(sample.name))) assert.ok(sample.value >= old.value, `${role}: ${key(sample)} went down`);
      }
      assert.equal(samples.find((s) => s.name === 'hypha_accel_build_info')?.value, 1);
      assert.ok(samples.some((s) => s.name === 'process_cpu_seconds_total'), 'default process metrics');
      assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), 'event-loop lag');
    }
    // The edge timed the caller's calls, named by service function, never by ids.
    const rpc = second.edge.samples.filter((s) => s.name === 'hypha_accel_rpc_duration_seconds_count');
    const methods = new Map(rpc.map((s) => [`${s.labels.method}/${s.labels.outcome}`, s.value]));
    assert.ok((methods.get('built-in.get_service/resolve') ?? 0) >= 2, `get_service timed: ${[...methods.keys()].join(', ')}`);
    assert.ok([...methods.keys()].some((m) => m.endsWith('.echo/resolve')), 'echo timed');
    assert.ok([...methods.keys()].some((m) => m.endsWith('/reject')), 'the raising call ends in reject');
    for (const s of rpc) assert.doesNotMatch(s.labels.method!, /[0-9a-f]{8}-|\//, `no ids in method names: ${s.labels.method}`);
    const gatewayRpc = second.gateway.samples.filter((s) => s.name === 'hypha_accel_rpc_duration_seconds_count');
    assert.ok(gatewayRpc.length > 0, 'the gateway times the same calls');
    const linkBytes = second.edge.samples.find((s) => s.name === 'hypha_accel_bytes_total' && s.labels.stage === 'link' && s.labels.direction === 'sent');
    assert.ok((linkBytes?.value ?? 0) > 0, 'link bytes counted');
    assert.equal(second.edge.samples.find((s) => s.name === 'hypha_accel_links')?.value, pair.edge.pool.readyLinks.length);
  });

  test('passthrough clients (plain hypha clients through the gateway) count as messages, bytes and timed calls', async () => {
    const sum = (samples: Sample[], name: string, labels: Record<string, string>) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);
    const before = (await scrape(gatewayAdmin)).samples;
    const result = await runPyCaller(pair.gateway.url, service!.serviceId, { checks: ['echo'] });
    assert.deepEqual(failedChecks(result), []);
    const after = (await scrape(gatewayAdmin)).samples;
    for (const [direction, hop] of [['up', 'in'], ['down', 'out']] as const) {
      const grew = sum(after, 'hypha_accel_messages_total', { kind: 'passthrough', direction, hop }) - sum(before, 'hypha_accel_messages_total', { kind: 'passthrough', direction, hop });
      assert.ok(grew > 0, `passthrough messages ${direction}/${hop} counted`);
      assert.ok(sum(after, 'hypha_accel_message_bytes_total', { kind: 'passthrough', direction, hop }) > sum(before, 'hypha_accel_message_bytes_total', { kind: 'passthrough', direction, hop }), `passthrough bytes ${direction}/${hop}`);
    }
    const echoCalls = (samples: Sample[]) => samples.filter((s) => s.name === 'hypha_accel_rpc_duration_seconds_count' && s.labels.method?.endsWith('.echo') && s.labels.outcome === 'resolve').reduce((t, s) => t + s.value, 0);
    assert.ok(echoCalls(after) > echoCalls(before), 'the passthrough client\'s calls are timed at the gateway');
  });

  test('every documented metric exists on one of the roles', async () => {
    const names = new Set<string>();
    for (const admin of admins) for (const name of (await scrape(admin)).types.keys()) names.add(name);
    for (const name of documented) assert.ok(names.has(name), `docs/metrics.md lists ${name}, which neither role exports`);
  });

  test('/ready: edge with a link, gateway while hypha answers; /live and the old aliases answer', async () => {
    for (const admin of admins) {
      assert.equal((await fetch(`${admin.url}/ready`)).status, 200);
      assert.equal((await fetch(`${admin.url}/readyz`)).status, 200);
      assert.equal((await fetch(`${admin.url}/live`)).status, 200);
      assert.equal((await fetch(`${admin.url}/healthz`)).status, 200);
      const stats = await (await fetch(`${admin.url}/stats`)).json() as { links: unknown[]; ready: boolean };
      assert.equal(stats.ready, true);
      assert.ok(stats.links.length > 0, 'stats list the links');
    }
    edgeAdmin.beginDrain();
    const draining = await fetch(`${edgeAdmin.url}/ready`);
    assert.equal(draining.status, 503);
    assert.match(await draining.text(), /draining/);
  });
});
