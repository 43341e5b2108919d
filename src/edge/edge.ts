// The edge role: looks exactly like a hypha server to unmodified clients. Each WebSocket upgrade becomes
// a session on a pooled link, completed only once the gateway's upstream upgrade to hypha succeeded;
// every other HTTP request is proxied to the gateway verbatim.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { AccelError } from '../errors.js';
import type { EdgeConfig } from '../config/load.js';
import { splitHostPort } from '../config/load.js';
import type { Logger } from '../log.js';
import { LinkPool } from '../link/link-pool.js';
import type { RoleDeps } from '../roles/role-deps.js';
import { establishAsEdge, type Established } from '../link/establish.js';
import type { Stream } from '../link/stream.js';
import { maxLinkMessageBytes, newLinkStats, type LinkStats } from '../link/link-session.js';
import { decodeOpenFailure, decodeOpenReply, encodeSessionOpen } from '../link/session-open.js';
import { answerPlain, forwardHeaders, proxyHttpRequest, upstreamAgent } from '../net/http-proxy.js';
import { rejectUpgrade, WS_HANDSHAKE_HEADERS } from '../net/upgrade-response.js';
import { Admission } from '../net/admission.js';
import { checkUpgrade } from '../net/upgrade-check.js';
import { redactTarget } from '../net/redact.js';
import { throttledLog } from '../net/log-throttle.js';
import { LINK_WS_PROTOCOL, maxBatchedLinkMessageBytes, wsLinkTransport } from '../net/ws-link-transport.js';
import { dialTcpLink } from '../net/tcp-link-transport.js';
import type { DuplexTransport } from '../link/establish.js';
import { bindEndpoint } from '../net/bind-endpoint.js';
import { WriteArena } from '../net/endpoint-writer.js';
import { tapIngress } from '../net/ingress-tap.js';
import { mirrorClose } from '../net/ws-close.js';
import { publishLink, publishSession, type LinkInfo } from '../events.js';
import { commonSessionOptions, describeLink, linkSettings, LINK_PATH, RESUME_CAPABILITY } from '../roles/link-setup.js';
import { PAYLOAD_CAPABILITY, PAYLOAD_V4_CAPABILITY, PayloadPairs } from '../roles/payload-setup.js';
import { ShmSetup } from '../roles/shm-setup.js';
import { listen, closeServer } from '../net/listen.js';
import { clientOptions } from '../net/tls-files.js';
import { TLS_LINK_SCHEMES } from '../config/link-security.js';
import type { ConnectionOptions } from 'node:tls';
import { streamPort, type SessionPort } from '../link/session-port.js';
import { ResumableSession } from '../link/resumable-session.js';
import { ResumeBudget } from '../link/retransmit-log.js';
import { resumeSession, type OpenReply } from './edge-resume.js';
import { EdgeDrain } from './edge-drain.js';

export interface EdgeHandle {
  /** http://host:port, what clients use as server_url. */
  url: string;
  port: number;
  pool: LinkPool;
  /** Cumulative link counters (frames, bytes, transcoding) over all links so far. */
  linkStats: LinkStats;
  /** Payload-plane counters over live pairs (blobs, dedupe, shm: shmLinks, shmBlobsSent, ...). */
  payloadMetrics(): Record<string, number>;
  sessionCount(): number;
  /** Admission state: pending handshakes, sessions, refusals by limit. */
  admission: Admission;
  /** Live links (id, peer, RTT, pacing window, streams, capabilities). */
  linkInfo(): LinkInfo[];
  /** Ready while a link is up and no stop has begun. */
  readiness(): Promise<{ ready: boolean; reason: string }>;
  /** Graceful stop: refuse new clients, close clients with 1001, drain links, then end them. */
  close(deadlineMs?: number): Promise<void>;
}


