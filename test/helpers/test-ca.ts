// Makes a throw-away certificate authority and a leaf certificate for 127.0.0.1/localhost with openssl,
// in a temporary directory, for TLS tests (nothing is trusted system-wide: pass caPath to the client).
// issueCert() signs further leaves (client certificates, other names, already expired ones).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  caPath: string;
  key: Buffer;
  cert: Buffer;
  /** The leaf's files, for settings that take paths. */
  certPath: string;
  keyPath: string;
  dir: string;
  caKeyPath: string;
}

export interface IssuedCert {
  certPath: string;
  keyPath: string;
  /** SHA-256 fingerprint as openssl prints it (AA:BB:...). */
  fingerprint: string;
  serial: string;
}

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
let serials = 100;

export function makeTestCa(name = 'hypha-accel test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-ca-'));
  const at = (file: string) => join(dir, file);
  openssl('req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', `/CN=${name}`);
  const ca = { caPath: at('ca.pem'), caKeyPath: at('ca.key'), dir } as TestCa;
  const leaf = issueCert(ca, { name: 'leaf', cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1' });
  return { ...ca, certPath: leaf.certPath, keyPath: leaf.keyPath, key: readFileSync(leaf.keyPath), cert: readFileSync(leaf.certPath) };
}

/** Signs a new leaf with `ca`: `days` < 0 gives a certificate that has already expired. */
export function issueCert(ca: Pick<TestCa, 'caPath' | 'caKeyPath' | 'dir'>, options: { name: string; cn: string; san?: string; days?: number }): IssuedCert {
  const at = (file: string) => join(ca.dir, file);
  const { name } = options;
  openssl('req', ...ec, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=${options.cn}`);
  writeFileSync(at(`${name}.ext`), `subjectAltName=${options.san ?? `DNS:${options.cn}`}\n`);
  const serial = String(serials++);
  openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', ca.caPath, '-CAkey', ca.caKeyPath, '-set_serial', serial, '-out', at(`${name}.pem`),
    '-days', String(options.days ?? 1), '-extfile', at(`${name}.ext`));
  const fingerprint = openssl('x509', '-in', at(`${name}.pem`), '-noout', '-fingerprint', '-sha256').trim().split('=')[1]!;
  return { certPath: at(`${name}.pem`), keyPath: at(`${name}.key`), fingerprint, serial };
}
