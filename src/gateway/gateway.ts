// The gateway role: beside the hypha server. Links from edges arrive on LINK_PATH; each session they carry
// gets ONE upstream WebSocket to hypha. Every other upgrade and HTTP request is plain hypha traffic,
// passed through unchanged, so the gateway can take over hypha's Service port.
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { GatewayConfig } from '../config/load.js';
import { splitHostPort } from '../config/load.js';
import { AccelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RoleDeps } from '../roles/role-deps.js';
import { establishAsGateway, type Established } from '../link/establish.js';
import { maxLinkMessageBytes, newLinkStats, type LinkSession, type LinkStats } from '../link/link-session.js';
import { FrameType } from '../link/frame.js';
import type { Stream } from '../link/stream.js';
import { decodeSessionOpen, encodeOpenFailure, encodeOpenReply, type SessionOpen } from '../link/session-open.js';
import { answerPlain, forwardHeaders, proxyHttpRequest, upstreamAgent } from '../net/http-proxy.js';
import { applyForwarded, forwardedValues, hopProto, parseTrustedProxies, sessionForwardedValues, type ForwardedValues } from '../net/forwarded-headers.js';
import { Admission } from '../net/admission.js';
import { checkUpgrade } from '../net/upgrade-check.js';
import { redactTarget } from '../net/redact.js';
import { throttledLog } from '../net/log-throttle.js';
import { bindEndpoint } from '../net/bind-endpoint.js';
import { WriteArena } from '../net/endpoint-writer.js';
import { acceptUpgrade, rejectUpgrade, WS_HANDSHAKE_HEADERS } from '../net/upgrade-response.js';
import { LINK_WS_PROTOCOL, maxBatchedLinkMessageBytes, wsLinkTransport } from '../net/ws-link-transport.js';
import { acceptTcpLink, wantsTcpLink } from '../net/tcp-link-transport.js';
import type { DuplexTransport } from '../link/establish.js';
import { relayWebSockets } from '../net/ws-relay.js';
import { spliceWebSockets, type SpliceHandle } from '../net/ws-splice.js';
import { mirrorClose } from '../net/ws-close.js';
import { listen, listenUnix, closeServer } from '../net/listen.js';
import { channels, publishLink, publishSession, type LinkInfo } from '../events.js';
import { DRAIN_CAPABILITY, LINK_PATH, RESUME_CAPABILITY, commonSessionOptions, describeLink, linkSettings } from '../roles/link-setup.js';
import { PAYLOAD_CAPABILITY, PAYLOAD_V4_CAPABILITY, PayloadPairs } from '../roles/payload-setup.js';
import { ShmSetup } from '../roles/shm-setup.js';
import { dialUpstream } from './upstream.js';
import { checkSessionOpen } from './open-check.js';
import { probeHypha } from './hypha-probe.js';
import { serverContext, watchFiles } from '../net/tls-files.js';
import { checkClientIdentity, parseAllowList, readRevoked, type ClientPolicy } from '../net/client-identity.js';
import { GatewaySessions } from './gateway-resume.js';
import { streamPort, type SessionPort } from '../link/session-port.js';
import { ResumableSession } from '../link/resumable-session.js';
import { ResumeBudget } from '../link/retransmit-log.js';

export interface GatewayHandle {
  url: string; // http://host:port
  port: number;
  links(): LinkSession[];
  /** Cumulative link counters (frames, bytes, transcoding) over all links so far. */
  linkStats: LinkStats;
  /** Payload-plane counters over live pairs (blobs, dedupe, shm: shmLinks, shmBlobsSent, ...). */
  payloadMetrics(): Record<string, number>;
  upstreamCount(): number;
  /** Admission state: pending handshakes, sessions, refusals by limit. */
  admission: Admission;
  /** Sessions by kind: carried over links (edge) and plain clients passed through. */
  sessionCounts(): { edge: number; passthrough: number };
  /** Live links (id, peer, RTT, pacing window, streams, capabilities). */
  linkInfo(): LinkInfo[];
  /** Rereads the TLS certificate, key, client CA, allow-list and revocation list (SIGHUP; also on file change). */
  reloadTls(): void;
  /** After the link keys were reread: ends the links made with a key the gateway no longer holds (GOAWAY AUTH: a lost link to both sides). */
  retireLinksWithoutKey(): void;
  /** Ready while hypha answers its liveness probe and no stop has begun. */
  readiness(): Promise<{ ready: boolean; reason: string }>;
  close(deadlineMs?: number): Promise<void>;
}

