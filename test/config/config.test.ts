// Configuration: precedence flags > env > YAML > defaults, one-line coded errors, CLI exit code 2,
// and docs/config.md in step with the settings table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { renderConfigDoc } from '../../src/config/doc.js';
import { SETTINGS } from '../../src/config/settings.js';
import { AccelError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-config-'));
const base = { listen: '127.0.0.1:9000', gatewayUrl: 'ws://127.0.0.1:9600', secretFile: '/dev/null' };

test('flags override env, env overrides the YAML file, the file overrides defaults', () => {
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, 'links: 5\nwindowBytes: 1048576\nlogLevel: debug\n');
  const config = loadConfig('edge', {
    flags: { ...base, links: '7' },
    env: { HYPHA_ACCEL_LINKS: '6', HYPHA_ACCEL_WINDOW_BYTES: '2097152' },
    configFile: file,
  });
  assert.equal(config.links, 7);
  assert.equal(config.windowBytes, 2097152);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.maxFrameBytes, 65600); // default
});

test('a bad value names the setting, its source and the problem', () => {
  assert.throws(
    () => loadConfig('edge', { flags: { ...base, links: '0' }, env: {} }),
    (error: AccelError) => error.code === 'HYPHA_ACCEL_ERR_CONFIG' && /links \(from --links\).*>= 1/.test(error.message),
  );
  assert.throws(
    () => loadConfig('gateway', { flags: { listen: 'nonsense', hyphaUrl: 'http://x', secretFile: 'f' }, env: {} }),
    /invalid setting listen \(from --listen\): expected HOST:PORT/,
  );
  assert.throws(() => loadConfig('gateway', { flags: { listen: ':1', secretFile: 'f' }, env: {} }), /missing setting hyphaUrl/);
  assert.throws(
    () => loadConfig('edge', { flags: { ...base }, env: { HYPHA_ACCEL_ENDPOINT_DEFLATE: 'maybe' } }),
    /endpointDeflate \(from HYPHA_ACCEL_ENDPOINT_DEFLATE\)/,
  );
});

test('unknown keys in the YAML file are refused, naming the key', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'linkz: 3\n');
  assert.throws(() => loadConfig('edge', { flags: base, env: {}, configFile: file }), /unknown setting linkz/);
});

test('the CLI exits with code 2 and one line on a bad setting', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'edge', '--listen', '127.0.0.1:0', '--gateway-url', 'http://wrong', '--secret-file', '/dev/null'], { encoding: 'utf8' });
  assert.equal(result.status, 2);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^hypha-accel edge: invalid setting gatewayUrl \(from --gateway-url\): expected a tcp:\/\/, tls:\/\/, unix:\/\/, ws:\/\/ or wss:\/\/ URL/);
});

test('a short secret is a configuration error', () => {
  const secret = join(dir, 'short');
  writeFileSync(secret, 'abc', { mode: 0o600 });
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'gateway', '--listen', '127.0.0.1:0', '--hypha-url', 'http://127.0.0.1:1', '--secret-file', secret], { encoding: 'utf8' });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /invalid setting secretFile: .* holds 3 bytes/);
});

test('--help lists every setting of the role with its environment variable', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'gateway', '--help'], { encoding: 'utf8' });
  assert.equal(result.status, 0);
  for (const spec of SETTINGS.filter((s) => s.roles.includes('gateway'))) {
    assert.ok(result.stdout.includes(spec.flag), `help lacks ${spec.flag}`);
    assert.ok(result.stdout.replace(/\s+/g, ' ').includes(spec.env), `help lacks ${spec.env}`);
  }
});

test('docs/config.md is generated from the settings table', () => {
  assert.equal(readFileSync('docs/config.md', 'utf8'), renderConfigDoc());
});

test('the secret file: group/world-readable is warned about, binary bytes are kept, one trailing newline dropped', () => {
  const loose = join(dir, 'loose');
  writeFileSync(loose, 'a'.repeat(64), { mode: 0o644 });
  chmodSync(loose, 0o644);
  const warnings: string[] = [];
  assert.equal(readSecret(loose, (m) => warnings.push(m)).toString(), 'a'.repeat(64));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /secretFile .* is readable by every user \(mode 644\).*chmod 600/);
  const binary = join(dir, 'binary');
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x20, 0x09, ...Array.from({ length: 24 }, (_, i) => i * 7)]);
  writeFileSync(binary, bytes, { mode: 0o600 });
  assert.ok(readSecret(binary, (m) => warnings.push(m)).equals(bytes), 'invalid UTF-8 and edge whitespace survive unchanged');
  const hex = join(dir, 'hex');
  writeFileSync(hex, ' ' + 'ab'.repeat(16) + '\n\n', { mode: 0o600 });
  assert.equal(readSecret(hex).toString('latin1'), ' ' + 'ab'.repeat(16) + '\n', 'only one trailing newline is dropped');
  const crlf = join(dir, 'crlf');
  writeFileSync(crlf, 'cd'.repeat(16) + '\r\n', { mode: 0o600 });
  assert.equal(readSecret(crlf).toString('latin1'), 'cd'.repeat(16));
  assert.equal(warnings.length, 1, 'no warning for 0600 files');
});

