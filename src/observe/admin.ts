// Admin HTTP: /metrics (Prometheus), /healthz (alive), /readyz (edge: a link is up; gateway: listening),
// and /workers (JSON) when the role runs as several worker processes (src/roles/workers.ts).
import http from 'node:http';
import type { Logger } from '../log.js';
import { splitHostPort } from '../config/load.js';
import { closeServer, listen } from '../net/listen.js';
import { createMetrics, type LinkStatsSource } from './metrics.js';

/** Where /metrics text comes from: this process's registry, or the workers' registries summed. */
export interface MetricsSource {
  text(): Promise<string>;
  contentType: string;
  close(): void;
}

export interface AdminSources {
  isReady: () => boolean;
  linkStats: LinkStatsSource;
  payloadStats: LinkStatsSource;
  /** Replaces the local registry (the primary of several workers serves theirs, summed). */
  metrics?: MetricsSource;
  /** Served as JSON at /workers when given. */
  workers?: () => unknown;
}

function localMetrics(role: string, sources: AdminSources): MetricsSource {
  const { registry, close } = createMetrics(role, sources.linkStats, sources.payloadStats);
  return { text: () => registry.metrics(), contentType: registry.contentType, close };
}

export async function startAdmin(address: string, role: string, log: Logger, sources: AdminSources): Promise<{ url: string; close(): Promise<void> }> {
  const metrics = sources.metrics ?? localMetrics(role, sources);
  const isReady = sources.isReady;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/workers' && sources.workers) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(sources.workers()) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const { host, port } = splitHostPort(address);
  const bound = await listen(server, host, port);
  const url = `http://${host}:${bound}`;
  log.info({ url }, 'admin listening');
  return {
    url,
    async close() {
      metrics.close();
      await closeServer(server);
    },
  };
}