export async function startGateway(config: GatewayConfig, deps: RoleDeps): Promise<GatewayHandle> {
  const { log } = deps;
  const hyphaUrl = new URL(config.hyphaUrl);
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  const agent = upstreamAgent(hyphaUrl, config.maxHttpSockets, ca);
  const forwardedPolicy = { mode: config.forwardedFor, trusted: parseTrustedProxies(config.trustedProxies) };
  const hopForwarded = (req: http.IncomingMessage, websocket: boolean): ForwardedValues =>
    forwardedValues(forwardedPolicy, { headers: req.headers, peerAddress: req.socket.remoteAddress, proto: hopProto(req, websocket) });
  const admission = new Admission(config);
  const refusalLog = throttledLog(log); // refusals a hostile client can trigger at will
  let pendingLinks = 0;
  const liveLinks = new Map<LinkSession, Established>();
  const upstreams = new Set<WebSocket>();
  const writeArena = new WriteArena(); // every session's endpoint writes share it (an idle one holds no buffer)
  const passthroughClients = new Set<WebSocket>();
  const splices = new Set<SpliceHandle>(); // plain clients passed through as byte splices (no ws on either hop)
  const linkStats = newLinkStats();
  const instanceId = `gateway-${randomUUID()}`;
  // One live instance per host, port and worker: an edge that meets a new instance in its sessions' slot
  // knows their instance is gone (a restart) and closes them at once instead of waiting out the grace.
  let instanceSlot: string | undefined; // set once listening
  const payloadPairs = new PayloadPairs(config, deps.secret, log);
  let shmSetup: ShmSetup | undefined; // set once listening (its writer id derives from the bound port)
  const resumeBudget = new ResumeBudget(config.resumeProcessBufferBytes);
  const resumable = new GatewaySessions(log);
  let stopping = false;

  const linkServer = new WebSocketServer({
    noServer: true, perMessageDeflate: false, maxPayload: maxBatchedLinkMessageBytes(maxLinkMessageBytes(config.maxFrameBytes)),
    handleProtocols: (protocols) => (protocols.has(LINK_WS_PROTOCOL) ? LINK_WS_PROTOCOL : false),
  });
  const plainServer = new WebSocketServer({
    noServer: true,
    perMessageDeflate: config.plainClientDeflate,
    maxPayload: config.maxMessageBytes,
    handleProtocols: (_protocols, req) => (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol || false,
  });

  const tlsFiles = { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, clientCaFile: config.tlsClientCaFile };
  const mutualTls = Boolean(config.tlsClientCaFile);
  let clientPolicy: ClientPolicy = { allow: parseAllowList(config.tlsClientAllow), revoked: readRevoked(config.tlsClientRevokedFile) };
  const linkSockets = new Map<LinkSession, TLSSocket>(); // mutual TLS: the socket each link came on, for revocation
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const overBudget = admission.overBudget();
    if (overBudget) {
      refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_OVERLOADED', limit: overBudget }, 'HTTP request shed');
      req.resume();
      return answerPlain(res, 503, 'hypha-accel: gateway overloaded (HYPHA_ACCEL_ERR_OVERLOADED)');
    }
    proxyHttpRequest(req, res, {
      target: hyphaUrl,
      agent,
      log,
      forwarded: (r) => hopForwarded(r, false),
    });
  };
  // With a certificate, one TLS listener serves everything on the port. A client certificate is asked for
  // but not required by TLS itself: plain hypha clients have none; links are checked at their upgrade.
  const server: http.Server = config.tlsCertFile
    ? https.createServer({ ...serverContext(tlsFiles), requestCert: mutualTls, rejectUnauthorized: false }, handler)
    : http.createServer(handler);

  function reloadTls(): void {
    if (!config.tlsCertFile) return;
    try {
      (server as https.Server).setSecureContext(serverContext(tlsFiles));
      clientPolicy = { allow: parseAllowList(config.tlsClientAllow), revoked: readRevoked(config.tlsClientRevokedFile) };
    } catch (error) {
      log.error({ code: 'HYPHA_ACCEL_ERR_CONFIG', err: (error as Error).message }, 'TLS reload failed; keeping the previous certificate');
      return;
    }
    log.info({ certFile: config.tlsCertFile, revoked: clientPolicy.revoked.size }, 'TLS material reloaded');
    for (const [session, socket] of linkSockets) {
      const check = checkClientIdentity(socket, clientPolicy);
      if (!check.ok) {
        log.warn({ code: 'HYPHA_ACCEL_ERR_FORBIDDEN', why: check.why }, 'closing a link whose client certificate is no longer accepted');
        session.goAway(`client certificate no longer accepted: ${check.why}`);
      }
    }
  }
  // The last step of a key rotation: a link made with a removed key is ended; its edge redials with a
  // key the gateway holds and resumable sessions carry on over the new link (docs/security.md).
  function retireLinksWithoutKey(): void {
    if (!deps.keys) return; // one fixed secret: nothing rotates
    const held = deps.keys();
    for (const [session, established] of liveLinks) {
      const key = established.key;
      if (held.some((k) => k.id === key.id && k.secret.equals(key.secret))) continue;
      log.warn({ linkId: established.linkId, keyId: key.id }, 'closing a link whose key was removed');
      // Not GOAWAY SHUTDOWN (which ends the sessions as a stop does): an AUTH end is a lost link to both
      // sides, so resumable sessions wait for the edge's next link and move onto it.
      session.fail(new AccelError('HYPHA_ACCEL_ERR_AUTH', `link key ${key.id} removed from the gateway`));
    }
  }
  const stopWatching = watchFiles([config.tlsCertFile, config.tlsKeyFile, config.tlsClientCaFile, config.tlsClientRevokedFile], reloadTls);

  admission.guardServer(server, (address) => refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_RATE_LIMITED', from: address }, 'connection refused: rate'));

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head, false));
  // The Unix socket (linkSocketPath) serves the same, for an edge on this host; its file mode guards it.
  const unixServer = config.linkSocketPath ? http.createServer(handler) : undefined;
  unixServer?.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head, true));

  /** `viaUnix`: from the Unix socket (no TLS there, so no client certificate to check). */
  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, viaUnix: boolean): void {
    socket.on('error', () => {});
    if (stopping) return rejectUpgrade(socket, 503, 'hypha-accel gateway is stopping (HYPHA_ACCEL_ERR_SHUTDOWN)');
    const path = (req.url ?? '/').split('?')[0];
    if (path === LINK_PATH) {
      const full = liveLinks.size + pendingLinks >= config.maxLinks ? `maxLinks (${config.maxLinks}) reached` : admission.refuseNew('link');
      if (full) return refuse(socket, 503, 'link', full, req);
      if (mutualTls && !viaUnix) {
        const check = checkClientIdentity(req.socket as TLSSocket, clientPolicy);
        if (!check.ok) {
          refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_FORBIDDEN', why: check.why, from: req.socket.remoteAddress }, 'link refused: client certificate');
          return rejectUpgrade(socket, 403, 'hypha-accel: link needs an accepted client certificate (HYPHA_ACCEL_ERR_FORBIDDEN)');
        }
      }
      pendingLinks++;
      const release = admission.beginHandshake();
      let linkDone = false;
      const endPending = () => {
        if (linkDone) return;
        linkDone = true;
        pendingLinks--;
        release();
      };
      socket.once('close', endPending); // ws refused the upgrade itself (bad key, version...)
      const maxFrameBytes = maxLinkMessageBytes(config.maxFrameBytes);
      if (wantsTcpLink(req)) void acceptLink(acceptTcpLink(socket, head, maxFrameBytes, req), req, viaUnix).finally(endPending);
      else linkServer.handleUpgrade(req, socket, head, (ws) => void acceptLink(wsLinkTransport(ws, maxFrameBytes), req, viaUnix).finally(endPending));
    } else {
      acceptPlainClient(req, socket, head).catch((error: unknown) => {
        log.error({ err: (error as Error).message }, 'plain client failed');
        rejectUpgrade(socket, 502, 'hypha-accel: upstream unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE)');
      });
    }
  }

  /** Answers an upgrade the gateway will not serve, with a rate-limited log line (warn for limits, info for bad requests). */
  function refuse(socket: Duplex, status: number, what: string, why: string, req: http.IncomingMessage): void {
    const code = status === 400 ? 'HYPHA_ACCEL_ERR_BAD_REQUEST' : 'HYPHA_ACCEL_ERR_OVERLOADED';
    refusalLog(status === 400 ? 'info' : 'warn', { code, what, why, path: redactTarget(req.url), from: req.socket.remoteAddress }, `${what} refused`);
    rejectUpgrade(socket, status, status === 400 ? why : `hypha-accel: gateway overloaded (${code})`);
  }

  /** `viaUnix`: over the Unix socket (the link then counts as fast: link-speed.ts). */
  async function acceptLink(transport: DuplexTransport, req: http.IncomingMessage, viaUnix: boolean): Promise<void> {
    // What hypha would see if the clients behind this edge connected directly: the link's hop, by forwardedFor.
    const linkForwarded = hopForwarded(req, true);
    const linkForwardedFor = linkForwarded['x-forwarded-for'];
    let established: Established;
    try {
      established = await establishAsGateway(transport, {
        secret: deps.secret,
        keys: deps.keys,
        local: linkSettings(config),
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        instanceId,
        slot: instanceSlot,
        shm: shmSetup,
        session: ({ capabilities, linkId, peerId, shmPairId, peer, key }) => {
          const blobs = capabilities.includes(PAYLOAD_CAPABILITY) ? payloadPairs.planeFor(peerId, instanceId, peerId, peer.maxFrameBytes, shmSetup?.segmentsFor(shmPairId), key.secret, { payloadV4: capabilities.includes(PAYLOAD_V4_CAPABILITY) }) : undefined;
          return {
            ...commonSessionOptions({ role: 'gateway', config, linkStats, linkId, capabilities, blobs, sameHost: viaUnix }),
            onStreamOpen: (stream, payload) => void openSession(stream, payload, linkForwarded),
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
    liveLinks.set(session, established);
    if (mutualTls) linkSockets.set(session, req.socket as TLSSocket);
    log.info({ linkId: established.linkId, edge: established.peerId, keyId: established.key.id, capabilities: established.capabilities, shm: established.shmPairId !== undefined, from: linkForwardedFor }, 'link up');
    publishLink({ role: 'gateway', linkId: established.linkId, event: 'up' });
    session.addCloseListener((error) => {
      liveLinks.delete(session);
      linkSockets.delete(session);
      log.info({ linkId: established.linkId, code: error?.code, err: error?.message }, 'link down');
      publishLink({ role: 'gateway', linkId: established.linkId, event: 'down', errorCode: error?.code });
    });

    /** The session an upstream socket is bound to: resumable when both sides negotiated it. */
    function sessionPort(stream: Stream, sessionId: string): SessionPort {
      if (!established.capabilities.includes(RESUME_CAPABILITY)) return streamPort(stream, session);
      const resumableSession: ResumableSession = new ResumableSession(stream, session, {
        sessionId, graceMs: config.resumeGraceMs, maxBufferBytes: config.resumeBufferBytes, budget: resumeBudget,
        onDetached: () => {
          if (stopping) resumableSession.abort(new AccelError('HYPHA_ACCEL_ERR_SHUTDOWN', 'gateway stopping'));
        },
        onEnded: () => resumable.remove(resumableSession),
      });
      resumable.add(resumableSession, established.peerId);
      return resumableSession;
    }

    function openSession(stream: Stream, payload: Uint8Array, forwarded: ForwardedValues): void {
      openSessionChecked(stream, payload, forwarded).catch((error: unknown) => {
        log.error({ err: (error as Error).message }, 'session open failed');
        failOpen(stream, 502, 'hypha-accel: upstream unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE)');
      });
    }

    /** Refuses one OPEN: only this stream fails, the link and its other sessions go on. */
    function failOpen(stream: Stream, status: number, message: string): void {
      if (session.closed || stream.localClosed) return;
      stream.sendControl(FrameType.OPEN_FAIL, encodeOpenFailure({ status, message }));
      session.forgetStream(stream);
    }

    async function openSessionChecked(stream: Stream, payload: Uint8Array, forwarded: ForwardedValues): Promise<void> {
      let open: SessionOpen;
      try {
        open = decodeSessionOpen(payload);
      } catch (error) {
        refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_BAD_REQUEST', linkId: established.linkId, err: (error as Error).message }, 'malformed OPEN refused');
        return failOpen(stream, 400, 'hypha-accel: malformed session open (HYPHA_ACCEL_ERR_BAD_REQUEST)');
      }
      if (open.resume) {
        if (!established.capabilities.includes(RESUME_CAPABILITY)) return failOpen(stream, 400, 'hypha-accel: resume not negotiated on this link (HYPHA_ACCEL_ERR_BAD_REQUEST)');
        return resumable.resume(stream, session, established.peerId, open.sessionId, open.resume.deliveredCount);
      }
      const checked = checkSessionOpen(open);
      if (!checked.ok) {
        refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_BAD_REQUEST', linkId: established.linkId, sessionId: open.sessionId, why: checked.why, path: redactTarget(open.path) }, 'OPEN refused');
        return failOpen(stream, 400, `hypha-accel: bad WebSocket upgrade (HYPHA_ACCEL_ERR_BAD_REQUEST): ${checked.why}`);
      }
      if (session.draining) return failOpen(stream, 503, 'hypha-accel: gateway instance draining (HYPHA_ACCEL_ERR_SHUTDOWN)');
      const full = session.streamCount > config.maxStreamsPerLink ? `maxStreamsPerLink (${config.maxStreamsPerLink}) reached` : admission.refuseNew('session');
      if (full) {
        refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_OVERLOADED', linkId: established.linkId, sessionId: open.sessionId, why: full }, 'OPEN refused: overloaded');
        return failOpen(stream, 503, 'hypha-accel: gateway overloaded (HYPHA_ACCEL_ERR_OVERLOADED)');
      }
      const headers = { ...checked.headers };
      applyForwarded(headers, sessionForwardedValues(forwardedPolicy, checked.headers, forwarded));
      const endHandshake = admission.beginHandshake();
      const result = await dialUpstream({
        hyphaUrl, path: open.path, protocols: checked.protocols, headers, ca,
        deflate: config.endpointDeflate, maxMessageBytes: config.maxMessageBytes, timeoutMs: config.handshakeTimeoutMs,
      }).finally(endHandshake);
      if (!result.ok) {
        log.warn({ sessionId: open.sessionId, status: result.status, err: result.detail ?? result.message, path: redactTarget(open.path) }, 'upstream open failed');
        failOpen(stream, result.status, result.message);
        publishSession({ role: 'gateway', sessionId: open.sessionId, event: 'refused', status: result.status, path: redactTarget(open.path), viaLink: true });
        return;
      }
      const upstream = result.ws;
      if (session.closed || stream.remoteClosed) {
        upstream.terminate();
        return;
      }
      upstreams.add(upstream);
      const endSession = admission.beginSession();
      stream.sendControl(FrameType.OPEN_OK, encodeOpenReply({ protocol: upstream.protocol }));
      publishSession({ role: 'gateway', sessionId: open.sessionId, event: 'open', path: redactTarget(open.path), viaLink: true });
      bindEndpoint(upstream, sessionPort(stream, open.sessionId), {
        role: 'gateway', sessionId: open.sessionId, inbound: 'down', log, ingress: result.ingress, writeArena,
        onClosed: () => {
          upstreams.delete(upstream);
          endSession();
        },
      });
    }
  }

  async function acceptPlainClient(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const checked = checkUpgrade(req);
    if (!checked.ok) return refuse(socket, 400, 'plain client', checked.message, req);
    const full = admission.refuseNew('session');
    if (full) return refuse(socket, 503, 'plain client', full, req);
    const headers = forwardHeaders(req.headers, WS_HANDSHAKE_HEADERS) as Record<string, string | string[]>;
    applyForwarded(headers, hopForwarded(req, true));
    // A splice needs no extension on either hop, and observers content with each message's head.
    const splice = config.plainSplice && !config.plainClientDeflate && !channels.wholeMessage.hasSubscribers;
    const endHandshake = admission.beginHandshake();
    const result = await dialUpstream({
      hyphaUrl, path: req.url ?? '/', protocols: checked.protocols, headers, ca,
      deflate: config.endpointDeflate, maxMessageBytes: config.maxMessageBytes, timeoutMs: config.handshakeTimeoutMs, takeSocket: splice,
    }).finally(endHandshake);
    if (!result.ok) {
      if (result.detail) log.warn({ status: result.status, err: result.detail, path: redactTarget(req.url) }, 'upstream open failed');
      return rejectUpgrade(socket, result.status, result.message);
    }
    if (result.socket) return splicePlainClient(req, socket, head, result.socket, result.ws.protocol);
    const upstream = result.ws;
    if (socket.destroyed || stopping) return void upstream.terminate();
    (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol = upstream.protocol;
    // ws may still refuse the upgrade (e.g. a Sec-WebSocket-Extensions it cannot parse): then the client
    // socket closes without the callback, and the upstream must not outlive it.
    let bound = false;
    socket.once('close', () => {
      if (!bound) upstream.terminate();
    });
    plainServer.handleUpgrade(req, socket, head, (client) => {
      bound = true;
      const sessionId = randomUUID();
      passthroughClients.add(client);
      upstreams.add(upstream);
      const endSession = admission.beginSession();
      publishSession({ role: 'gateway', sessionId, event: 'open', path: redactTarget(req.url), viaLink: false });
      relayWebSockets(client, upstream, () => {
        passthroughClients.delete(client);
        upstreams.delete(upstream);
        endSession();
        publishSession({ role: 'gateway', sessionId, event: 'close', viaLink: false });
      }, { role: 'gateway', sessionId });
    });
  }

  /** Completes the client's upgrade (checked already, no extension) and splices it to hypha's socket. */
  function splicePlainClient(req: http.IncomingMessage, socket: Duplex, head: Buffer, upstream: Duplex, protocol: string): void {
    // As ws's handleUpgrade does: a client that ended (or broke) its socket while hypha was dialled is let go.
    if (stopping || socket.destroyed || !socket.readable || !socket.writable) {
      upstream.destroy();
      return stopping ? rejectUpgrade(socket, 503, 'hypha-accel gateway is stopping (HYPHA_ACCEL_ERR_SHUTDOWN)') : void socket.destroy();
    }
    for (const s of [socket, upstream] as Array<Duplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void }>) {
      s.setNoDelay?.(true);
      s.setTimeout?.(0);
    }
    acceptUpgrade(socket, String(req.headers['sec-websocket-key']), protocol);
    const sessionId = randomUUID();
    const endSession = admission.beginSession();
    publishSession({ role: 'gateway', sessionId, event: 'open', path: redactTarget(req.url), viaLink: false });
    const handle = spliceWebSockets(socket, head, upstream, {
      maxMessageBytes: config.maxMessageBytes,
      observed: { role: 'gateway', sessionId },
      onTooLarge: (direction) =>
        refusalLog('warn', { code: 'HYPHA_ACCEL_ERR_MESSAGE_TOO_LARGE', direction, limit: config.maxMessageBytes, from: req.socket.remoteAddress }, 'plain client closed: message too large (1009)'),
      onClosed: () => {
        splices.delete(handle);
        endSession();
        publishSession({ role: 'gateway', sessionId, event: 'close', viaLink: false });
      },
    });
    splices.add(handle);
  }
  const { host, port } = splitHostPort(config.listen);
  const boundPort = await listen(server, host, port, deps.exclusivePort);
  instanceSlot = `${hostname()}:${boundPort}/${deps.workerIndex ?? 0}`;
  if (unixServer) await listenUnix(unixServer, config.linkSocketPath);
  if (config.shm && config.payload) {
    const setup = new ShmSetup(config, { role: 'gateway', listenPort: boundPort, workerIndex: deps.workerIndex }, log);
    await setup.sweep();
    setup.startPeriodicSweep();
    shmSetup = setup; // links accepted during the sweep simply come up without shm
  }
  const url = `${config.tlsCertFile ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  log.info({ url, hypha: config.hyphaUrl, tls: Boolean(config.tlsCertFile), mutualTls }, 'gateway listening');

  return {
    url,
    port: boundPort,
    links: () => [...liveLinks.keys()],
    linkStats,
    payloadMetrics: () => ({ ...payloadPairs.metrics(), ...shmSetup?.metrics() }),
    upstreamCount: () => upstreams.size + splices.size,
    reloadTls,
    admission,
    sessionCounts: () => ({ edge: upstreams.size - passthroughClients.size, passthrough: passthroughClients.size + splices.size }),
    linkInfo: () => [...liveLinks.values()].map(describeLink),
    retireLinksWithoutKey,
    readiness: async () => {
      if (stopping) return { ready: false, reason: 'draining' };
      const hypha = await probeHypha(hyphaUrl, config.handshakeTimeoutMs);
      return hypha.ok ? { ready: true, reason: 'hypha answers' } : { ready: false, reason: `hypha does not answer: ${hypha.reason}` };
    },
    async close(deadlineMs = config.drainTimeoutMs) {
      if (stopping) return;
      stopping = true;
      stopWatching();
      const closed = Promise.all([closeServer(server), unixServer && closeServer(unixServer)]);
      for (const client of passthroughClients) mirrorClose(client, 1001, 'hypha-accel gateway stopping');
      for (const splice of splices) splice.close(1001, 'hypha-accel gateway stopping');
      // Edges that speak drain-v1 are told DRAIN: they open nothing new here and close these sessions with 1001
      // when quiet (hypha-rpc reconnects through a fresh link: another instance). Older edges lose theirs now.
      for (const [link, established] of liveLinks) {
        if (!established.capabilities.includes(DRAIN_CAPABILITY) || link.streamCount === 0) {
          link.goAway('gateway stopping');
          continue;
        }
        link.drain(deadlineMs, 'gateway stopping');
        publishLink({ role: 'gateway', linkId: established.linkId, event: 'drain', streams: link.streamCount });
      }
      resumable.abortDetached(new AccelError('HYPHA_ACCEL_ERR_SHUTDOWN', 'gateway stopping'));
      const deadline = Date.now() + deadlineMs;
      while ((upstreams.size > 0 || passthroughClients.size > 0 || splices.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Deadline (or all done): what is left ends with GOAWAY SHUTDOWN, so edges close their clients with 1001.
      for (const link of liveLinks.keys()) link.goAway('gateway stopping');
      for (const ws of [...upstreams, ...passthroughClients]) ws.terminate();
      for (const splice of splices) splice.terminate();
      agent.destroy();
      shmSetup?.stopPeriodicSweep();
      await payloadPairs.close();
      await closed;
      log.info('gateway stopped');
    },
  };
}
