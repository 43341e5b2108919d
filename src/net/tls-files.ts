// TLS material read from files, for both roles: the gateway's server context (certificate, key, client CA),
// the edge's client options (CA, server name, client certificate), and a watcher that calls back when any
// of the files changes, so certificates rotate without a restart (running links keep their sessions).
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
import { AccelError } from '../errors.js';

/** How often watched files are polled for changes (fs.watchFile: also sees a replaced file or symlink swap). */
const WATCH_INTERVAL_MS = 1000;

export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  /** PEM CA whose client certificates the gateway accepts on links (mutual TLS); empty = no client certs. */
  clientCaFile: string;
}

export interface ClientTlsFiles {
  caFile: string;
  serverName: string;
  clientCertFile: string;
  clientKeyFile: string;
}

function read(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new AccelError('HYPHA_ACCEL_ERR_CONFIG', `invalid setting ${setting}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The gateway's secure context, read now from its files. */
export function serverContext(files: ServerTlsFiles): SecureContextOptions {
  return {
    cert: read(files.certFile, 'tlsCertFile'),
    key: read(files.keyFile, 'tlsKeyFile'),
    ...(files.clientCaFile ? { ca: read(files.clientCaFile, 'tlsClientCaFile') } : {}),
  };
}

/** The edge's TLS options for one dial (files read at each dial, so a rotated client certificate is used by the next link). */
export function clientOptions(files: ClientTlsFiles): ConnectionOptions {
  return {
    ...(files.caFile ? { ca: read(files.caFile, 'caFile') } : {}),
    ...(files.serverName ? { servername: files.serverName } : {}),
    ...(files.clientCertFile ? { cert: read(files.clientCertFile, 'tlsClientCertFile') } : {}),
    ...(files.clientKeyFile ? { key: read(files.clientKeyFile, 'tlsClientKeyFile') } : {}),
  };
}

/** Calls onChange when any of the files changes (polled, unref'd); returns the function that stops watching. */
export function watchFiles(paths: string[], onChange: () => void): () => void {
  const watched = [...new Set(paths.filter(Boolean))];
  const listener = (current: { mtimeMs: number; ino: number; size: number }, previous: { mtimeMs: number; ino: number; size: number }) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) onChange();
  };
  for (const path of watched) watchFile(path, { interval: WATCH_INTERVAL_MS, persistent: false }, listener);
  return () => {
    for (const path of watched) unwatchFile(path, listener);
  };
}
