// Resolves a role's configuration: flags > environment (HYPHA_ACCEL_*) > YAML file (--config) > defaults,
// validated setting by setting so a bad value is reported as one line naming the setting and its source.
import type { ForwardedForMode } from '../net/forwarded-headers.js';
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AccelError } from '../errors.js';
import { SETTINGS, type Role } from './settings.js';
import { linkSecurityProblem } from './link-security.js';
import { derivedKeyId, type LinkKey } from '../link/handshake.js';

export interface CommonConfig {
  listen: string;
  secretFile: string;
  adminListen: string;
  workers: number;
  logLevel: string;
  windowBytes: number;
  maxFrameBytes: number;
  maxMessageBytes: number;
  pingIntervalMs: number;
  keepaliveTimeoutMs: number;
  handshakeTimeoutMs: number;
  drainTimeoutMs: number;
  stopDelayMs: number;
  resumeGraceMs: number;
  resumeBufferBytes: number;
  resumeProcessBufferBytes: number;
  endpointDeflate: boolean;
  codec: boolean;
  pacing: boolean;
  payloadBypassMbps: number;
  codecBypassMbps: number;
  payload: boolean;
  payloadMinBytes: number;
  payloadStoreBytes: number;
  shm: boolean;
  shmDir: string;
  shmMaxBytes: number;
  linkBandwidthMbps: number;
  linkCompression: 'auto' | 'on' | 'off';
  linkCompressionBelowMbps: number;
  warmUpCalls: number;
  recordFrames: string;
  tracingSlowCallMs: number;
  caFile: string;
  maxPendingHandshakes: number;
  maxSessions: number;
  maxHttpSockets: number;
  memoryBudgetBytes: number;
  connRatePerSec: number;
  connBurst: number;
}

export interface GatewayConfig extends CommonConfig {
  plainClientDeflate: boolean;
  plainSplice: boolean;
  hyphaUrl: string;
  linkSocketPath: string;
  maxLinks: number;
  maxStreamsPerLink: number;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsClientCaFile: string;
  tlsClientAllow: string;
  tlsClientRevokedFile: string;
  forwardedFor: ForwardedForMode;
  trustedProxies: string;
}

export interface EdgeConfig extends CommonConfig {
  gatewayUrl: string;
  links: number;
  openTimeoutMs: number;
  linkWaitMs: number;
  tlsServerName: string;
  tlsClientCertFile: string;
  tlsClientKeyFile: string;
  allowInsecureLink: boolean;
}

export interface ConfigSources {
  flags: Record<string, unknown>; // camelCase keys, as commander gives them
  env: NodeJS.ProcessEnv;
  configFile?: string;
}

