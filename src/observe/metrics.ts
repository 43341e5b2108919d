// Prometheus metrics of one role, one registry per role instance (no global state): counters from the
// event seam, RPC durations from the call tracker, link and payload-plane counters read at scrape time,
// default process metrics and build info. docs/metrics.md lists every metric (a test scrapes and checks).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { channels, messageBytes as lengthOf, type LinkEvent, type LinkInfo, type MessageEvent, type RoleName, type SessionEvent } from '../events.js';
import { PAYLOAD_SERIES, type PayloadSeries } from './payload-metric-table.js';
import type { RpcCallTracker } from './rpc-calls.js';
import { KeyedHistogram } from './rpc-series.js';
import { FRAME_KINDS } from '../link/link-compressor.js';

export interface MetricSources {
  /** Cumulative link counters of the role (LinkStats). */
  linkStats(): Record<string, number> | undefined;
  /** Cumulative payload-plane counters (PayloadPairs.metrics() plus shm gauges). */
  payloadStats(): Record<string, number> | undefined;
  links(): LinkInfo[];
}

export interface MetricsOptions {
  role: RoleName;
  version: string;
  sources: MetricSources;
  rpc: RpcCallTracker;
}

/**
 * The event-loop delay monitor's timer period. prom-client's default (10 ms) woke each idle proxy 100 times a
 * second, ~30 µs of CPU per wake-up on the 2-core test machine (3 ms/s per proxy idle, ~2 µs per message in
 * sequential calls); at 100 ms the lag gauges still see every stall longer than that, and most shorter ones.
 */
const EVENT_LOOP_SAMPLE_MS = 100;
const RPC_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RTT_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** LinkStats key -> [stage, direction] of hypha_accel_bytes_total. */
const LINK_BYTES: Record<string, [string, string]> = {
  frameBytesSent: ['link', 'sent'],
  frameBytesReceived: ['link', 'received'],
  transcodeBytesIn: ['codec_input', 'sent'],
  transcodeBytesOut: ['codec_output', 'sent'],
  blobBytesIn: ['blob_input', 'sent'],
  payloadBytesSent: ['payload_plane', 'sent'],
  linkCompressRawBytes: ['link_compress_input', 'sent'],
  linkCompressWireBytes: ['link_compress_output', 'sent'],
};

export interface Metrics {
  registry: Registry;
  close(): void;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const { role, sources } = options;
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  new Gauge({ name: 'hypha_accel_build_info', help: 'Always 1; labels carry the version and runtime.', labelNames: ['version', 'node_version'], registers: [registry] })
    .set({ version: options.version, node_version: process.version }, 1);

