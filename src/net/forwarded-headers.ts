// The X-Forwarded-For / -Proto / -Host values the gateway sends hypha, by the forwardedFor policy:
// append (keep the incoming chain, add the peer), replace (only the peer), trusted-hops (walk the chain
// from the right past trusted proxies, keep from the first untrusted address). Pure functions, no I/O.
import net from 'node:net';
import type http from 'node:http';

export type ForwardedForMode = 'append' | 'replace' | 'trusted-hops';
export const FORWARDED_FOR_MODES: readonly ForwardedForMode[] = ['append', 'replace', 'trusted-hops'];

export interface ForwardedPolicy {
  mode: ForwardedForMode;
  /** trusted-hops: the proxies whose X-Forwarded-* the gateway believes. */
  trusted: net.BlockList;
}

/** The three headers to send upstream; undefined = send none. */
export interface ForwardedValues {
  'x-forwarded-for'?: string;
  'x-forwarded-proto'?: string;
  'x-forwarded-host'?: string;
}

/** One hop as the gateway sees it: the request's headers and the socket it came on. */
export interface HopSeen {
  headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  peerAddress: string | undefined;
  /** The scheme the client used on this hop: http/https (HTTP) or ws/wss (WebSocket). */
  proto: string;
}

/** ::ffff:a.b.c.d -> a.b.c.d, brackets and surrounding space dropped. */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a;
}

/** Parses a comma-separated list of addresses and CIDRs; throws on an entry that is neither. */
export function parseTrustedProxies(list: string): net.BlockList {
  const blocks = new net.BlockList();
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address, prefix, extra] = raw.split('/');
    const addr = normalizeAddress(address);
    const family = net.isIP(addr);
    if (!family || extra !== undefined) throw new Error(`not an address or CIDR: ${raw}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      blocks.addAddress(addr, type);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) throw new Error(`bad prefix length: ${raw}`);
    blocks.addSubnet(addr, bits, type);
  }
  return blocks;
}

export function isTrusted(trusted: net.BlockList, address: string): boolean {
  const a = normalizeAddress(address);
  const family = net.isIP(a);
  return family !== 0 && trusted.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

function entries(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
}

const single = (value: string | string[] | undefined): string | undefined => {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.trim() || undefined;
};

/** The X-Forwarded-For chain to send, from the incoming header and the address this hop saw. */
export function forwardedForChain(policy: ForwardedPolicy, incoming: string | string[] | undefined, peerAddress: string | undefined): string | undefined {
  const seen = peerAddress ? normalizeAddress(peerAddress) : undefined;
  const prior = entries(incoming);
  if (policy.mode === 'append') {
    const chain = seen ? [...prior, seen] : prior;
    return chain.length ? chain.join(', ') : undefined;
  }
  if (!seen) return undefined; // never a value only the client wrote
  if (policy.mode === 'replace') return seen;
  const chain = [...prior, seen];
  let keepFrom = chain.length - 1;
  while (keepFrom > 0 && isTrusted(policy.trusted, chain[keepFrom])) keepFrom--;
  return chain.slice(keepFrom).join(', ');
}

/** All three headers for one hop: X-Forwarded-Proto/-Host are kept from the request when the mode believes
 *  the sender (append: always; trusted-hops: when the peer is a trusted proxy; replace: never). */
export function forwardedValues(policy: ForwardedPolicy, hop: HopSeen): ForwardedValues {
  const believePrior = policy.mode === 'append' || (policy.mode === 'trusted-hops' && hop.peerAddress !== undefined && isTrusted(policy.trusted, hop.peerAddress));
  const proto = (believePrior && single(hop.headers['x-forwarded-proto'])) || hop.proto;
  const host = (believePrior && single(hop.headers['x-forwarded-host'])) || single(hop.headers.host);
  return {
    'x-forwarded-for': forwardedForChain(policy, hop.headers['x-forwarded-for'], hop.peerAddress),
    'x-forwarded-proto': proto,
    'x-forwarded-host': host,
  };
}

/** A session carried on a link: the link's values; in append mode the client's own X-Forwarded-* (sent to
 *  the edge) go first, as before. The edge host is not a proxy the gateway can check, so the other modes
 *  drop what the client wrote. */
export function sessionForwardedValues(policy: ForwardedPolicy, openHeaders: Record<string, string | string[]>, link: ForwardedValues): ForwardedValues {
  if (policy.mode !== 'append') return link;
  const chain = [...entries(openHeaders['x-forwarded-for']), ...entries(link['x-forwarded-for'])];
  return {
    'x-forwarded-for': chain.length ? chain.join(', ') : undefined,
    'x-forwarded-proto': single(openHeaders['x-forwarded-proto']) ?? link['x-forwarded-proto'],
    'x-forwarded-host': single(openHeaders['x-forwarded-host']) ?? link['x-forwarded-host'],
  };
}

/** Writes the values into an outgoing header object (removing any the client sent that are now absent). */
export function applyForwarded(headers: Record<string, unknown>, values: ForwardedValues): void {
  for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'] as const) {
    const value = values[name];
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
}

/** The scheme a request used on this hop. */
export function hopProto(req: http.IncomingMessage, websocket: boolean): string {
  const encrypted = Boolean((req.socket as { encrypted?: boolean }).encrypted);
  return websocket ? (encrypted ? 'wss' : 'ws') : (encrypted ? 'https' : 'http');
}
