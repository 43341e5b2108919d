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
import { hyphaArrayMessages, hyphaMessages } from './hypha-shapes.js';

export interface WarmUpResult {
  /** Calls answered (each a call and its reply through the pair). */
  calls: number;
  /** Per pass: calls answered, link messages the deflate streams compressed, blobs the payload plane carried. */
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
 * The passes: the loopback link as it is (plain frames), then a link told it runs at 20 Mbit/s (link
 * compression, the deflate stream of slow links; and the payload plane, which then carries large binary
 * messages). Each gets half the calls; the slow pass then sends a few array chunks one at a time.
 */
const PASSES: Array<{ flags: Record<string, unknown>; arrays: boolean }> = [
  { flags: {}, arrays: false },
  { flags: { linkBandwidthMbps: 20 }, arrays: true },
];
/** Array chunks of the slow pass: 256 KiB each, as hypha-rpc slices a large message; ~0.1 s of CPU. */
const ARRAY_MESSAGES = 4;
const ARRAY_BYTES = 256 * 1024;

/** Runs `calls` calls through a throwaway pair; rejects (leaving nothing open) if it takes over `timeoutMs`. */
export async function warmUpThroughLoopback(calls: number, timeoutMs: number, log: Logger): Promise<WarmUpResult> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const corpus = hyphaMessages(CORPUS_CALLS);
  const arrays = hyphaArrayMessages(ARRAY_MESSAGES, ARRAY_BYTES);
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
      const { flags, arrays: withArrays } = PASSES[pass]!;
      const result = await runPass(flags, share, { hyphaUrl: hypha.url, secret, corpus, arrays: withArrays ? arrays : [], log: quiet, deadline });
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
  /** Large messages sent after the calls, one at a time. */
  arrays: Buffer[];
  log: Logger;
  deadline: number;
}

export interface PassResult {
  calls: number;
  compressedLinkMessages: number;
  blobs: number;
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
      const callAt = (i: number) => context.corpus[(i % CORPUS_CALLS) * 2]!;
      // One session failing (or the deadline) ends the others too: nothing keeps running after a rejection.
      const done = await Promise.all(shares.map((share) => exchange(url, share, callAt, IN_FLIGHT, context.deadline, clients))).finally(() => {
        for (const ws of clients) ws.terminate();
      });
      if (context.arrays.length > 0) {
        await exchange(url, context.arrays.length, (i) => context.arrays[i]!, 1, context.deadline, clients).finally(() => {
          for (const ws of clients) ws.terminate();
        });
      }
      return {
        calls: done.reduce((sum, n) => sum + n, 0),
        compressedLinkMessages: edge.linkStats.linkMessagesCompressed + gateway.linkStats.linkMessagesCompressed,
        blobs: edge.linkStats.blobsSent + gateway.linkStats.blobsSent,
      };
    } finally {
      await edge.close(1000);
    }
  } finally {
    await gateway.close(1000);
  }
}

/** One client session: `calls` messages (`messageAt(i)`), `inFlight` at a time, each answered by one; resolves with the answers. */
function exchange(url: string, calls: number, messageAt: (i: number) => Buffer, inFlight: number, deadline: number, clients: Set<WebSocket>): Promise<number> {
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
      ws.send(messageAt(sent));
      sent++;
    };
    ws.on('open', () => {
      while (sent < Math.min(calls, inFlight)) sendNext();
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
  const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
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