  // Per message only plain numbers are counted (label lookups cost a few µs per message); the counters read them at scrape time.
  const messageCounts = new Float64Array(16); // index: kind (edge 0, passthrough 8) + direction (up 0, down 4) + hop (in 0, out 2) + opcode (binary 0, text 1)
  const messageByteCounts = new Float64Array(8); // index: kind (edge 0, passthrough 4) + direction (up 0, down 2) + hop (in 0, out 1)
  cumulative(registry, 'hypha_accel_messages_total', 'Endpoint messages seen, by session kind (edge = carried over a link, passthrough = plain client through the gateway, counted once as hop in when up, out when down), direction (up = toward hypha), hop (in = from the endpoint) and opcode.', ['kind', 'direction', 'hop', 'opcode'], () => {
    const series: Series[] = [];
    messageCounts.forEach((count, i) => {
      if (count > 0) series.push([{ kind: i & 8 ? 'passthrough' : 'edge', direction: i & 4 ? 'down' : 'up', hop: i & 2 ? 'out' : 'in', opcode: i & 1 ? 'text' : 'binary' }, count]);
    });
    return series;
  });
  cumulative(registry, 'hypha_accel_message_bytes_total', 'Endpoint message bytes seen, by session kind, direction and hop (the endpoint stage of the byte counts).', ['kind', 'direction', 'hop'], () => {
    const series: Series[] = [];
    messageByteCounts.forEach((bytes, i) => {
      if (bytes > 0) series.push([{ kind: i & 4 ? 'passthrough' : 'edge', direction: i & 2 ? 'down' : 'up', hop: i & 1 ? 'out' : 'in' }, bytes]);
    });
    return series;
  });
  cumulative(registry, 'hypha_accel_bytes_total', 'Bytes on the link side, by stage (codec input and output, blob input, payload plane, link frames) and direction.', ['stage', 'direction'], () => {
    const stats = sources.linkStats() ?? {};
    const series: Series[] = [];
    for (const [key, [stage, direction]] of Object.entries(LINK_BYTES)) series.push([{ stage, direction }, stats[key] ?? 0]);
    return series;
  });
  cumulative(registry, 'hypha_accel_link_frames_total', 'Link frames, by direction.', ['direction'], () => {
    const stats = sources.linkStats() ?? {};
    return [[{ direction: 'sent' }, stats.framesSent ?? 0], [{ direction: 'received' }, stats.framesReceived ?? 0]];
  });
  cumulative(registry, 'hypha_accel_codec_messages_total', 'Whole messages offered to the codec when sent, by result (compact, or fallback = sent raw).', ['result'], () => {
    const stats = sources.linkStats() ?? {};
    const fallbacks = stats.transcodeFallbacks ?? 0;
    return [[{ result: 'compact' }, (stats.messagesTranscoded ?? 0) - fallbacks], [{ result: 'fallback' }, fallbacks]];
  });
  cumulative(registry, 'hypha_accel_link_messages_compressed_total', 'Small link messages sent deflate-compressed in their direction\'s stream (stream-deflate-v1/-v2).', [], () => [[{}, sources.linkStats()?.linkMessagesCompressed ?? 0]]);
  for (const [unit, help] of [['Frames', 'Link frames by kind and direction (data = OPEN/DATA/CLOSE; keepalive = PING/PONG).'], ['Bytes', 'Bytes on the link by frame kind and direction: after compression, with the 4-byte length prefix of the batched framing.']] as const) {
    cumulative(registry, `hypha_accel_link_wire_${unit.toLowerCase()}_total`, help, ['kind', 'direction'], () => {
      const stats = sources.linkStats() ?? {};
      const series: Series[] = [];
      for (const kind of FRAME_KINDS) for (const direction of ['Sent', 'Received']) series.push([{ kind: kind.toLowerCase(), direction: direction.toLowerCase() }, stats[`wire${kind}${unit}${direction}`] ?? 0]);
      return series;
    });
  }
  cumulative(registry, 'hypha_accel_blobs_sent_total', 'Large messages sent through the payload plane.', [], () => [[{}, sources.linkStats()?.blobsSent ?? 0]]);

  const sessionsOpen = new Gauge({ name: 'hypha_accel_sessions', help: 'Sessions currently open, by kind (edge = carried over a link, passthrough = plain client through the gateway).', labelNames: ['kind'], registers: [registry] });
  const sessionEvents = new Counter({ name: 'hypha_accel_session_events_total', help: 'Session opens, closes and refusals, by kind.', labelNames: ['event', 'kind'], registers: [registry] });
  const linkEvents = new Counter({ name: 'hypha_accel_link_events_total', help: 'Links up, down, refused and drained (a stopping gateway said DRAIN), and sessions resumed over a link (edge), by error code.', labelNames: ['event', 'code'], registers: [registry] });
  const drainCloses = new Counter({ name: 'hypha_accel_drain_session_closes_total', help: 'Sessions of a draining gateway instance the edge closed with 1001, by when (quiet: nothing moving on it; deadline: the drain time ran out).', labelNames: ['when'], registers: [registry] });
  new Gauge({ name: 'hypha_accel_links', help: 'Links currently established.', registers: [registry], collect() { this.set(sources.links().length); } });
  const rtt = new Histogram({ name: 'hypha_accel_link_rtt_seconds', help: 'Link round-trip time from keep-alive pings.', buckets: RTT_BUCKETS_S, registers: [registry] });
  new Gauge({
    name: 'hypha_accel_link_pacing_window_bytes', help: 'Pacing window (about twice the measured bandwidth-delay product), summed over live paced links.', registers: [registry],
    collect() { this.set(sources.links().reduce((sum, l) => sum + (l.pacingWindowBytes ?? 0), 0)); },
  });
  new Gauge({
    name: 'hypha_accel_link_in_flight_bytes', help: 'Bytes sent and not yet acknowledged, summed over live paced links.', registers: [registry],
    collect() { this.set(sources.links().reduce((sum, l) => sum + (l.inFlightBytes ?? 0), 0)); },
  });
  new Gauge({
    name: 'hypha_accel_link_min_rtt_seconds', help: 'Smallest current round trip over live links (pacing minimum, else last ping).', registers: [registry],
    collect() {
      const rtts = sources.links().map((l) => l.rttMs).filter((v): v is number => v !== undefined);
      if (rtts.length > 0) this.set(Math.min(...rtts) / 1000);
      else this.reset();
    },
  });

