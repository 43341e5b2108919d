// The gateway role: beside the hypha server. Links from edges arrive on LINK_PATH; each session they carry
// gets ONE upstream WebSocket to hypha. Every other upgrade and HTTP request is plain hypha traffic,
// passed through unchanged, so the gateway can take over hypha's Service port.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { GatewayConfig } from '../config/load.js';
import { splitHostPort } from '../config/load.js';
import { AccelError } from '../errors.js';
import type { Logger } from '../log.js';
import { establishAsGateway, type Established } from '../link/establish.js';
import { maxLinkMessageBytes, newLinkStats, type LinkSession, type LinkStats } from '../link/link-session.js';
import { FrameType } from '../link/frame.js';
import type { Stream } from '../link/stream.js';
import { decodeSessionOpen, encodeOpenFailure, encodeOpenReply, type SessionOpen } from '../link/session-open.js';
import { appendForwardedFor, forwardHeaders, proxyHttpRequest } from '../net/http-proxy.js';
import { bindEndpoint } from '../net/bind-endpoint.js';
import { rejectUpgrade, offeredProtocols, WS_HANDSHAKE_HEADERS } from '../net/upgrade-response.js';
import { wsLinkTransport } from '../net/ws-link-transport.js';
import { relayWebSockets } from '../net/ws-relay.js';
import { mirrorClose } from '../net/ws-close.js';
import { listen, closeServer } from '../net/listen.js';
import { publishLink, publishSession, type LinkInfo } from '../events.js';
import { LINK_PATH, commonSessionOptions, describeLink, linkSettings } from '../roles/link-setup.js';
import { PAYLOAD_CAPABILITY, PayloadPairs } from '../roles/payload-setup.js';
import { ShmSetup } from '../roles/shm-setup.js';
import { dialUpstream } from './upstream.js';
import { probeHypha } from './hypha-probe.js';

export interface GatewayHandle {
  url: string; // http://host:port
  port: number;
  links(): LinkSession[];
  /** Cumulative link counters (frames, bytes, transcoding) over all links so far. */
  linkStats: LinkStats;
  /** Payload-plane counters over live pairs (blobs, dedupe, shm: shmLinks, shmBlobsSent, ...). */
  payloadMetrics(): Record<string, number>;
  upstreamCount(): number;
  /** Sessions by kind: carried over links (edge) and plain clients passed through. */
  sessionCounts(): { edge: number; passthrough: number };
  /** Live links (id, peer, RTT, pacing window, streams, capabilities). */
  linkInfo(): LinkInfo[];
  /** Ready while hypha answers its liveness probe and no stop has begun. */
  readiness(): Promise<{ ready: boolean; reason: string }>;
  close(deadlineMs?: number): Promise<void>;
}

