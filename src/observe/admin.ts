// Admin HTTP of one role: /metrics (Prometheus), /live (the process answers), /ready (edge: a link is up;
// gateway: hypha answers; both: not from the moment a stop begins), /stats (JSON) and / (the live page).
// /healthz and /readyz stay as aliases of /live and /ready. The primary of several workers (src/roles/
// workers.ts) serves the workers' metrics summed and /workers (JSON) through AdminOptions.
import http from 'node:http';
import type { Logger } from '../log.js';
import type { LinkInfo, RoleName } from '../events.js';
import { splitHostPort } from '../config/load.js';
import { closeServer, listen } from '../net/listen.js';
import { createMetrics, type MetricSources } from './metrics.js';
import { RpcCallTracker } from './rpc-calls.js';
import { renderLivePage } from './live-page.js';

export interface Readiness {
  ready: boolean;
  reason: string;
}

export interface AdminSources extends MetricSources {
  /** The role's own readiness (a link is up; hypha answers). */
  readiness(): Promise<Readiness>;
  sessions(): Record<string, number>;
}

/** Where /metrics text comes from when it is not this process's own registry. */
export interface MetricsSource {
  text(): Promise<string>;
  contentType: string;
}

export interface AdminOptions {
  /** Replaces the local registry (the primary of several workers serves theirs, summed). */
  metrics?: MetricsSource;
  /** Served as JSON at /workers when given. */
  workers?: () => unknown;
}

export interface AdminHandle {
  url: string;
  /** From now on /ready answers 503 (a stop has begun). */
  beginDrain(): void;
  /** Connects the role once it runs (admin starts first so its metrics see the first links). */
  attach(sources: AdminSources): void;
  close(): Promise<void>;
}

const NO_SOURCES: AdminSources = {
  readiness: async () => ({ ready: false, reason: 'starting' }),
  sessions: () => ({}),
  linkStats: () => undefined,
  payloadStats: () => undefined,
  links: () => [],
};

export async function startAdmin(address: string, role: RoleName, version: string, log: Logger, rpc = new RpcCallTracker({ role }), options: AdminOptions = {}): Promise<AdminHandle> {
  let sources = NO_SOURCES;
  let draining = false;
  const metrics = createMetrics({ role, version, rpc, sources: { linkStats: () => sources.linkStats(), payloadStats: () => sources.payloadStats(), links: () => sources.links() } });
  const metricsText: MetricsSource = options.metrics ?? { text: () => metrics.registry.metrics(), contentType: metrics.registry.contentType };
  const readiness = async (): Promise<Readiness> => (draining ? { ready: false, reason: 'draining' } : sources.readiness());

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(body);
    const fail = (error: Error) => text(500, `${error.message}\n`);
    if (path === '/metrics') {
      metricsText.text().then((body) => res.writeHead(200, { 'content-type': metricsText.contentType }).end(body), fail);
    } else if (path === '/live' || path === '/healthz') {
      text(200, 'ok\n');
    } else if (path === '/ready' || path === '/readyz') {
      readiness().then((r) => text(r.ready ? 200 : 503, r.ready ? 'ready\n' : `not ready: ${r.reason}\n`), fail);
    } else if (path === '/stats') {
      readiness().then((r) => {
        const body = { role, version, ready: r.ready, readyReason: r.reason, sessions: sources.sessions(), links: sources.links().map(describeLink), pendingCalls: rpc.pendingCount, bytes: bytesSaved(sources), wire: wireByKind(sources) };
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      }, fail);
    } else if (path === '/workers' && options.workers) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(options.workers()));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(renderLivePage(role));
    } else {
      text(404, 'not found\n');
    }
  });
  const { host, port } = splitHostPort(address);
  const bound = await listen(server, host, port);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  log.info({ url }, 'admin listening');
  return {
    url,
    beginDrain() {
      draining = true;
    },
    attach(next) {
      sources = next;
    },
    async close() {
      metrics.close(); // the tracker unsubscribes once its last listener is gone
      await closeServer(server);
    },
  };
}

function describeLink(link: LinkInfo): Record<string, unknown> {
  return { ...link, rttMs: link.rttMs === undefined ? null : Math.round(link.rttMs * 1000) / 1000 };
}

/** Frames and bytes on the link per frame kind and direction (LinkStats' wire* counters, cumulative). */
function wireByKind(sources: AdminSources): Record<string, number> {
  return Object.fromEntries(Object.entries(sources.linkStats() ?? {}).filter(([key]) => key.startsWith('wire')));
}

/** What the link carried against what the endpoints exchanged (sent side, cumulative). */
function bytesSaved(sources: AdminSources): Record<string, number> {
  const link = sources.linkStats() ?? {};
  const payload = sources.payloadStats() ?? {};
  return {
    linkBytesSent: link.frameBytesSent ?? 0,
    linkBytesReceived: link.frameBytesReceived ?? 0,
    codecBytesIn: link.transcodeBytesIn ?? 0,
    codecBytesOut: link.transcodeBytesOut ?? 0,
    blobBytesIn: link.blobBytesIn ?? 0,
    payloadBytesSent: link.payloadBytesSent ?? 0,
    dedupedBytes: payload.bytesDeduped ?? 0,
  };
}
