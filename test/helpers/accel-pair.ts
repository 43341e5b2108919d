// Starts an edge and a gateway in this process in front of a hypha server, with a silent logger and
// ephemeral ports, for integration tests. The gateway can be restarted on the same port.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, readSecret, type EdgeConfig, type GatewayConfig } from '../../src/config/load.js';
import { startEdge, type EdgeHandle } from '../../src/edge/edge.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';

export interface AccelPair {
  edge: EdgeHandle;
  gateway: GatewayHandle;
  /** What clients use as server_url. */
  edgeUrl: string;
  /** The gateway's Unix socket, with link 'unix'. */
  linkSocketPath?: string;
  restartGateway(): Promise<void>;
  close(): Promise<void>;
}

export interface AccelPairOptions {
  edge?: Record<string, unknown>;
  gateway?: Record<string, unknown>;
  /** The link transport: tcp (default, or HYPHA_ACCEL_TEST_LINK), ws, tls (give the gateway tlsCertFile/tlsKeyFile
   * and the edge caFile), or unix (the gateway's Unix socket in a temporary folder). */
  link?: 'tcp' | 'ws' | 'tls' | 'unix';
  /** Give the edge a different secret than the gateway. */
  edgeSecret?: string;
  logLevel?: string;
  /** The port the edge dials instead of the gateway's (e.g. a FaultProxy in front of it). */
  linkPort?: (gatewayPort: number) => Promise<number>;
}

export function writeSecret(value = randomBytes(32).toString('hex')): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hypha-accel-secret-')), 'secret');
  writeFileSync(path, value, { mode: 0o600 });
  return path;
}

export async function startAccelPair(hyphaUrl: string, options: AccelPairOptions = {}): Promise<AccelPair> {
  const secretFile = writeSecret();
  const edgeSecretFile = options.edgeSecret ? writeSecret(options.edgeSecret) : secretFile;
  const log = createLogger(options.logLevel ?? process.env.HYPHA_ACCEL_TEST_LOG_LEVEL ?? 'silent');
  const link = options.link ?? process.env.HYPHA_ACCEL_TEST_LINK ?? 'tcp';
  const linkSocketPath = link === 'unix' ? join(mkdtempSync(join(tmpdir(), 'hypha-accel-link-')), 'link.sock') : undefined;
  const gatewayConfig: GatewayConfig = loadConfig('gateway', {
    flags: { listen: '127.0.0.1:0', hyphaUrl, secretFile, ...(linkSocketPath ? { linkSocketPath } : {}), ...options.gateway },
    env: {},
  });
  let gateway = await startGateway(gatewayConfig, { secret: readSecret(secretFile), log: log.child({ role: 'gateway' }) });
  const linkPort = options.linkPort ? await options.linkPort(gateway.port) : gateway.port;
  const edgeConfig: EdgeConfig = loadConfig('edge', {
    flags: { listen: '127.0.0.1:0', gatewayUrl: linkSocketPath ? `unix://${linkSocketPath}` : `${link}://127.0.0.1:${linkPort}`, secretFile: edgeSecretFile, ...options.edge },
    env: {},
  });
  const edge = await startEdge(edgeConfig, { secret: readSecret(edgeSecretFile), log: log.child({ role: 'edge' }) });
  const pair: AccelPair = {
    edge,
    get gateway() {
      return gateway;
    },
    edgeUrl: edge.url,
    linkSocketPath,
    async restartGateway() {
      const port = gateway.port;
      await gateway.close(2000);
      gateway = await startGateway({ ...gatewayConfig, listen: `127.0.0.1:${port}` }, { secret: readSecret(secretFile), log: log.child({ role: 'gateway' }) });
    },
    async close() {
      await edge.close(2000);
      await gateway.close(2000);
    },
  };
  return pair;
}
