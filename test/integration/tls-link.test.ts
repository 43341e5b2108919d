// Links over TLS terminated by the gateway itself (tlsCertFile/tlsKeyFile), with a CA made in the test:
// real Python and JS clients through tls:// and wss:// links; a wrong CA, a wrong name and an expired
// certificate refused by the edge; mutual TLS refusing an edge without a certificate, with one of another
// CA, outside the allow-list or revoked; certificates rotated under a live link without dropping it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { issueCert, makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { failedChecks, runJsCaller, runPyCaller, startPyService, uniqueServiceId, livenessCheck } from '../helpers/clients.js';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { startEdge, type EdgeHandle } from '../../src/edge/edge.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';
import { channels, type LinkEvent } from '../../src/events.js';

const log = createLogger(process.env.HYPHA_ACCEL_TEST_LOG_LEVEL ?? 'silent');
let hyphaUrl = '';
let ca: TestCa;
let secretFile = '';
const started: { close(ms?: number): Promise<void> }[] = [];

before(async () => {
  hyphaUrl = await serverUrlFromEnv();
  ca = makeTestCa();
  secretFile = writeSecret();
});
after(async () => {
  for (const handle of started.reverse()) await handle.close(2000);
});

async function gatewayWith(flags: Record<string, unknown>): Promise<GatewayHandle> {
  const gateway = await startGateway(loadConfig('gateway', { flags: { listen: '127.0.0.1:0', hyphaUrl, secretFile, tlsCertFile: ca.certPath, tlsKeyFile: ca.keyPath, ...flags }, env: {} }), { secret: readSecret(secretFile), log });
  started.push(gateway);
  return gateway;
}

async function edgeWith(gatewayUrl: string, flags: Record<string, unknown>): Promise<EdgeHandle> {
  const edge = await startEdge(loadConfig('edge', { flags: { listen: '127.0.0.1:0', gatewayUrl, secretFile, links: 1, linkWaitMs: 3000, ...flags }, env: {} }), { secret: readSecret(secretFile), log });
  started.push(edge);
  return edge;
}

/** The next link event of the edge at `role` matching `pred` (dial failures are 'refused' events). */
function nextLinkEvent(pred: (event: LinkEvent) => boolean): Promise<LinkEvent> {
  return new Promise((resolve) => {
    const listener = (message: unknown) => {
      const event = message as LinkEvent;
      if (event.role !== 'edge' || !pred(event)) return;
      channels.link.unsubscribe(listener);
      resolve(event);
    };
    channels.link.subscribe(listener);
  });
}

async function assertCallsWork(edgeUrl: string): Promise<void> {
  const service = await startPyService(edgeUrl, uniqueServiceId('tls'));
  try {
    for (const run of [runPyCaller, runJsCaller]) {
      const result = await run(edgeUrl, service.serviceId);
      assert.deepEqual(failedChecks(result), [], result.stderr.slice(-2000));
    }
  } finally {
    await service.stop();
  }
}

describe('TLS links end to end', () => {
  for (const scheme of ['tls', 'wss'] as const) {
    test(`${scheme}:// link to a TLS gateway: real clients, and HTTP passthrough over https`, async () => {
      const gateway = await gatewayWith({});
      assert.match(gateway.url, /^https:/);
      const edge = await edgeWith(`${scheme}://127.0.0.1:${gateway.port}`, { caFile: ca.caPath });
      await edge.pool.waitReady(5000);
      await assertCallsWork(edge.url);
      assert.equal((await livenessCheck(edge.url)).status, 200);
      await edge.close(2000);
    });
  }
});