test('a plain-text link to a non-loopback address is refused unless allowInsecureLink says so', () => {
  const secretFile = 'unused';
  const edge = (gatewayUrl: string, extra: Record<string, unknown> = {}) => () => loadConfig('edge', { flags: { listen: '127.0.0.1:0', secretFile, gatewayUrl, ...extra }, env: {} });
  for (const url of ['tcp://10.0.0.5:9520', 'ws://gateway.example:9520', 'tcp://[2001:db8::1]:9520', 'ws://hypha:9520']) {
    assert.throws(edge(url), (e: AccelError) => e.code === 'HYPHA_ACCEL_ERR_CONFIG' && /allowInsecureLink/.test(e.message), url);
    assert.doesNotThrow(edge(url, { allowInsecureLink: 'true' }), url);
  }
  for (const url of ['tcp://127.0.0.1:9520', 'ws://localhost:9520', 'tcp://[::1]:9520', 'tls://10.0.0.5:9520', 'wss://gateway.example', 'tcps://gateway.example:1']) {
    assert.doesNotThrow(edge(url), url);
  }
  assert.doesNotThrow(edge('unix:///run/hypha-accel/link.sock'), 'a unix:// link never leaves the host');
  assert.throws(edge('unix://'), /absolute path/);
  assert.throws(edge('tls://g:1', { tlsClientCertFile: 'c.pem' }), /go together/);
  const gateway = (extra: Record<string, unknown>) => () => loadConfig('gateway', { flags: { listen: '127.0.0.1:0', secretFile, hyphaUrl: 'http://127.0.0.1:9527', ...extra }, env: {} });
  assert.throws(gateway({ tlsCertFile: 'c.pem' }), /go together/);
  assert.throws(gateway({ tlsClientCaFile: 'ca.pem' }), /needs tlsCertFile/);
});

test('secretFile: a plain secret is one key "default"; a keyring file holds keys with ids, preferred first', async () => {
  const { readKeys } = await import('../../src/config/load.js');
  const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-keys-'));
  const plain = join(dir, 'plain');
  writeFileSync(plain, 'a'.repeat(32) + '\n', { mode: 0o600 });
  assert.deepEqual(readKeys(plain).map((k) => [k.id, k.secret.toString()]), [['default', 'a'.repeat(32)]]);
  const ring = join(dir, 'ring');
  writeFileSync(ring, `# hypha-accel keys\n# rotation 2026-11\n2026-11 ${'b'.repeat(32)}\n2026-05 ${'c'.repeat(32)}\n`, { mode: 0o600 });
  assert.deepEqual(readKeys(ring).map((k) => [k.id, k.secret.toString()]), [['2026-11', 'b'.repeat(32)], ['2026-05', 'c'.repeat(32)]]);
  writeFileSync(ring, `# hypha-accel keys\nk1 short\n`, { mode: 0o600 });
  assert.throws(() => readKeys(ring), /line 2 is not "ID SECRET"/);
  writeFileSync(ring, `# hypha-accel keys\nk1 ${'d'.repeat(20)}\nk1 ${'e'.repeat(20)}\n`, { mode: 0o600 });
  assert.throws(() => readKeys(ring), /key id k1 twice/);
});

test('the admin port is on by default, on localhost, at a port of its own per role (both roles can share a host)', () => {
  const edge = loadConfig('edge', { flags: base, env: {} });
  const gateway = loadConfig('gateway', { flags: { listen: '127.0.0.1:9001', hyphaUrl: 'http://127.0.0.1:9527', secretFile: '/dev/null' }, env: {} });
  for (const config of [edge, gateway]) assert.match(config.adminListen, /^127\.0\.0\.1:\d+$/, 'bound to localhost');
  assert.notEqual(edge.adminListen, gateway.adminListen);
  // Empty turns it off.
  assert.equal(loadConfig('edge', { flags: { ...base, adminListen: '' }, env: {} }).adminListen, '');
});
