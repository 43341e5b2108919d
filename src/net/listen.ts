// Promise wrappers for starting and stopping an HTTP server (on a port, or on a Unix socket).
import cluster from 'node:cluster';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

/**
 * `exclusive`: the port is this process's alone; otherwise a cluster worker's listen goes through its primary,
 * which shares one port among the workers (even port 0: every worker gets the same one).
 */
export function listen(server: Server, host: string, port: number, exclusive = false): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * Listens on a Unix socket at `path`, mode 0600 (only this user connects). A socket file nobody answers on
 * (left by a process that died) is replaced; a live one is an error (another process serves it). Cluster
 * workers share the primary's socket, so they skip that check.
 */
export async function listenUnix(server: Server, path: string): Promise<void> {
  if (!cluster.isWorker && (await isStaleSocket(path))) unlinkSync(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
}

function isStaleSocket(path: string): Promise<boolean> {
  let stats;
  try {
    stats = lstatSync(path);
  } catch {
    return Promise.resolve(false);
  }
  if (!stats.isSocket()) return Promise.resolve(false); // listen fails with EADDRINUSE: never remove other files
  return new Promise((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}
