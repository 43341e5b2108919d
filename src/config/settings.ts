// Every setting of both roles, declared once: its flag, environment variable (HYPHA_ACCEL_*), YAML key,
// kind, default and documentation. The CLI, the loader and docs/config.md are all derived from this table.
import { z } from 'zod';
import { parseTrustedProxies } from '../net/forwarded-headers.js';

export type Role = 'edge' | 'gateway';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:9527')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');
const httpUrl = z.string().url('expected a URL').refine((v) => /^https?:\/\//.test(v), 'expected an http:// or https:// URL');
const gatewayUrl = z.string().url('expected a URL').refine((v) => /^(wss?|tcp|tls|tcps|unix):\/\//.test(v), 'expected a tcp://, tls://, unix://, ws:// or wss:// URL');
const positiveInt = (min: number, max: number) => z.coerce.number().int('expected an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v))]);

export interface SettingSpec {
  key: string; // camelCase: the YAML key and the config property
  flag: string; // --kebab-case
  env: string; // HYPHA_ACCEL_SNAKE_CASE
  roles: Role[];
  schema: z.ZodType;
  defaultValue?: unknown;
  required?: boolean;
  doc: string;
  placeholder: string;
}

function setting(key: string, roles: Role[], schema: z.ZodType, placeholder: string, doc: string, defaultValue?: unknown): SettingSpec {
  const kebab = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  const env = 'HYPHA_ACCEL_' + kebab.replace(/-/g, '_').toUpperCase();
  return { key, flag: '--' + kebab, env, roles, schema, placeholder, doc, defaultValue, required: defaultValue === undefined };
}

const BOTH: Role[] = ['edge', 'gateway'];

export const SETTINGS: SettingSpec[] = [
  setting('listen', BOTH, hostPort, 'HOST:PORT', 'Where to listen. Edge: what clients use as server_url. Gateway: links from edges AND plain hypha traffic, on one port.'),
  setting('linkSocketPath', ['gateway'], z.string(), 'PATH', 'Also serve on this Unix socket (mode 0600: only this user connects), for an edge on the same host (gatewayUrl unix:///PATH): the same links, plain clients and HTTP passthrough as the port, without TCP. No TLS on it (the file mode guards it; a client certificate is not asked for); links are still authenticated by the secret. A stale socket file is replaced. Empty = none.', ''),
  setting('hyphaUrl', ['gateway'], httpUrl, 'URL', 'The real hypha server, e.g. http://127.0.0.1:9527.'),
  setting('gatewayUrl', ['edge'], gatewayUrl, 'URL', 'The gateway, e.g. tls://gateway.example:9600. The scheme picks the link transport: tls:// (alias tcps://) or tcp:// = length-prefixed frames straight on the socket, many per write (fastest; asked for with an HTTP Upgrade on the gateway port), over TLS or in plain text; wss:// or ws:// = one WebSocket (for HTTP-only ingress); unix:///PATH = the byte-stream link over the gateway\'s Unix socket (linkSocketPath) when both share a host (colocated; HTTP passthrough goes there too). Plain text (tcp://, ws://) to a non-loopback address needs allowInsecureLink.'),
  setting('secretFile', BOTH, z.string().min(1), 'PATH', 'File holding the shared link secret (both sides the same). It never crosses the wire. Read as bytes (one trailing newline dropped). For a rotation it may hold several keys with ids: first line `# hypha-accel keys`, then one `ID SECRET` a line, preferred first; a link uses the first key of the edge the gateway also holds (docs/security.md). Reread on change and on SIGHUP; running links keep going, except that a gateway ends the links made with a key it no longer holds (their edges redial and sessions resume). A file readable by group or others is accepted with a warning on stderr (prefer chmod 600; Kubernetes: defaultMode 0400, or 0440 with fsGroup).'),
  setting('adminListen', ['gateway'], z.union([z.literal(''), hostPort]), 'HOST:PORT', 'Admin HTTP (docs/metrics.md: /metrics, /live, /ready, /stats, and a live page at /), localhost only by default; empty disables it. If the port is taken the role runs on without it and logs an error.', '127.0.0.1:9990'),
  setting('adminListen', ['edge'], z.union([z.literal(''), hostPort]), 'HOST:PORT', 'Admin HTTP as for the gateway; its own default port, so both roles can share a host.', '127.0.0.1:9991'),
  setting('workers', BOTH, positiveInt(1, 256), 'N', 'Worker processes sharing the listen port (node:cluster; the primary hands each new connection to the next worker). Each worker has its own sessions, links (the edge dials --links per worker), codec tables and payload stores; the admin port is served once, by the primary, with metrics summed over the workers. 1 = one process, no primary.', 1),
  setting('links', ['edge'], positiveInt(1, 64), 'N', 'Links kept open to the gateway.', 2),
  setting('logLevel', BOTH, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'LEVEL', 'Log level (logs are JSON lines on stderr).', 'info'),
  setting('windowBytes', BOTH, positiveInt(65536, 1 << 30), 'BYTES', 'Per-session credit window: bytes in flight per direction before the source socket is paused.', 4 * 1024 * 1024),
  setting('maxFrameBytes', BOTH, positiveInt(16384, 16 * 1024 * 1024), 'BYTES', 'Largest link frame; larger messages are cut into frames of this size less 64 bytes (room for the header) and interleaved with other sessions. The default, 64 KiB + 64, makes each 64 KiB socket read of a large message that is passed on as it arrives one frame (with 64 KiB, each became a full frame and a 64-byte one).', 64 * 1024 + 64),
  setting('maxMessageBytes', BOTH, positiveInt(1024, 1 << 30), 'BYTES', 'Largest WebSocket message accepted from an endpoint (ws default); a larger one closes its session with 1009.', 100 * 1024 * 1024),
  setting('pingIntervalMs', BOTH, positiveInt(100, 600000), 'MS', 'Link keep-alive ping interval (RTT is measured from it).', 5000),
  setting('keepaliveTimeoutMs', BOTH, positiveInt(200, 3600000), 'MS', 'A link silent this long is declared dead (checked every pingIntervalMs), and its sessions wait for resumeGraceMs from then: a dead path costs endpoints at most keepaliveTimeoutMs + pingIntervalMs + resumeGraceMs before they are closed, and a path that comes back (or a NAT that forgot the connection) is used again after at most keepaliveTimeoutMs + pingIntervalMs.', 15000),
  setting('handshakeTimeoutMs', BOTH, positiveInt(100, 600000), 'MS', 'Deadline for a link handshake.', 10000),
  setting('openTimeoutMs', ['edge'], positiveInt(100, 600000), 'MS', 'Deadline for the gateway to open a session upstream before the upgrade is answered 504.', 15000),
  setting('linkWaitMs', ['edge'], positiveInt(0, 600000), 'MS', 'How long a new client waits for a ready link before its upgrade is answered 503. A link outage shorter than this looks to a connecting client like a stalled network, as it would without the pair.', 10000),
  setting('resumeGraceMs', BOTH, positiveInt(0, 3600000), 'MS', 'How long a session whose link died waits for a link to the same gateway instance to take it back (unconfirmed messages are then replayed, exactly once and in order): endpoints see nothing of a shorter outage. After it the client (edge) and the upstream (gateway) are closed with 1001 so hypha-rpc reconnects. 0 = no resume (sessions end with their link). Both sides must enable it.', 30000),
  setting('resumeBufferBytes', BOTH, positiveInt(65536, 1 << 30), 'BYTES', 'Per session: bytes of messages sent and not yet confirmed delivered by the peer, kept for replay after a link loss. Beyond it the session closes with 1011 (HYPHA_ACCEL_ERR_RESUME_BUFFER_FULL). Keep it above maxMessageBytes.', 128 * 1024 * 1024),
  setting('resumeProcessBufferBytes', BOTH, positiveInt(65536, 16 * 1024 * 1024 * 1024), 'BYTES', 'Per process: the sum of all sessions\' unconfirmed bytes kept for replay; a session that would exceed it closes with 1011.', 512 * 1024 * 1024),
  setting('stopDelayMs', BOTH, positiveInt(0, 600000), 'MS', 'On SIGTERM: how long /ready answers 503 while the listener still accepts new clients, before the drain begins, so load balancers polling readiness stop sending first (what a Kubernetes preStop sleep does when SIGTERM comes later). 0 = the drain begins at once (readiness still flips first). Single-process roles; with workers > 1 the drain begins at once.', 0),
  setting('drainTimeoutMs', BOTH, positiveInt(0, 600000), 'MS', 'On SIGTERM: deadline for sessions to close and links to drain before exit.', 10000),
  setting('endpointDeflate', BOTH, bool, 'BOOL', 'Negotiate permessage-deflate on the local hop (client-edge / gateway-hypha). Off: compressing on loopback only burns CPU.', false),
  setting('plainClientDeflate', ['gateway'], bool, 'BOOL', 'Negotiate permessage-deflate with plain clients that reach hypha through the gateway without an edge (its hop to hypha follows endpointDeflate). Off by default: such clients are usually local services, where deflate costs far more CPU time than the bytes it saves (on loopback a 64 MiB array moves ~6x slower with it, docs/design.md); turn it on when remote plain clients sit behind a slow network.', false),
  setting('codec', BOTH, bool, 'BOOL', 'Transcode hypha messages on the link (both sides must enable it; otherwise raw).', true),
  setting('codecBypassMbps', BOTH, z.coerce.number().min(0, 'must be >= 0'), 'MBPS', 'Links estimated at least this fast (as for payloadBypassMbps) send messages untranscoded: on loopback the codec added 30-80% to the proxies\' CPU per small message (docs/design.md) while the bytes it saves cost nothing there. Each side decides for what it sends. 0 = always transcode.', 800),
  setting('pacing', BOTH, bool, 'BOOL', 'Pace each link to about twice its measured bandwidth-delay product (the peer acknowledges bytes), so queued bulk data never sits in socket buffers ahead of small calls. Both sides must enable it.', true),
  setting('payload', BOTH, bool, 'BOOL', 'Move large binary messages through the payload plane: content-defined dedupe and per-chunk compression (both sides must enable it).', true),
  setting('payloadMinBytes', BOTH, positiveInt(1024, 1 << 30), 'BYTES', 'Binary messages at least this large (and larger than one link frame) travel as blobs.', 65536),
  setting('payloadStoreBytes', BOTH, positiveInt(1 << 20, 64 * 1024 * 1024 * 1024), 'BYTES', 'Bytes of chunks each side keeps per peer for dedupe (bounded LRU).', 256 * 1024 * 1024),
  setting('shm', BOTH, bool, 'BOOL', 'Shared memory when edge and gateway share a host: the link handshake proves both see the same memory-backed directory (shmDir), then large blobs go through segment files there and only a reference crosses the link. Any failure falls back to the link.', true),
  setting('shmDir', BOTH, z.string(), 'PATH', 'Memory-backed directory for shared-memory segments, the same directory on both sides (e.g. a tmpfs or a Kubernetes emptyDir with medium: Memory mounted in both containers). Everything of ours goes into its subfolder hypha-accel-shm (the directory itself is never chmodded or swept); files we never issued are never removed; aged leftovers are swept at start-up and every 5 minutes. Empty = /dev/shm/hypha-accel-<uid>.', ''),
  setting('shmMaxBytes', BOTH, positiveInt(1 << 20, 64 * 1024 * 1024 * 1024), 'BYTES', 'Bytes of unconsumed shared-memory segments each side may have written per pair; beyond it blobs go over the link.', 1024 * 1024 * 1024),
  setting('payloadBypassMbps', BOTH, z.coerce.number().min(0, 'must be >= 0'), 'MBPS', 'Links estimated at least this fast (pacing window per measured round trip, at most linkBandwidthMbps or 1 Gbit/s) send large messages as plain fragments: there the payload plane costs more CPU time than the bytes it saves. Shared-memory links always use the plane. 0 = always use the plane.', 800),
  setting('linkCompression', BOTH, z.enum(['auto', 'on', 'off']), 'MODE', 'Compress small link messages (calls, replies, ACKs) with one deflate stream per direction that spans messages (capability stream-deflate-v1, both sides must allow it). auto: on links estimated slower than linkCompressionBelowMbps, where the bytes matter more than ~10 µs of CPU per message (the endpoints\' own permessage-deflate, which the pair turns off, cost more); on: always, for links where bytes cost money; off: never.', 'auto'),
  setting('linkCompressionBelowMbps', BOTH, z.coerce.number().min(0, 'must be >= 0'), 'MBPS', 'With linkCompression auto: links estimated slower than this (pacing window per measured round trip, at most linkBandwidthMbps or 1 Gbit/s) compress their small messages; loopback and LAN links stay plain.', 400),
  setting('linkBandwidthMbps', BOTH, z.coerce.number().min(0, 'must be >= 0'), 'MBPS', 'Bandwidth of the path between edge and gateway, as a hint for choosing compression (0 = unknown: assume 1 Gbit/s, capped by what the paced link carries per measured round trip).', 0),
  setting('caFile', BOTH, z.string(), 'PATH', 'PEM file of extra CA certificates to trust for wss:// and https:// upstreams (edge: the gateway; gateway: hypha), besides the system ones. Empty = system CAs only.', ''),
  setting('tlsCertFile', ['gateway'], z.string(), 'PATH', 'PEM certificate (chain) of the gateway: with tlsKeyFile, its port speaks TLS only, for everything it serves (plain hypha clients, HTTP passthrough, tls:// and wss:// links). Reloaded when the file changes or on SIGHUP; links in progress keep going. Empty = plain text.', ''),
  setting('tlsKeyFile', ['gateway'], z.string(), 'PATH', 'PEM private key for tlsCertFile (reloaded with it).', ''),
  setting('tlsClientCaFile', ['gateway'], z.string(), 'PATH', 'Mutual TLS: PEM CA that signs edge client certificates. When set, a link (never a plain hypha client) is refused with 403 unless the edge presents a certificate from this CA that passes tlsClientAllow and tlsClientRevokedFile. Needs tlsCertFile. Reloaded on change.', ''),
  setting('tlsClientAllow', ['gateway'], z.string(), 'NAMES', 'Mutual TLS: comma-separated edge identities (certificate CN or a DNS/URI/email subjectAltName) allowed to open links. Empty = any certificate tlsClientCaFile signed.', ''),
  setting('tlsClientRevokedFile', ['gateway'], z.string(), 'PATH', 'Mutual TLS: file of revoked edge certificates, one SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` prints it) or serial number a line, `#` comments. Read at start, on change and on SIGHUP; a revoked edge cannot open new links (its running links are closed at the reload).', ''),
  setting('tlsServerName', ['edge'], z.string(), 'NAME', 'tls:// and wss:// links: the name the gateway certificate must carry (SNI and verification), when it differs from the host in gatewayUrl. Empty = the host of gatewayUrl.', ''),
  setting('tlsClientCertFile', ['edge'], z.string(), 'PATH', 'Mutual TLS: PEM client certificate the edge presents on its links (read at each dial, so a rotated certificate is used by the next link).', ''),
  setting('tlsClientKeyFile', ['edge'], z.string(), 'PATH', 'Mutual TLS: PEM private key of tlsClientCertFile.', ''),
  setting('allowInsecureLink', ['edge'], bool, 'BOOL', 'INSECURE: allow a plain-text link (tcp:// or ws://) to a gateway that is not on a loopback address. Link frames, hypha tokens and payloads then cross the network readable and alterable by anyone on the path; only the handshake is authenticated. Set it only inside a network you trust (e.g. a Kubernetes cluster with its own encryption).', false),
  setting('forwardedFor', ['gateway'], z.enum(['append', 'replace', 'trusted-hops']), 'MODE', 'How the gateway writes X-Forwarded-For for hypha (which trusts its FIRST entry for IP blocklists and per-IP rate limits; docs/security.md). append = any incoming chain, then the address the gateway saw the connection come from (a client can put any value first). replace = only the address the gateway saw. trusted-hops = walk the chain from the right past the addresses in trustedProxies and keep it from the first untrusted address (for a gateway behind your own ingress or load balancer). Sessions over a link use the link\'s connection; in replace and trusted-hops a client\'s own X-Forwarded-* sent to the edge are dropped. X-Forwarded-Proto (http/https/ws/wss on the hop the gateway saw) and X-Forwarded-Host (the Host asked for) are added; incoming values are kept in append, kept from a trusted peer in trusted-hops, replaced in replace.', 'append'),
  setting('trustedProxies', ['gateway'], z.string().refine((v) => { try { parseTrustedProxies(v); return true; } catch { return false; } }, 'expected comma-separated IP addresses or CIDRs, e.g. 10.0.0.0/8,192.168.1.5'), 'CIDRS', 'forwardedFor trusted-hops: comma-separated addresses and CIDRs of your own proxies in front of the gateway (IPv4 or IPv6). Empty = none trusted (then trusted-hops acts as replace).', ''),
  setting('maxPendingHandshakes', BOTH, positiveInt(1, 1000000), 'N', 'Upgrades (client sessions and links) being validated, dialed or authenticated at once; beyond it new ones are answered 503 (HYPHA_ACCEL_ERR_OVERLOADED).', 256),
  setting('maxLinks', ['gateway'], positiveInt(1, 1000000), 'N', 'Links from edges (established or in handshake); beyond it a new link upgrade is answered 503.', 256),
  setting('maxStreamsPerLink', ['gateway'], positiveInt(1, 1000000), 'N', 'Sessions carried by one link; beyond it an OPEN fails with 503 (only that stream).', 4096),
  setting('maxSessions', BOTH, positiveInt(1, 10000000), 'N', 'WebSocket sessions per process (edge: clients; gateway: upstream sockets to hypha, link sessions and plain clients); beyond it new ones are answered 503.', 10000),
  setting('maxHttpSockets', BOTH, positiveInt(1, 1000000), 'N', 'Sockets the HTTP passthrough keeps to its upstream (http.Agent maxSockets); further requests queue for a free socket.', 256),
  setting('memoryBudgetBytes', BOTH, positiveInt(0, 1024 * 1024 * 1024 * 1024), 'BYTES', 'Shedding: while the process holds more than this in its JS heap plus buffers (process.memoryUsage heapUsed + external), new sessions and HTTP requests are refused with 503 so existing ones finish before memory runs out. 0 = off.', 2 * 1024 * 1024 * 1024),
  setting('connRatePerSec', BOTH, z.coerce.number().min(0, 'must be >= 0'), 'N', 'New TCP connections per second one remote address may open (token bucket, burst connBurst); beyond it the connection is answered 429 and closed. 0 = off.', 200),
  setting('connBurst', BOTH, positiveInt(1, 10000000), 'N', 'Burst of new connections per remote address before connRatePerSec applies.', 1000),
  setting('recordFrames', BOTH, z.string(), 'PATH', 'Debug: append every endpoint message (role, session, direction, opcode, length, sha256) as JSON lines to PATH.', ''),
];