  const payloadByName = new Map<string, Array<[string, PayloadSeries]>>();
  for (const [key, series] of Object.entries(PAYLOAD_SERIES)) payloadByName.set(series.name, [...(payloadByName.get(series.name) ?? []), [key, series]]);
  for (const [name, entries] of payloadByName) {
    const [, first] = entries[0]!;
    const labelNames = Object.keys(first.labels ?? {});
    const read = (): Series[] => {
      const stats = sources.payloadStats() ?? {};
      return entries.map(([key, series]) => [series.labels ?? {}, stats[key] ?? 0]);
    };
    if (first.type === 'counter') cumulative(registry, name, first.help, labelNames, read);
    else new Gauge({ name, help: first.help, labelNames, registers: [registry], collect() { for (const [labels, value] of read()) this.set(labels, value); } });
  }

  // Per call only plain numbers are kept (prom-client hashes a label object per observe/inc); read at scrape time.
  const rpcDuration = new KeyedHistogram('hypha_accel_rpc_duration_seconds', 'RPC calls from the call message to its resolve/reject as this proxy saw them, by normalised method and outcome.', ['method', 'outcome'], RPC_BUCKETS_S, registry);
  const rpcBytes = new Map<string, { request: number; response: number }>(); // method -> bytes
  cumulative(registry, 'hypha_accel_rpc_bytes_total', 'Bytes of RPC calls (request) and their replies (response) as endpoint messages, by normalised method.', ['method', 'part'], () => {
    const series: Series[] = [];
    for (const [method, bytes] of rpcBytes) {
      series.push([{ method, part: 'request' }, bytes.request]);
      if (bytes.response > 0) series.push([{ method, part: 'response' }, bytes.response]);
    }
    return series;
  });
  const bytesOf = (method: string) => {
    let bytes = rpcBytes.get(method);
    if (!bytes) rpcBytes.set(method, (bytes = { request: 0, response: 0 }));
    return bytes;
  };
  const stopRpc = options.rpc.addListener({
    needsTarget: false,
    onCallStart(call) {
      bytesOf(call.method).request += call.requestBytes;
    },
    onCallEnd(call, end) {
      rpcDuration.observe(call.method, end.outcome, end.durationMs / 1000);
      bytesOf(call.method).response += end.responseBytes;
    },
  });
  new Gauge({ name: 'hypha_accel_rpc_pending_calls', help: 'Calls waiting for their reply.', registers: [registry], collect() { this.set(options.rpc.pendingCount); } });

  const onMessage = (m: unknown) => {
    const e = m as MessageEvent;
    if (e.role !== role) return;
    const passthrough = e.passthrough ? 1 : 0;
    const down = e.direction === 'down' ? 1 : 0;
    const out = e.hop === 'out' ? 1 : 0;
    messageCounts[passthrough * 8 + down * 4 + out * 2 + (e.isBinary ? 0 : 1)]++;
    messageByteCounts[passthrough * 4 + down * 2 + out] += lengthOf(e);
  };
  const onSession = (m: unknown) => {
    const e = m as SessionEvent;
    if (e.role !== role) return;
    const kind = e.viaLink ? 'edge' : 'passthrough';
    sessionEvents.inc({ event: e.event, kind });
    if (e.event === 'open') sessionsOpen.inc({ kind });
    if (e.event === 'close') sessionsOpen.dec({ kind });
  };
  const onLink = (m: unknown) => {
    const e = m as LinkEvent;
    if (e.role !== role) return;
    if (e.event === 'rtt' && e.rttMs !== undefined) return rtt.observe(e.rttMs / 1000);
    if (e.event === 'drain-close') return drainCloses.inc({ when: e.message ?? '' });
    linkEvents.inc({ event: e.event, code: e.errorCode ?? '' });
  };
  sessionsOpen.set({ kind: 'edge' }, 0);
  if (role === 'gateway') sessionsOpen.set({ kind: 'passthrough' }, 0);
  channels.message.subscribe(onMessage);
  channels.session.subscribe(onSession);
  channels.link.subscribe(onLink);
  return {
    registry,
    close() {
      stopRpc();
      channels.message.unsubscribe(onMessage);
      channels.session.unsubscribe(onSession);
      channels.link.unsubscribe(onLink);
    },
  };
}

type Series = [Record<string, string>, number];

/** A counter whose values are cumulative numbers kept elsewhere (they only grow), read at scrape time. */
function cumulative(registry: Registry, name: string, help: string, labelNames: string[], read: () => Series[]): Counter {
  return new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, Math.max(0, value));
    },
  });
}