export function loadConfig(role: 'edge', sources: ConfigSources): EdgeConfig;
export function loadConfig(role: 'gateway', sources: ConfigSources): GatewayConfig;
export function loadConfig(role: Role, sources: ConfigSources): EdgeConfig | GatewayConfig {
  const file = sources.configFile ? readConfigFile(sources.configFile) : {};
  const known = new Set(SETTINGS.filter((s) => s.roles.includes(role)).map((s) => s.key));
  for (const key of Object.keys(file)) {
    if (!known.has(key)) throw configError(`unknown setting ${key} (from ${sources.configFile}) for the ${role}`);
  }
  const config: Record<string, unknown> = {};
  for (const spec of SETTINGS) {
    if (!spec.roles.includes(role)) continue;
    const [raw, source] =
      sources.flags[spec.key] !== undefined ? [sources.flags[spec.key], spec.flag]
      : sources.env[spec.env] !== undefined ? [sources.env[spec.env], spec.env]
      : file[spec.key] !== undefined ? [file[spec.key], `${sources.configFile}: ${spec.key}`]
      : [spec.defaultValue, 'default'];
    if (raw === undefined) throw configError(`missing setting ${spec.key}: set ${spec.flag}, ${spec.env} or "${spec.key}" in the config file`);
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues[0]?.message ?? 'invalid';
      throw configError(`invalid setting ${spec.key} (from ${source}): ${why}, got ${JSON.stringify(raw)}`);
    }
    config[spec.key] = parsed.data;
  }
  if ((config.keepaliveTimeoutMs as number) <= (config.pingIntervalMs as number)) {
    throw configError(`invalid setting keepaliveTimeoutMs: must be greater than pingIntervalMs (${String(config.pingIntervalMs)})`);
  }
  const security = linkSecurityProblem(config);
  if (security) throw configError(security);
  return config as unknown as EdgeConfig | GatewayConfig;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw configError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw configError(`config file ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw configError(`config file ${path} must hold a mapping of settings`);
  return value as Record<string, unknown>;
}

function configError(message: string): AccelError {
  return new AccelError('HYPHA_ACCEL_ERR_CONFIG', message);
}

/**
 * Reads the shared secret as bytes (binary secrets are kept exactly; only one trailing newline, LF or CRLF,
 * is dropped, as `openssl rand -hex 32 > secret` writes one). An unreadable file or fewer than 16 bytes is a
 * configuration error. A file readable by others than its owner is reported through onWarning (default:
 * one line on stderr) but accepted: Kubernetes Secret volumes with fsGroup (0440) and compose secrets
 * (bind-mounted with the host file's mode) need group or other read access for a non-root container user.
 */
export function readSecret(path: string, onWarning: (message: string) => void = (m) => process.stderr.write(`hypha-accel: warning: ${m}\n`)): Buffer {
  let secret: Buffer;
  let mode: number;
  try {
    mode = statSync(path).mode;
    secret = readFileSync(path);
  } catch (error) {
    throw configError(`invalid setting secretFile: cannot read ${path}: ${(error as Error).message}`);
  }
  const newline = secret.at(-1) === 0x0a ? (secret.at(-2) === 0x0d ? 2 : 1) : 0;
  const trimmed = secret.subarray(0, secret.length - newline);
  if (trimmed.length < 16) throw configError(`invalid setting secretFile: ${path} holds ${trimmed.length} bytes; use at least 16 (e.g. openssl rand -hex 32)`);
  if ((mode & 0o077) !== 0) {
    onWarning(`secretFile ${path} is readable by ${mode & 0o004 ? 'every user' : 'its group'} (mode ${(mode & 0o777).toString(8).padStart(3, '0')}); anyone who can read it can open links to the gateway. Prefer chmod 600 (Kubernetes: defaultMode 0400, or 0440 with fsGroup)`);
  }
  return Buffer.from(trimmed);
}

/** First line of a secretFile holding several keys with ids (a rotation), one `ID SECRET` a line after it. */
export const KEYRING_HEADER = '# hypha-accel keys';

/**
 * Reads the link keys: a plain secret file is one key (its id derived from it, readSecret rules); a file
 * starting with KEYRING_HEADER holds `ID SECRET` lines (secret: at least 16 bytes of text), preferred first.
 */
export function readKeys(path: string, onWarning?: (message: string) => void): LinkKey[] {
  const secret = readSecret(path, onWarning);
  const text = secret.toString('utf8');
  if (!text.startsWith(KEYRING_HEADER)) return [{ id: derivedKeyId(secret), secret }];
  const keys: LinkKey[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (index === 0 || !line || line.startsWith('#')) continue;
    const match = /^([A-Za-z0-9._-]{1,64})\s+(\S{16,})$/.exec(line);
    if (!match) throw configError(`invalid setting secretFile: ${path} line ${index + 1} is not "ID SECRET" (id: letters, digits, . _ -; secret: at least 16 characters)`);
    if (keys.some((k) => k.id === match[1])) throw configError(`invalid setting secretFile: ${path} has key id ${match[1]} twice`);
    keys.push({ id: match[1]!, secret: Buffer.from(match[2]!, 'utf8') });
  }
  if (keys.length === 0) throw configError(`invalid setting secretFile: ${path} has the keyring header but no key`);
  return keys;
}

export function splitHostPort(value: string): { host: string; port: number } {
  const index = value.lastIndexOf(':');
  const host = value.slice(0, index).replace(/^\[|\]$/g, '');
  return { host: host || '0.0.0.0', port: Number(value.slice(index + 1)) };
}