export async function startEdge(config: EdgeConfig, deps: RoleDeps): Promise<EdgeHandle> {
  const { log } = deps;
  const gatewayUrl = new URL(config.gatewayUrl);
  const overTls = TLS_LINK_SCHEMES.has(gatewayUrl.protocol);
  // unix:///PATH: links and HTTP passthrough go to the gateway's Unix socket (a colocated gateway).
  const gatewaySocketPath = gatewayUrl.protocol === 'unix:' ? decodeURIComponent(gatewayUrl.pathname) : undefined;
  const gatewayHttp = gatewaySocketPath ? new URL('http://localhost/') : new URL(gatewayUrl.href.replace(/^[a-z]+:/, overTls ? 'https:' : 'http:'));
  const linkUrl = new URL(LINK_PATH, gatewayUrl).href;
  const tlsFiles = { caFile: config.caFile, serverName: config.tlsServerName, clientCertFile: config.tlsClientCertFile, clientKeyFile: config.tlsClientKeyFile };
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  // HTTP passthrough needs no client certificate (the gateway asks for one on links only).
  const agent = upstreamAgent(gatewayHttp, config.maxHttpSockets, ca, config.tlsServerName ? { servername: config.tlsServerName } : {}, gatewaySocketPath);
  const admission = new Admission(config);
  const refusalLog = throttledLog(log); // refusals a hostile client can trigger at will
  const byteStreamLink = gatewayUrl.protocol !== 'ws:' && gatewayUrl.protocol !== 'wss:';
  const clients = new Set<WebSocket>();
  const writeArena = new WriteArena(); // every session's endpoint writes share it (an idle one holds no buffer)
  const pendingOpens = new Map<Stream, (reply: OpenReply) => void>();
  const linkStats = newLinkStats();
  const instanceId = `edge-${randomUUID()}`;
  const payloadPairs = new PayloadPairs(config, deps.secret, log);
  let shmSetup: ShmSetup | undefined; // set once listening (its writer id derives from the bound port)
  const resumeBudget = new ResumeBudget(config.resumeProcessBufferBytes);
  const resumable = new Set<ResumableSession>();
  const drain = new EdgeDrain(log);
  let stopping = false;

  const pool = new LinkPool({
    size: config.links,
    backoff: { initialDelayMs: 250, maxDelayMs: 10000, multiplier: 2 },
    dial: async () => byteStreamLink
      ? dialTcpLink(new URL(LINK_PATH, gatewayHttp), { maxFrameBytes: maxLinkMessageBytes(config.maxFrameBytes), timeoutMs: config.handshakeTimeoutMs, tls: clientOptions(tlsFiles), socketPath: gatewaySocketPath })
      : dialLink(linkUrl, config, clientOptions(tlsFiles)),
    establish: (transport) =>
      establishAsEdge(transport, {
        secret: deps.secret,
        keys: deps.keys,
        local: linkSettings(config),
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        instanceId,
        shm: shmSetup,
        session: ({ capabilities, linkId, peerId, shmPairId, peer, key }) => {
          const blobs = capabilities.includes(PAYLOAD_CAPABILITY) ? payloadPairs.planeFor(instanceId, peerId, peerId, peer.maxFrameBytes, shmSetup?.segmentsFor(shmPairId), key.secret, { payloadV4: capabilities.includes(PAYLOAD_V4_CAPABILITY) }) : undefined;
          return {
            ...commonSessionOptions({ role: 'edge', config, linkStats, linkId, capabilities, blobs, sameHost: gatewaySocketPath !== undefined }),
            onStreamOpenReply: (stream, ok, payload) => {
              const resolve = pendingOpens.get(stream);
              pendingOpens.delete(stream);
              if (!resolve) return;
              if (ok) resolve({ ok: true, ...decodeOpenReply(payload) });
              else resolve({ ok: false, ...decodeOpenFailure(payload) });
            },
            // The gateway instance is stopping: new sessions go to a fresh link (another instance), these close when quiet.
            onDrain: (drainMs, reason) => {
              const link = pool.held(linkId);
              if (!link) return; // still in its handshake: the pool drops it and dials again
              pool.retire(link);
              drain.onDrain(link, drainMs, reason);
            },
          };
        },
      }),
    onLinkUp: (link, slot) => {
      log.info({ slot, linkId: link.linkId, gateway: link.peerId, gatewaySlot: link.peerSlot, keyId: link.key.id, capabilities: link.capabilities, shm: link.shmPairId !== undefined }, 'link up');
      publishLink({ role: 'edge', linkId: link.linkId, event: 'up' });
    },
    onLinkDown: (slot, error) => {
      log[error?.code === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? 'info' : 'warn']({ slot, code: error?.code, err: error?.message }, 'link down');
      publishLink({ role: 'edge', linkId: String(slot), event: 'down', errorCode: error?.code, message: error?.message });
    },
    onDialError: (slot, error) => {
      log.warn({ slot, code: error.code, err: error.message }, 'link dial failed');
      publishLink({ role: 'edge', linkId: String(slot), event: 'refused', errorCode: error.code, message: error.message });
    },
  });

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: config.endpointDeflate,
    maxPayload: config.maxMessageBytes,
    handleProtocols: (_protocols, req) => (req as UpgradeRequest).chosenProtocol || false,
  });

  const server = http.createServer((req, res) => {
    const overBudget = admission.overBudget();
    if (overBudget) {
      refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_OVERLOADED', limit: overBudget }, 'HTTP request shed');
      req.resume();
      return answerPlain(res, 503, 'hypha-accel: edge overloaded (HYPHA_ACCEL_ERR_OVERLOADED)');
    }
    proxyHttpRequest(req, res, { target: gatewayHttp, agent, log });
  });
  admission.guardServer(server, (address) => refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_RATE_LIMITED', from: address }, 'connection refused: rate'));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const checked = checkUpgrade(req);
    if (!checked.ok) {
      refusalLog('info', { code: 'HYPHA_ACCEL_ERR_BAD_REQUEST', why: checked.message, path: redactTarget(req.url), from: req.socket.remoteAddress }, 'client refused: bad upgrade');
      return rejectUpgrade(socket, 400, checked.message);
    }
    const full = admission.refuseNew('session');
    if (full) {
      refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_OVERLOADED', why: full, from: req.socket.remoteAddress }, 'client refused: overloaded');
      return rejectUpgrade(socket, 503, 'hypha-accel: edge overloaded (HYPHA_ACCEL_ERR_OVERLOADED)');
    }
    const endHandshake = admission.beginHandshake();
    acceptClient(req as UpgradeRequest, socket, head, checked.protocols)
      .catch((error: unknown) => {
        log.error({ err: (error as Error).message }, 'client upgrade failed');
        rejectUpgrade(socket, 502, 'hypha-accel: upstream unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE)');
      })
      .finally(endHandshake);
  });

  async function acceptClient(req: UpgradeRequest, socket: Duplex, head: Buffer, protocols: string[]): Promise<void> {
    if (stopping) return rejectUpgrade(socket, 503, 'hypha-accel edge is stopping (HYPHA_ACCEL_ERR_SHUTDOWN)');
    const path = redactTarget(req.url);
    const sessionId = randomUUID();
    // An OPEN that crossed the gateway's DRAIN on the way is refused (503): it is tried once more on a link the
    // pool offers now (a fresh one, to another instance).
    let link: Established;
    let stream: Stream;
    for (let attempt = 1; ; attempt++) {
      try {
        link = await pool.waitReady(config.linkWaitMs);
      } catch (error) {
        const accel = error as AccelError;
        log.warn({ code: accel.code, err: accel.message, path }, 'client refused: no link');
        publishSession({ role: 'edge', sessionId: '', event: 'refused', status: 503, path, viaLink: true });
        return rejectUpgrade(socket, 503, `hypha-accel: gateway unreachable (${accel.code})`);
      }
      stream = link.session.openStream(encodeSessionOpen({
        sessionId,
        path: req.url ?? '/',
        headers: forwardHeaders(req.headers, WS_HANDSHAKE_HEADERS) as Record<string, string | string[]>,
        protocols,
        clientAddress: req.socket.remoteAddress ?? '',
      }));
      const reply = await waitOpenReply(stream, link);
      if (reply.ok) {
        req.chosenProtocol = reply.protocol;
        break;
      }
      link.session.forgetStream(stream);
      if (attempt === 1 && reply.status === 503 && link.session.draining && !socket.destroyed) continue;
      publishSession({ role: 'edge', sessionId, event: 'refused', status: reply.status, path, viaLink: true });
      return rejectUpgrade(socket, reply.status, reply.message);
    }
    if (socket.destroyed || stopping) {
      link.session.closeStream(stream, 1006, '');
      return;
    }
    // ws may still refuse the upgrade itself: then the socket closes without the callback, and the
    // session opened upstream must be closed too.
    let bound = false;
    socket.once('close', () => {
      if (!bound) link.session.closeStream(stream, 1006, '');
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const ingress = tapIngress(ws, config.maxMessageBytes); // before ws reads a byte
      bound = true;
      clients.add(ws);
      const endSession = admission.beginSession();
      publishSession({ role: 'edge', sessionId, event: 'open', path, viaLink: true });
      const port = sessionPort(stream, link, sessionId, req.url ?? '/');
      drain.track(ws, sessionId, link, port);
      bindEndpoint(ws, port, { role: 'edge', sessionId, inbound: 'up', log, ingress, writeArena, onClosed: () => {
        clients.delete(ws);
        drain.untrack(ws);
        endSession();
      } });
    });
  }

  /** The session a client's socket is bound to: resumable when both sides negotiated it. */
  function sessionPort(stream: Stream, link: Established, sessionId: string, path: string): SessionPort {
    if (!link.capabilities.includes(RESUME_CAPABILITY)) return streamPort(stream, link.session);
    const session: ResumableSession = new ResumableSession(stream, link.session, {
      sessionId, graceMs: config.resumeGraceMs, maxBufferBytes: config.resumeBufferBytes, budget: resumeBudget,
      onDetached: () => {
        if (stopping) return session.abort(new AccelError('HYPHA_ACCEL_ERR_SHUTDOWN', 'edge stopping'));
        // A draining instance takes no link any more: close the client now (1001) rather than wait out the grace.
        if (drain.isDraining(link.peerId)) return session.abort(new AccelError('HYPHA_ACCEL_ERR_SHUTDOWN', 'gateway instance draining'));
        void resumeSession(session, { id: link.peerId, slot: link.peerSlot }, path, { pool, log, graceMs: config.resumeGraceMs, waitOpenReply });
      },
      onEnded: () => resumable.delete(session),
    });
    resumable.add(session);
    return session;
  }

  function waitOpenReply(stream: Stream, link: Established): Promise<OpenReply> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pendingOpens.delete(stream);
        link.session.closeStream(stream, 1006, '');
        resolve({ ok: false, status: 504, message: `hypha-accel: gateway did not open the session within ${config.openTimeoutMs} ms (HYPHA_ACCEL_ERR_OPEN_TIMEOUT)` });
      }, config.openTimeoutMs).unref();
      pendingOpens.set(stream, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      // A link that dies before the reply leaves the client with what an unreachable hypha gives: 502.
      stream.onAbortUnbound = (error) => {
        pendingOpens.delete(stream);
        clearTimeout(timer);
        resolve({ ok: false, status: 502, message: `hypha-accel: link lost while opening (${error.code})`, linkLost: true });
      };
    });
  }

  const { host, port } = splitHostPort(config.listen);
  const boundPort = await listen(server, host, port, deps.exclusivePort);
  if (config.shm && config.payload) {
    shmSetup = new ShmSetup(config, { role: 'edge', listenPort: boundPort, workerIndex: deps.workerIndex }, log);
    await shmSetup.sweep();
    shmSetup.startPeriodicSweep();
  }
  pool.start();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  log.info({ url, gateway: config.gatewayUrl, links: config.links }, 'edge listening');

  return {
    url,
    port: boundPort,
    pool,
    linkStats,
    payloadMetrics: () => ({ ...payloadPairs.metrics(), ...shmSetup?.metrics() }),
    sessionCount: () => clients.size,
    admission,
    linkInfo: () => pool.readyLinks.map(describeLink),
    readiness: async () => stopping ? { ready: false, reason: 'draining' }
      : pool.readyLinks.length > 0 ? { ready: true, reason: 'a link is up' } : { ready: false, reason: 'no link to the gateway' },
    async close(deadlineMs = config.drainTimeoutMs) {
      if (stopping) return;
      stopping = true;
      const closed = closeServer(server);
      for (const ws of clients) mirrorClose(ws, 1001, 'hypha-accel edge stopping');
      const deadline = Date.now() + deadlineMs;
      while (clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const ws of clients) ws.terminate();
      pool.stop('edge stopping');
      drain.stop();
      agent.destroy();
      shmSetup?.stopPeriodicSweep();
      await payloadPairs.close();
      await closed;
      log.info('edge stopped');
    },
  };
}

interface UpgradeRequest extends http.IncomingMessage {
  chosenProtocol?: string;
}

function dialLink(url: string, config: EdgeConfig, tls: ConnectionOptions): Promise<DuplexTransport> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [LINK_WS_PROTOCOL], { perMessageDeflate: false, maxPayload: maxBatchedLinkMessageBytes(maxLinkMessageBytes(config.maxFrameBytes)), handshakeTimeout: config.handshakeTimeoutMs, ...(url.startsWith('wss:') ? tls : {}) });
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(wsLinkTransport(ws, maxLinkMessageBytes(config.maxFrameBytes)));
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new AccelError('HYPHA_ACCEL_ERR_NO_LINK', `gateway answered the link upgrade with HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', (error) => reject(new AccelError('HYPHA_ACCEL_ERR_NO_LINK', `cannot reach the gateway at ${url}: ${error.message}`)));
  });
}