describe('the edge refuses a gateway it cannot verify', () => {
  const cases: [string, () => Record<string, unknown>, (g: GatewayHandle) => string, RegExp][] = [
    ['no CA configured (system store only)', () => ({}), (g) => `tls://127.0.0.1:${g.port}`, /self[- ]signed|unable to (get|verify)/i],
    ['a CA that did not sign it', () => ({ caFile: makeTestCa('other CA').caPath }), (g) => `tls://127.0.0.1:${g.port}`, /unable to (get|verify)|self[- ]signed/i],
    ['a name the certificate does not carry', () => ({ caFile: ca.caPath, tlsServerName: 'gateway.example' }), (g) => `tls://127.0.0.1:${g.port}`, /altnames|does not match|Hostname/i],
  ];
  for (const [what, flags, url, message] of cases) {
    test(what, async () => {
      const gateway = await gatewayWith({});
      const refused = nextLinkEvent((e) => e.event === 'refused');
      const edge = await edgeWith(url(gateway), flags());
      const event = await refused;
      await edge.close(2000);
      assert.equal(event.errorCode, 'HYPHA_ACCEL_ERR_NO_LINK');
      assert.match(String(event.message), message);
      assert.equal(gateway.links().length, 0);
    });
  }
  test('an expired gateway certificate', async () => {
    const expired = issueCert(ca, { name: 'expired', cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', days: -1 });
    const gateway = await gatewayWith({ tlsCertFile: expired.certPath, tlsKeyFile: expired.keyPath });
    const refused = nextLinkEvent((e) => e.event === 'refused');
    const edge = await edgeWith(`tls://127.0.0.1:${gateway.port}`, { caFile: ca.caPath });
    const event = await refused;
    await edge.close(2000);
    assert.match(String(event.message), /expired/i);
  });
});

describe('mutual TLS', () => {
  let clientCa: TestCa;
  let gateway: GatewayHandle;
  let revokedFile = '';
  const identities: Record<string, ReturnType<typeof issueCert>> = {};
  before(async () => {
    clientCa = makeTestCa('edge CA');
    for (const name of ['edge-a', 'edge-b', 'edge-c']) identities[name] = issueCert(clientCa, { name, cn: name });
    revokedFile = `${clientCa.dir}/revoked.txt`;
    writeFileSync(revokedFile, `# revoked\n${identities['edge-b']!.fingerprint}\n`);
    gateway = await gatewayWith({ tlsClientCaFile: clientCa.caPath, tlsClientAllow: 'edge-a,edge-b', tlsClientRevokedFile: revokedFile });
  });
  const dial = (flags: Record<string, unknown>) => edgeWith(`tls://127.0.0.1:${gateway.port}`, { caFile: ca.caPath, ...flags });
  const withCert = (name: string) => ({ tlsClientCertFile: identities[name]!.certPath, tlsClientKeyFile: identities[name]!.keyPath });

  test('an allowed edge gets a link and carries real calls; plain clients need no certificate', async () => {
    const edge = await dial(withCert('edge-a'));
    await edge.pool.waitReady(5000);
    await assertCallsWork(edge.url);
    assert.equal((await livenessCheck(edge.url)).status, 200);
    await edge.close(2000);
  });
  const refusals: [string, () => Record<string, unknown>][] = [
    ['without a client certificate', () => ({})],
    ['with a revoked client certificate', () => withCert('edge-b')],
    ['with an identity outside the allow-list', () => withCert('edge-c')],
    ['with a certificate of another CA', () => {
      const other = makeTestCa('rogue CA');
      const rogue = issueCert(other, { name: 'edge-a', cn: 'edge-a' });
      return { tlsClientCertFile: rogue.certPath, tlsClientKeyFile: rogue.keyPath };
    }],
  ];
  for (const [what, flags] of refusals) {
    test(`refused ${what}`, async () => {
      const refused = nextLinkEvent((e) => e.event === 'refused');
      const before = gateway.links().length;
      const edge = await dial(flags());
      const event = await refused;
      await edge.close(2000);
      assert.match(String(event.message), /HTTP 403/);
      assert.ok(gateway.links().length <= before, 'no link was added');
    });
  }
  test('revoking a running edge closes its link at the reload', async () => {
    const edge = await dial(withCert('edge-a'));
    const link = await edge.pool.waitReady(5000);
    const down = nextLinkEvent((e) => e.event === 'down');
    // By serial number this time (hex, as openssl x509 -serial prints it).
    writeFileSync(revokedFile, `${identities['edge-b']!.fingerprint}\n${Number(identities['edge-a']!.serial).toString(16)}\n`);
    gateway.reloadTls();
    await down;
    assert.equal(link.session.closed, true);
    await edge.close(2000);
    writeFileSync(revokedFile, `${identities['edge-b']!.fingerprint}\n`);
    gateway.reloadTls();
  });
});

test('rotating the gateway certificate keeps running links and their calls; new links get the new certificate', { timeout: 120_000 }, async () => {
  const certFile = `${ca.dir}/rotating.pem`;
  const keyFile = `${ca.dir}/rotating.key`;
  copyFileSync(ca.certPath, certFile);
  copyFileSync(ca.keyPath, keyFile);
  const gateway = await gatewayWith({ tlsCertFile: certFile, tlsKeyFile: keyFile });
  const edge = await edgeWith(`tls://127.0.0.1:${gateway.port}`, { caFile: ca.caPath });
  const link = await edge.pool.waitReady(5000);
  const service = await startPyService(edge.url, uniqueServiceId('rot'));
  try {
    const next = issueCert(ca, { name: 'rotated', cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1' });
    // Under load: callers run while the certificate is swapped (by the file watcher, no SIGHUP); a probe
    // connection per 200 ms tells when the gateway serves the new certificate.
    const reloaded = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const socket = connect({ host: '127.0.0.1', port: gateway.port, ca: [readFileSync(ca.caPath)], servername: 'localhost' }, () => {
          const serial = socket.getPeerCertificate().serialNumber;
          socket.destroy();
          if (parseInt(serial, 16) === Number(next.serial)) {
            clearInterval(timer);
            resolve();
          }
        });
        socket.on('error', () => socket.destroy());
      }, 200);
    });
    const calls = Promise.all([runPyCaller(edge.url, service.serviceId), runJsCaller(edge.url, service.serviceId)]);
    copyFileSync(next.certPath, certFile);
    copyFileSync(next.keyPath, keyFile);
    await reloaded;
    for (const result of await calls) assert.deepEqual(failedChecks(result), [], result.stderr.slice(-2000));
    assert.equal(link.session.closed, false, 'the link survived the rotation');
    assert.equal(edge.pool.readyLinks[0], link);
  } finally {
    await service.stop();
  }
});
