// Start-up warm-up: before a role listens, hypha-shaped calls and replies run through a throwaway edge and
// gateway of this very process, over loopback sockets, to a stand-in hypha that answers each call. So the
// code a real message takes (ws parsing and framing, link sessions, send queues, link frames, the turn
// flusher, socket writes, the call tracker; link codec and deflate stream in a second pass set up as over a
// slow link) has been compiled and optimised by V8 before the first real client arrives.
// Why: a young proxy costs 2-3x the CPU per small message of one that has relayed a few thousand
// (bench/results/2026-12-02T0000-warm23-notes.md); short sessions and the first minute of a long one only
// ever see a young pair. Synthetic calls through throwaway codec and framing objects alone did not help
// (warm20): most of the young cost is in the socket, stream and session paths, which only real traffic
// reaches. Nothing of it outlives the warm-up: its pair, sockets, tracker and random secret are gone
// before the role starts, so metrics, logs and tables start empty.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import { loadConfig } from '../config/load.js';
import { startEdge } from '../edge/edge.js';
import { startGateway } from '../gateway/gateway.js';
import { RpcCallTracker } from '../observe/rpc-calls.js';
import { hyphaMessages } from './hypha-shapes.js';

export interface WarmUpResult {
  /** Calls answered (each a call and its reply through the pair). */
  calls: number;
  /** Per pass: calls answered, link messages the deflate streams compressed, messages the link codec transcoded. */
  passes: PassResult[];
  /** CPU time of the process (user + system) and wall time the warm-up took, in ms. */
  cpuMs: number;
  wallMs: number;
}

/** Distinct calls in the corpus (the rest repeat them, as a service's calls repeat in real traffic). */
const CORPUS_CALLS = 256;
/** Client sessions, and calls each keeps in flight: batched and single messages both come up. */
const SESSIONS = 2;
const IN_FLIGHT = 16;
/**
 * The passes: the loopback link as it is (plain frames), then a link told it runs at 20 Mbit/s (what slow links
 * run: link compression, or the link codec where compression is off). Each gets half the calls.
 */
const PASSES: Array<Record<string, unknown>> = [{}, { linkBandwidthMbps: 20 }];

/** The role's settings that choose what a small message's path runs (the throwaway pair takes them over). */
export interface LinkChoices {
  codec: boolean;
  linkCompression: 'auto' | 'on' | 'off';
}

/**
 * Runs `calls` calls through a throwaway pair with the role's `choices` (so a role with link compression off
 * warms the link codec in the slow pass instead); rejects, leaving nothing open, if it takes over `timeoutMs`.
 */
export async function warmUpThroughLoopback(calls: number, timeoutMs: number, log: Logger, choices: LinkChoices = { codec: true, linkCompression: 'auto' }): Promise<WarmUpResult> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const corpus = hyphaMessages(CORPUS_CALLS);
  const secret = randomBytes(32);
  // The call tracker is what metrics and tracing hang on: warmed with the rest, then dropped.
  const tracker = new RpcCallTracker({ role: 'edge' });
  const stopTracking = tracker.addListener({ onCallStart() {}, onCallEnd() {} });
  const quiet = log.child({ warmUp: true }, { level: 'silent' });
  let hypha: StandInHypha | undefined;
  let answered = 0;
  const passes: PassResult[] = [];
  try {
    hypha = await startStandInHypha(corpus);
    const deadline = Date.now() + timeoutMs;
    for (let pass = 0; pass < PASSES.length; pass++) {
      const share = pass === PASSES.length - 1 ? calls - answered : Math.floor(calls / PASSES.length);
      const result = await runPass({ ...choices, ...PASSES[pass]! }, share, { hyphaUrl: hypha.url, secret, corpus, log: quiet, deadline });
      answered += result.calls;
      passes.push(result);
    }
  } finally {
    stopTracking();
    await hypha?.close();
  }
  const cpu = process.cpuUsage(cpu0);
  return { calls: answered, passes, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0 };
}

interface PassContext {
  hyphaUrl: string;
  secret: Buffer;
  corpus: Buffer[];
  log: Logger;
  deadline: number;
}

