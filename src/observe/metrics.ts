// Prometheus metrics derived from the event seam: one registry per process role, no global state.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { channels, type LinkEvent, type MessageEvent, type SessionEvent } from './events.js';

/** Cumulative link counters the role keeps (see LinkStats); read at scrape time. */
export type LinkStatsSource = () => Record<string, number> | undefined;

const LINK_COUNTERS: Array<[string, string, string]> = [
  ['framesSent', 'hypha_accel_link_frames_sent_total', 'Link frames sent.'],
  ['frameBytesSent', 'hypha_accel_link_bytes_sent_total', 'Link bytes sent (frame headers included, WebSocket framing excluded).'],
  ['framesReceived', 'hypha_accel_link_frames_received_total', 'Link frames received.'],
  ['frameBytesReceived', 'hypha_accel_link_bytes_received_total', 'Link bytes received.'],
  ['messagesTranscoded', 'hypha_accel_codec_messages_total', 'Whole messages offered to the codec when sent.'],
  ['transcodeBytesIn', 'hypha_accel_codec_bytes_in_total', 'Original bytes of messages offered to the codec.'],
  ['transcodeBytesOut', 'hypha_accel_codec_bytes_out_total', 'Bytes sent on the link for those messages (compact form or raw fallback).'],
  ['transcodeFallbacks', 'hypha_accel_codec_fallbacks_total', 'Messages the codec declined and sent raw.'],
  ['blobsSent', 'hypha_accel_blobs_sent_total', 'Large messages sent through the payload plane.'],
  ['blobBytesIn', 'hypha_accel_blob_bytes_in_total', 'Original bytes of messages sent as blobs.'],
  ['payloadBytesSent', 'hypha_accel_payload_bytes_sent_total', 'Payload-plane bytes sent (after dedupe and compression, frame headers included).'],
  ['linkMessagesCompressed', 'hypha_accel_link_messages_compressed_total', 'Small link messages sent deflate-compressed against the direction\'s history (dict-deflate-v1).'],
  ['linkCompressRawBytes', 'hypha_accel_link_compress_raw_bytes_total', 'Plain bytes of those messages.'],
  ['linkCompressWireBytes', 'hypha_accel_link_compress_wire_bytes_total', 'Bytes put on the link for them.'],
];

export function createMetrics(role: string, linkStats: LinkStatsSource = () => undefined, payloadStats: LinkStatsSource = () => undefined): { registry: Registry; close(): void } {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  const messages = new Counter({ name: 'hypha_accel_messages_total', help: 'Endpoint messages seen, by direction and hop.', labelNames: ['direction', 'hop', 'opcode'], registers: [registry] });
  const bytes = new Counter({ name: 'hypha_accel_message_bytes_total', help: 'Endpoint message bytes seen, by direction and hop.', labelNames: ['direction', 'hop'], registers: [registry] });
  const sessions = new Gauge({ name: 'hypha_accel_sessions', help: 'Sessions currently open.', registers: [registry] });
  const sessionEvents = new Counter({ name: 'hypha_accel_session_events_total', help: 'Session opens, closes and refusals.', labelNames: ['event'], registers: [registry] });
  const linkEvents = new Counter({ name: 'hypha_accel_link_events_total', help: 'Links up, down and refused, by error code.', labelNames: ['event', 'code'], registers: [registry] });
  const links = new Gauge({ name: 'hypha_accel_links', help: 'Links currently established.', registers: [registry] });
  const rtt = new Histogram({ name: 'hypha_accel_link_rtt_seconds', help: 'Link round-trip time from keep-alive pings.', buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] });

  for (const [key, name, help] of LINK_COUNTERS) {
    new Counter({
      name, help, registers: [registry],
      collect() {
        const value = linkStats()?.[key];
        if (value === undefined) return;
        this.reset();
        this.inc(value);
      },
    });
  }

  // The payload plane's own counters (blobs, chunks, dedupe hits, compression, shm), one series per stat.
  new Gauge({
    name: 'hypha_accel_payload',
    help: 'Payload-plane counters summed over live peer pairs (see docs/payload.md for each stat).',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [stat, value] of Object.entries(payloadStats() ?? {})) if (Number.isFinite(value)) this.set({ stat }, value);
    },
  });

  const onMessage = (m: unknown) => {
    const e = m as MessageEvent;
    messages.inc({ direction: e.direction, hop: e.hop, opcode: e.isBinary ? 'binary' : 'text' });
    bytes.inc({ direction: e.direction, hop: e.hop }, e.data.length);
  };
  const onSession = (m: unknown) => {
    const e = m as SessionEvent;
    sessionEvents.inc({ event: e.event });
    if (e.event === 'open') sessions.inc();
    if (e.event === 'close') sessions.dec();
  };
  const onLink = (m: unknown) => {
    const e = m as LinkEvent;
    if (e.event === 'rtt' && e.rttMs !== undefined) return rtt.observe(e.rttMs / 1000);
    linkEvents.inc({ event: e.event, code: e.errorCode ?? '' });
    if (e.event === 'up') links.inc();
    if (e.event === 'down') links.dec();
  };
  channels.message.subscribe(onMessage);
  channels.session.subscribe(onSession);
  channels.link.subscribe(onLink);
  return {
    registry,
    close() {
      channels.message.unsubscribe(onMessage);
      channels.session.unsubscribe(onSession);
      channels.link.unsubscribe(onLink);
    },
  };
}
