// The forwardedFor policies: append keeps today's chain, replace and trusted-hops never let a client's
// forged X-Forwarded-For entry come first (property tests over random chains and proxy paths).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  forwardedForChain, forwardedValues, parseTrustedProxies, sessionForwardedValues, type ForwardedForMode, type ForwardedPolicy,
} from '../../src/net/forwarded-headers.js';

const policy = (mode: ForwardedForMode, trusted = ''): ForwardedPolicy => ({ mode, trusted: parseTrustedProxies(trusted) });
const first = (chain: string | undefined) => chain?.split(',')[0].trim();

test('append: the incoming chain, then the peer (today\'s behaviour), IPv4-mapped addresses unwrapped', () => {
  assert.equal(forwardedForChain(policy('append'), '1.1.1.1, 2.2.2.2', '::ffff:10.0.0.9'), '1.1.1.1, 2.2.2.2, 10.0.0.9');
  assert.equal(forwardedForChain(policy('append'), ['1.1.1.1', '2.2.2.2'], '10.0.0.9'), '1.1.1.1, 2.2.2.2, 10.0.0.9');
  assert.equal(forwardedForChain(policy('append'), undefined, '10.0.0.9'), '10.0.0.9');
  assert.equal(forwardedForChain(policy('append'), 'forged', undefined), 'forged');
});

test('replace: only the peer; nothing when the peer is unknown', () => {
  assert.equal(forwardedForChain(policy('replace'), '6.6.6.6', '10.0.0.9'), '10.0.0.9');
  assert.equal(forwardedForChain(policy('replace'), '6.6.6.6', undefined), undefined);
});

test('trusted-hops: kept from the first untrusted address from the right', () => {
  const p = policy('trusted-hops', '10.0.0.0/8, 192.168.1.5, fd00::/8');
  assert.equal(forwardedForChain(p, '6.6.6.6, 203.0.113.7, 10.1.2.3', '192.168.1.5'), '203.0.113.7, 10.1.2.3, 192.168.1.5');
  assert.equal(forwardedForChain(p, '6.6.6.6', '203.0.113.7'), '203.0.113.7'); // untrusted peer: its chain is not believed
  assert.equal(forwardedForChain(p, 'garbage, 10.1.1.1', 'fd00::1'), 'garbage, 10.1.1.1, fd00::1'); // what a trusted hop wrote
  assert.equal(forwardedForChain(p, '10.9.9.9', '10.1.1.1'), '10.9.9.9, 10.1.1.1'); // all trusted: the whole chain
  assert.equal(forwardedForChain(policy('trusted-hops'), '6.6.6.6', '10.0.0.9'), '10.0.0.9'); // none trusted = replace
});

test('trustedProxies: bad entries are refused', () => {
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.1/8/1', '::1/129', '10.0.0.0/x']) assert.throws(() => parseTrustedProxies(bad), bad);
  assert.doesNotThrow(() => parseTrustedProxies(' 10.0.0.0/8 ,::1,[fd00::1], ::ffff:1.2.3.4 '));
});

test('X-Forwarded-Proto/-Host: kept in append, from a trusted peer in trusted-hops, replaced in replace', () => {
  const headers = { host: 'gw.example:9600', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hypha.example' };
  const hop = (peerAddress: string) => ({ headers, peerAddress, proto: 'ws' });
  const pick = (v: ReturnType<typeof forwardedValues>) => [v['x-forwarded-proto'], v['x-forwarded-host']];
  assert.deepEqual(pick(forwardedValues(policy('append'), hop('6.6.6.6'))), ['https', 'hypha.example']);
  assert.deepEqual(pick(forwardedValues(policy('replace'), hop('10.0.0.1'))), ['ws', 'gw.example:9600']);
  assert.deepEqual(pick(forwardedValues(policy('trusted-hops', '10.0.0.0/8'), hop('10.0.0.1'))), ['https', 'hypha.example']);
  assert.deepEqual(pick(forwardedValues(policy('trusted-hops', '10.0.0.0/8'), hop('6.6.6.6'))), ['ws', 'gw.example:9600']);
  assert.deepEqual(pick(forwardedValues(policy('append'), { headers: { host: 'h:1' }, peerAddress: '1.2.3.4', proto: 'http' })), ['http', 'h:1']);
});

test('sessions on a link: the client\'s own X-Forwarded-* go first in append only', () => {
  const link = { 'x-forwarded-for': '198.51.100.4', 'x-forwarded-proto': 'wss', 'x-forwarded-host': 'gw:9600' };
  const open = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'forged' };
  assert.deepEqual(sessionForwardedValues(policy('append'), open, link), { 'x-forwarded-for': '6.6.6.6, 198.51.100.4', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'forged' });
  assert.deepEqual(sessionForwardedValues(policy('append'), {}, link), link);
  assert.deepEqual(sessionForwardedValues(policy('replace'), open, link), link);
  assert.deepEqual(sessionForwardedValues(policy('trusted-hops', '10.0.0.0/8'), open, link), link);
});

// A client at clientAddress (never a trusted proxy) sends any X-Forwarded-For it likes, then its request
// crosses 0..3 trusted proxies that each append what they saw, then reaches the gateway.
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const trustedHop = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => `10.${p.join('.')}`);
const untrusted = ipv4.filter((a) => !a.startsWith('10.'));
const forgedEntry = fc.oneof(ipv4, trustedHop, fc.constantFrom('unknown', '', ' ', '::1', '[::1]', '127.0.0.1'), fc.string({ maxLength: 12 }).filter((s) => !s.includes(',')));
const forgedHeader = fc.oneof(fc.constant(undefined), fc.array(forgedEntry, { maxLength: 5 }).map((a) => a.join(', ')), fc.array(forgedEntry, { minLength: 1, maxLength: 3 }));

function throughProxies(forged: string | string[] | undefined, client: string, hops: string[]): { header: string | undefined; peer: string } {
  let header = Array.isArray(forged) ? forged.join(', ') : forged;
  let seen = client;
  for (const hop of hops) {
    header = header?.trim() ? `${header}, ${seen}` : seen;
    seen = hop;
  }
  return { header, peer: seen };
}

test('property: in replace and trusted-hops a client never makes its forged value the first entry', () => {
  fc.assert(fc.property(forgedHeader, untrusted, fc.array(trustedHop, { maxLength: 3 }), (forged, client, hops) => {
    const { header, peer } = throughProxies(forged, client, hops);
    const trusted = policy('trusted-hops', '10.0.0.0/8');
    assert.equal(first(forwardedForChain(trusted, header, peer)), client);
    assert.equal(forwardedForChain(policy('replace'), header, peer), peer);
    // A session on a link (the link came through the same path): what the client sent the edge is dropped.
    const link = forwardedValues(trusted, { headers: { 'x-forwarded-for': header }, peerAddress: peer, proto: 'wss' });
    const session = sessionForwardedValues(trusted, { 'x-forwarded-for': forged ?? [] }, link);
    assert.equal(first(session['x-forwarded-for']), client);
  }), { numRuns: 2000 });
});

test('property: append puts the peer last and keeps the incoming chain in order', () => {
  fc.assert(fc.property(fc.array(ipv4, { maxLength: 5 }), ipv4, (chain, peer) => {
    assert.deepEqual(forwardedForChain(policy('append'), chain.join(', ') || undefined, peer)?.split(', '), [...chain, peer]);
  }));
});