export async function startGateway(config: GatewayConfig, deps: { secret: Buffer; log: Logger; workerIndex?: number }): Promise<GatewayHandle> {
  const { log } = deps;
  const hyphaUrl = new URL(config.hyphaUrl);
  const agent = new http.Agent({ keepAlive: true });
  const links = new Set<LinkSession>();
  const liveLinks = new Map<LinkSession, Established>();
  const upstreams = new Set<WebSocket>();
  const passthroughClients = new Set<WebSocket>();
  const linkStats = newLinkStats();
  const instanceId = `gateway-${randomUUID()}`;
  const payloadPairs = new PayloadPairs(config, deps.secret, log);
  let shmSetup: ShmSetup | undefined; // set once listening (its writer id derives from the bound port)
  let stopping = false;

  const linkServer = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: maxLinkMessageBytes(config.maxFrameBytes) });
  const plainServer = new WebSocketServer({
    noServer: true,
    perMessageDeflate: config.endpointDeflate,
    maxPayload: config.maxMessageBytes,
    handleProtocols: (_protocols, req) => (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol || false,
  });

  const server = http.createServer((req, res) => {
    proxyHttpRequest(req, res, {
      target: hyphaUrl,
      agent,
      log,
      forwardedFor: (r) => appendForwardedFor(r.headers['x-forwarded-for'], r.socket.remoteAddress),
    });
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (stopping) return rejectUpgrade(socket, 503, 'hypha-accel gateway is stopping (HYPHA_ACCEL_ERR_SHUTDOWN)');
    const path = (req.url ?? '/').split('?')[0];
    if (path === LINK_PATH) {
      linkServer.handleUpgrade(req, socket, head, (ws) => void acceptLink(ws, req));
    } else {
      void acceptPlainClient(req, socket, head);
    }
  });

  async function acceptLink(ws: WebSocket, req: http.IncomingMessage): Promise<void> {
    // What hypha would see if the clients behind this edge connected directly: the chain that reached us.
    const linkForwardedFor = appendForwardedFor(req.headers['x-forwarded-for'], req.socket.remoteAddress);
    let established: Established;
    try {
      established = await establishAsGateway(wsLinkTransport(ws), {
        secret: deps.secret,
        local: linkSettings(config),
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        instanceId,
        shm: shmSetup,
        session: ({ capabilities, linkId, peerId, shmPairId }) => {
          const blobs = capabilities.includes(PAYLOAD_CAPABILITY) ? payloadPairs.planeFor(peerId, instanceId, peerId, shmSetup?.segmentsFor(shmPairId)) : undefined;
          return {
            ...commonSessionOptions({ role: 'gateway', config, linkStats, linkId, capabilities, blobs }),
            onStreamOpen: (stream, payload) => void openSession(stream, payload, linkForwardedFor),
          };
        },
      });
    } catch (error) {
      const accel = error as AccelError;
      log.warn({ code: accel.code, err: accel.message, from: linkForwardedFor }, 'link refused');
      publishLink({ role: 'gateway', linkId: '', event: 'refused', errorCode: accel.code, message: accel.message });
      return;
    }
    const session = established.session;
    links.add(session);
    liveLinks.set(session, established);
    log.info({ linkId: established.linkId, edge: established.peerId, capabilities: established.capabilities, shm: established.shmPairId !== undefined, from: linkForwardedFor }, 'link up');
    publishLink({ role: 'gateway', linkId: established.linkId, event: 'up' });
    session.addCloseListener((error) => {
      links.delete(session);
      liveLinks.delete(session);
      log.info({ linkId: established.linkId, code: error?.code, err: error?.message }, 'link down');
      publishLink({ role: 'gateway', linkId: established.linkId, event: 'down', errorCode: error?.code });
    });

    async function openSession(stream: Stream, payload: Uint8Array, forwardedFor: string | undefined): Promise<void> {
      let open: SessionOpen;
      try {
        open = decodeSessionOpen(payload);
      } catch (error) {
        session.fail(error as AccelError);
        return;
      }
      const headers = { ...open.headers };
      const chain = [open.headers['x-forwarded-for'], forwardedFor].flat().filter(Boolean).join(', ');
      if (chain) headers['x-forwarded-for'] = chain;
      const result = await dialUpstream({
        hyphaUrl, path: open.path, protocols: open.protocols, headers,
        deflate: config.endpointDeflate, maxMessageBytes: config.maxMessageBytes, timeoutMs: config.handshakeTimeoutMs,
      });
      if (!result.ok) {
        log.warn({ sessionId: open.sessionId, status: result.status, err: result.message }, 'upstream open failed');
        stream.sendControl(FrameType.OPEN_FAIL, encodeOpenFailure({ status: result.status, message: result.message }));
        session.forgetStream(stream);
        publishSession({ role: 'gateway', sessionId: open.sessionId, event: 'refused', status: result.status, path: open.path, viaLink: true });
        return;
      }
      const upstream = result.ws;
      if (session.closed || stream.remoteClosed) {
        upstream.terminate();
        return;
      }
      upstreams.add(upstream);
      stream.sendControl(FrameType.OPEN_OK, encodeOpenReply({ protocol: upstream.protocol }));
      publishSession({ role: 'gateway', sessionId: open.sessionId, event: 'open', path: open.path, viaLink: true });
      bindEndpoint(upstream, stream, session, {
        role: 'gateway', sessionId: open.sessionId, inbound: 'down', log,
        onClosed: () => upstreams.delete(upstream),
      });
    }
  }

  async function acceptPlainClient(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const headers = forwardHeaders(req.headers, WS_HANDSHAKE_HEADERS) as Record<string, string | string[]>;
    const xff = appendForwardedFor(req.headers['x-forwarded-for'], req.socket.remoteAddress);
    if (xff) headers['x-forwarded-for'] = xff;
    const result = await dialUpstream({
      hyphaUrl, path: req.url ?? '/', protocols: offeredProtocols(req.headers['sec-websocket-protocol']), headers,
      deflate: config.endpointDeflate, maxMessageBytes: config.maxMessageBytes, timeoutMs: config.handshakeTimeoutMs,
    });
    if (!result.ok) return rejectUpgrade(socket, result.status, result.message);
    if (socket.destroyed || stopping) return void result.ws.terminate();
    (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol = result.ws.protocol;
    plainServer.handleUpgrade(req, socket, head, (client) => {
      const sessionId = randomUUID();
      passthroughClients.add(client);
      upstreams.add(result.ws);
      publishSession({ role: 'gateway', sessionId, event: 'open', path: req.url, viaLink: false });
      relayWebSockets(client, result.ws, () => {
        passthroughClients.delete(client);
        upstreams.delete(result.ws);
        publishSession({ role: 'gateway', sessionId, event: 'close', viaLink: false });
      });
    });
  }

  const { host, port } = splitHostPort(config.listen);
  const boundPort = await listen(server, host, port);
  if (config.shm && config.payload) {
    const setup = new ShmSetup(config, { role: 'gateway', listenPort: boundPort, workerIndex: deps.workerIndex }, log);
    await setup.sweep();
    shmSetup = setup; // links accepted during the sweep simply come up without shm
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  log.info({ url, hypha: config.hyphaUrl }, 'gateway listening');

  return {
    url,
    port: boundPort,
    links: () => [...links],
    linkStats,
    payloadMetrics: () => ({ ...payloadPairs.metrics(), ...shmSetup?.metrics() }),
    upstreamCount: () => upstreams.size,
    sessionCounts: () => ({ edge: upstreams.size - passthroughClients.size, passthrough: passthroughClients.size }),
    linkInfo: () => [...liveLinks.values()].map(describeLink),
    readiness: async () => {
      if (stopping) return { ready: false, reason: 'draining' };
      const hypha = await probeHypha(hyphaUrl, config.handshakeTimeoutMs);
      return hypha.ok ? { ready: true, reason: 'hypha answers' } : { ready: false, reason: `hypha does not answer: ${hypha.reason}` };
    },
    async close(deadlineMs = config.drainTimeoutMs) {
      if (stopping) return;
      stopping = true;
      const closed = closeServer(server);
      for (const client of passthroughClients) mirrorClose(client, 1001, 'hypha-accel gateway stopping');
      for (const link of links) link.goAway('gateway stopping');
      const deadline = Date.now() + deadlineMs;
      while ((upstreams.size > 0 || passthroughClients.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const ws of [...upstreams, ...passthroughClients]) ws.terminate();
      agent.destroy();
      await payloadPairs.close();
      await closed;
      log.info('gateway stopped');
    },
  };
}