export interface PassResult {
  calls: number;
  compressedLinkMessages: number;
  transcodedMessages: number;
}

async function runPass(flags: Record<string, unknown>, calls: number, context: PassContext): Promise<PassResult> {
  // The roles take the secret itself; the file setting is only read by the CLI (nothing is written: a read-only
  // root filesystem, as the Helm chart sets, is no obstacle).
  const common = { listen: '127.0.0.1:0', secretFile: '(warm-up: secret in memory)', logLevel: 'silent', shm: false, ...flags };
  const gateway = await startGateway(loadConfig('gateway', { flags: { ...common, hyphaUrl: context.hyphaUrl }, env: {} }), { secret: context.secret, log: context.log, exclusivePort: true });
  try {
    const edge = await startEdge(loadConfig('edge', { flags: { ...common, gatewayUrl: `tcp://127.0.0.1:${gateway.port}`, links: 1 }, env: {} }), { secret: context.secret, log: context.log, exclusivePort: true });
    try {
      const url = `${edge.url.replace(/^http/, 'ws')}/ws`;
      const shares = Array.from({ length: SESSIONS }, (_, i) => Math.floor((calls + i) / SESSIONS)).filter((n) => n > 0);
      const clients = new Set<WebSocket>();
      // One session failing (or the deadline) ends the others too: nothing keeps running after a rejection.
      const done = await Promise.all(shares.map((share) => callThrough(url, share, context, clients))).finally(() => {
        for (const ws of clients) ws.terminate();
      });
      return {
        calls: done.reduce((sum, n) => sum + n, 0),
        compressedLinkMessages: edge.linkStats.linkMessagesCompressed + gateway.linkStats.linkMessagesCompressed,
        transcodedMessages: edge.linkStats.messagesTranscoded + gateway.linkStats.messagesTranscoded,
      };
    } finally {
      await edge.close(1000);
    }
  } finally {
    await gateway.close(1000);
  }
}

/** One client session: `calls` calls from the corpus, IN_FLIGHT at a time; resolves with the calls answered. */
function callThrough(url: string, calls: number, context: PassContext, clients: Set<WebSocket>): Promise<number> {
  const { corpus, deadline } = context;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    clients.add(ws);
    let sent = 0;
    let answered = 0;
    const timer = setTimeout(() => fail(new Error('warm-up did not finish in time')), Math.max(0, deadline - Date.now()));
    const fail = (error: Error) => {
      clearTimeout(timer);
      clients.delete(ws);
      ws.terminate();
      reject(error);
    };
    const sendNext = () => {
      ws.send(corpus[(sent % CORPUS_CALLS) * 2]!);
      sent++;
    };
    ws.on('open', () => {
      while (sent < Math.min(calls, IN_FLIGHT)) sendNext();
    });
    ws.on('message', () => {
      answered++;
      if (sent < calls) return sendNext();
      if (answered < calls) return;
      clearTimeout(timer);
      ws.close(1000);
      ws.once('close', () => {
        clients.delete(ws);
        resolve(answered);
      });
    });
    ws.on('error', fail);
    ws.on('unexpected-response', (_request, response) => fail(new Error(`warm-up upgrade answered ${response.statusCode}`)));
  });
}

interface StandInHypha {
  url: string;
  close(): Promise<void>;
}

/** Enough of hypha for the pair: the liveness probe, and a WebSocket that answers call i with reply i. */
async function startStandInHypha(corpus: Buffer[]): Promise<StandInHypha> {
  const server = http.createServer((_request, response) => response.end('ok'));
  // Its port is open on loopback for the warm-up's half second: a message larger than any warm-up call closes
  // the socket that sent it (1009) instead of being buffered.
  const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
  server.on('upgrade', (request, socket, head) => sockets.handleUpgrade(request, socket, head, (ws) => {
    let received = 0;
    ws.on('message', () => ws.send(corpus[(received++ % CORPUS_CALLS) * 2 + 1]!));
  }));
  // exclusive: in a cluster worker a port-0 listen would otherwise be one port shared by all the workers
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
