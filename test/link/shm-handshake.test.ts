// The shared-memory probe in the link handshake over the in-memory pair, with the roles' real ShmSetup on
// real directories: shm on a shared directory (and blobs then really go through segments), none on
// different directories, a tampered, absent or malformed probe falls back, the link is always up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { randomUUID, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { establishAsEdge, establishAsGateway, type EstablishOptions, type Negotiated, type ShmHandshake } from '../../src/link/establish.js';
import { FrameType, decodeFrame, decodeJson, encodeFrame, encodeJson, type Frame } from '../../src/link/frame.js';
import { PROTOCOL_VERSION, computeShmProof, decodeHello, encodeHello, newNonce, verifyShmProof } from '../../src/link/handshake.js';
import { loadConfig, type CommonConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { ShmSetup } from '../../src/roles/shm-setup.js';
import { SHM_SUBDIR } from '../../src/payload/index.js';
import { PayloadPairs, PAYLOAD_CAPABILITY } from '../../src/roles/payload-setup.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingHandler, StreamAcceptor, createLinkPair, testSettings, until, type PipeEnd } from '../helpers/link-pair.js';

const SECRET = Buffer.from('correct horse battery staple');
const memoryRoot = (await fs.stat('/dev/shm').then(() => '/dev/shm', () => undefined)) ?? '/tmp';
const log = createLogger('silent');

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = join(memoryRoot, `hypha-accel-hs-${process.pid}-${randomBytes(4).toString('hex')}`);
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function config(shmDir: string, extra: Record<string, unknown> = {}): CommonConfig {
  return loadConfig('edge', { flags: { listen: '127.0.0.1:0', gatewayUrl: 'ws://127.0.0.1:1', secretFile: '/dev/null', shmDir, ...extra }, env: {} });
}

function setup(role: 'edge' | 'gateway', shmDir: string, listenPort: number): ShmSetup {
  return new ShmSetup(config(shmDir), { role, listenPort }, log);
}

interface Side {
  options: EstablishOptions;
  negotiated: Negotiated[];
  acceptor: StreamAcceptor;
}

function side(shm: ShmHandshake | undefined, session?: (n: Negotiated) => Partial<ReturnType<EstablishOptions['session']>>): Side {
  const negotiated: Negotiated[] = [];
  const acceptor = new StreamAcceptor();
  return {
    negotiated,
    acceptor,
    options: {
      secret: SECRET,
      local: testSettings({ capabilities: [PAYLOAD_CAPABILITY] }),
      handshakeTimeoutMs: 5000,
      instanceId: `${shm ? 'shm' : 'plain'}-${randomBytes(3).toString('hex')}`,
      ...(shm ? { shm } : {}),
      session: (n) => {
        negotiated.push(n);
        return {
          maxMessageBytes: 1 << 24, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000, sendHighWaterBytes: 1 << 20,
          clock: new FakeClock(), onStreamOpen: acceptor.accept, ...session?.(n),
        };
      },
    },
  };
}

async function probeFiles(shmDir: string): Promise<string[]> {
  const dir = join(shmDir, SHM_SUBDIR);
  const out: string[] = [];
  for (const sub of await fs.readdir(dir).catch(() => [] as string[])) {
    for (const name of await fs.readdir(join(dir, sub)).catch(() => [] as string[])) if (name.startsWith('probe-')) out.push(name);
  }
  return out;
}

/** The link works: a message crosses it both ways. */
async function assertLinkUp(edge: Awaited<ReturnType<typeof establishAsEdge>>, gatewaySide: Side): Promise<void> {
  const stream = edge.session.openStream(encodeJson({ sessionId: 's1', path: '/ws' }));
  const handler = new RecordingHandler();
  stream.bind(handler);
  stream.sendMessage(Buffer.from('ping'), true);
  await until(() => gatewaySide.acceptor.streams[0]?.handler.messages.length === 1, 'the gateway to receive a message');
  gatewaySide.acceptor.streams[0]!.stream.sendMessage(Buffer.from('pong'), true);
  await until(() => handler.messages.length === 1, 'the edge to receive the reply');
}

test('shared directory: both sides agree on shm for the same pair, the probe file is gone, the link is up', async (t) => {
  const dir = await tempDir(t);
  const edgeShm = setup('edge', dir, 1001);
  const gatewayShm = setup('gateway', dir, 1002);
  const { a, b } = createLinkPair();
  const gatewaySide = side(gatewayShm);
  const [edge, gateway] = await Promise.all([establishAsEdge(a, side(edgeShm).options), establishAsGateway(b, gatewaySide.options)]);
  assert.equal(edge.shmPairId, edgeShm.writerId, 'the edge names its pair directory after its writer id');
  assert.equal(gateway.shmPairId, edge.shmPairId, 'both sides must agree on the pair');
  assert.equal(gatewaySide.negotiated[0]?.shmPairId, edge.shmPairId, 'the session factory learns the pair');
  assert.ok(edgeShm.segmentsFor(edge.shmPairId) && gatewayShm.segmentsFor(gateway.shmPairId), 'both sides have their segments open');
  assert.deepEqual(await probeFiles(dir), [], 'the probe file must be discarded');
  // HELLO carried only a name, never a path or the nonce.
  const hello = decodeHello(decodeFrame(a.sent[0]!, 1 << 20).payload);
  assert.deepEqual(Object.keys(hello.shm ?? {}).sort(), ['pairId', 'probeName']);
  assert.equal(a.sent[0]!.indexOf(Buffer.from(dir)), -1, 'HELLO must not carry the directory');
  await assertLinkUp(edge, gatewaySide);
});

test('different directories: no shm on either side, the link is up', async (t) => {
  const [edgeDir, gatewayDir] = [await tempDir(t), await tempDir(t)];
  const gatewayShm = setup('gateway', gatewayDir, 1002);
  const { a, b } = createLinkPair();
  const gatewaySide = side(gatewayShm);
  const [edge, gateway] = await Promise.all([establishAsEdge(a, side(setup('edge', edgeDir, 1001)).options), establishAsGateway(b, gatewaySide.options)]);
  assert.equal(edge.shmPairId, undefined);
  assert.equal(gateway.shmPairId, undefined);
  assert.equal(gatewayShm.segmentsFor(hello(a).shm?.pairId), undefined, 'the gateway must not open segments for a failed probe');
  // The gateway still answered, with a decoy of the same shape as a real proof.
  const challenge = decodeJson(decodeFrame(b.sent[0]!, 1 << 20).payload);
  assert.equal(Buffer.from(String(challenge.shmProof), 'base64').length, 32, 'a decoy shmProof is sent');
  assert.deepEqual(await probeFiles(edgeDir), [], 'the probe file must be discarded');
  await assertLinkUp(edge, gatewaySide);
});

function hello(end: PipeEnd) {
  return decodeHello(decodeFrame(end.sent[0]!, 1 << 20).payload);
}

/** Rewrites the JSON of the first handshake frame of `type` this end sends. */
function rewriteJson(end: PipeEnd, type: number, edit: (body: Record<string, unknown>) => void, magic = false): void {
  end.outbound = (data) => {
    const frame = decodeFrame(data, 1 << 20);
    if (frame.type !== type) return data;
    if (magic) {
      const parsed = decodeHello(frame.payload) as unknown as Record<string, unknown>;
      edit(parsed);
      return encodeFrame({ ...frame, payload: encodeHello(parsed as never) } as Frame);
    }
    const body = decodeJson(frame.payload);
    edit(body);
    return encodeFrame({ ...frame, payload: encodeJson(body) } as Frame);
  };
}

for (const [what, tamper] of [
  ['a tampered CHALLENGE shmProof', (a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.CHALLENGE, (body) => {
    const proof = Buffer.from(String(body.shmProof), 'base64');
    proof[0]! ^= 1;
    body.shmProof = proof.toString('base64');
  })],
  ['a CHALLENGE without shmProof (an older gateway)', (_a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.CHALLENGE, (body) => delete body.shmProof)],
] as const) {
  test(`${what}: the edge stays on the link, the link is up`, async (t) => {
    const dir = await tempDir(t);
    const edgeShm = setup('edge', dir, 1001);
    const { a, b } = createLinkPair();
    tamper(a, b);
    const gatewaySide = side(setup('gateway', dir, 1002));
    const [edge, gateway] = await Promise.all([establishAsEdge(a, side(edgeShm).options), establishAsGateway(b, gatewaySide.options)]);
    assert.equal(edge.shmPairId, undefined, 'the edge must not use shm');
    if (!what.includes('WELCOME')) assert.equal(gateway.shmPairId, undefined, 'the gateway must not use shm');
    assert.deepEqual(await probeFiles(dir), [], 'the probe file must be discarded');
    await assertLinkUp(edge, gatewaySide);
  });
}

// Protocol 2: the proofs cover the whole transcript, so any change on the way fails the handshake on
// both sides (before, these passed and only the changed part was ignored).
for (const [what, tamper] of [
  ['a HELLO naming another probe file', (a: PipeEnd) => rewriteJson(a, FrameType.HELLO, (body) => {
    body.shm = { ...(body.shm as object), probeName: `probe-${randomBytes(16).toString('hex')}` };
  }, true)],
  ['a malformed HELLO shm field', (a: PipeEnd) => rewriteJson(a, FrameType.HELLO, (body) => (body.shm = { pairId: '../etc', probeName: 5 }), true)],
  ['HELLO capabilities stripped (a downgrade)', (a: PipeEnd) => rewriteJson(a, FrameType.HELLO, (body) => (body.capabilities = []), true)],
  ['HELLO instance id changed', (a: PipeEnd) => rewriteJson(a, FrameType.HELLO, (body) => (body.instanceId = 'edge-someone-else'), true)],
  ['HELLO window changed', (a: PipeEnd) => rewriteJson(a, FrameType.HELLO, (body) => (body.windowBytes = 4096), true)],
  ['CHALLENGE capabilities stripped', (_a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.CHALLENGE, (body) => (body.capabilities = []))],
  ['CHALLENGE gateway id changed', (_a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.CHALLENGE, (body) => (body.gatewayId = 'gateway-x'))],
  ['CHALLENGE maxFrameBytes changed', (_a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.CHALLENGE, (body) => (body.maxFrameBytes = 2048))],
  ['AUTH shm flag removed', (a: PipeEnd) => rewriteJson(a, FrameType.AUTH, (body) => delete body.shm)],
  ['a WELCOME without shm', (_a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.WELCOME, (body) => delete body.shm)],
  ['a WELCOME with another link id', (_a: PipeEnd, b: PipeEnd) => rewriteJson(b, FrameType.WELCOME, (body) => (body.linkId = randomUUID()))],
] as const) {
  test(`a transcript changed on the way (${what}) fails the handshake with HYPHA_ACCEL_ERR_AUTH`, async (t) => {
    const dir = await tempDir(t);
    const { a, b } = createLinkPair();
    tamper(a, b);
    const [edge, gateway] = await Promise.allSettled([
      establishAsEdge(a, side(setup('edge', dir, 1001)).options), establishAsGateway(b, side(setup('gateway', dir, 1002)).options),
    ]);
    assert.equal(edge.status, 'rejected', 'the edge refuses the link');
    assert.equal((edge as PromiseRejectedResult).reason.code, 'HYPHA_ACCEL_ERR_AUTH');
    // The gateway refuses too, unless it had already finished (only WELCOME was changed, after its last check).
    if (!what.includes('WELCOME')) assert.equal(gateway.status, 'rejected', 'the gateway refuses the link');
  });
}

test('an absent probe (deleted before the gateway reads it) and shm off on either side fall back', async (t) => {
  const dir = await tempDir(t);
  const edgeShm = setup('edge', dir, 1001);
  const vanishing: ShmHandshake = {
    probe: async () => {
      const probe = await edgeShm.probe();
      await probe?.discard();
      return probe;
    },
    answer: (offer) => edgeShm.answer(offer),
    ready: (pairId) => edgeShm.ready(pairId),
  };
  for (const [edgeHooks, gatewayHooks] of [
    [vanishing, setup('gateway', dir, 1002)],
    [undefined, setup('gateway', dir, 1002)], // edge with shm off (or an older edge): no offer
    [edgeShm, undefined], // gateway with shm off (or an older gateway): a decoy, never a proof
  ] as const) {
    const { a, b } = createLinkPair();
    const gatewaySide = side(gatewayHooks);
    const [edge, gateway] = await Promise.all([establishAsEdge(a, side(edgeHooks).options), establishAsGateway(b, gatewaySide.options)]);
    assert.equal(edge.shmPairId, undefined, 'edge: no shm');
    assert.equal(gateway.shmPairId, undefined, 'gateway: no shm');
    await assertLinkUp(edge, gatewaySide);
  }
  assert.deepEqual(await probeFiles(dir), [], 'probe files must be discarded');
});

test('the shm proof is keyed and bound to both nonces; a peer without the secret cannot tell a decoy from a proof', async (t) => {
  const dir = await tempDir(t);
  const [edgeNonce, gatewayNonce] = [newNonce(), newNonce()];
  const probeProof = randomBytes(32);
  const proof = computeShmProof(SECRET, edgeNonce, gatewayNonce, probeProof);
  assert.ok(verifyShmProof(SECRET, edgeNonce, gatewayNonce, probeProof, proof), 'a genuine proof verifies');
  assert.ok(!verifyShmProof(Buffer.from('other secret'), edgeNonce, gatewayNonce, probeProof, proof), 'another secret does not verify');
  assert.ok(!verifyShmProof(SECRET, gatewayNonce, edgeNonce, probeProof, proof), 'nonces are not interchangeable');
  assert.ok(!verifyShmProof(SECRET, edgeNonce, newNonce(), probeProof, proof), 'a proof cannot be replayed in another handshake');
  assert.ok(!verifyShmProof(SECRET, edgeNonce, gatewayNonce, randomBytes(32), proof), 'the proof depends on the nonce file');

  // A scripted edge without the secret offers a real probe file and then a missing one: the CHALLENGE
  // has the same shape both times, and the link is refused at AUTH.
  const edgeShm = setup('edge', dir, 1001);
  const real = (await edgeShm.probe())!;
  const shapes: string[] = [];
  for (const offer of [real.offer, { ...real.offer, probeName: `probe-${randomBytes(16).toString('hex')}` }]) {
    const { a, b } = createLinkPair();
    const frames: Frame[] = [];
    a.onMessage = (data) => frames.push(decodeFrame(data, 1 << 20));
    const gateway = establishAsGateway(b, side(setup('gateway', dir, 1002)).options).catch((e: Error) => e);
    a.send(encodeFrame({ type: FrameType.HELLO, flags: 0, frameClass: 0, streamId: 0, seq: 0, payload: encodeHello({ version: PROTOCOL_VERSION, instanceId: 'intruder', nonce: newNonce(), ...testSettings(), shm: offer }) } as Frame), () => {});
    await until(() => frames.length > 0, 'the CHALLENGE');
    const challenge = decodeJson(frames[0]!.payload);
    shapes.push(`${typeof challenge.shmProof}:${Buffer.from(String(challenge.shmProof), 'base64').length}`);
    a.send(encodeFrame({ type: FrameType.AUTH, flags: 0, frameClass: 0, streamId: 0, seq: 0, payload: encodeJson({ proof: 'AAAA', shm: true }) } as Frame), () => {});
    const result = await gateway;
    assert.ok(result instanceof Error, 'an edge without the secret is refused');
  }
  assert.deepEqual(shapes, ['string:32', 'string:32']);
  await real.discard();
});

test('with shm negotiated, a large message on the link moves through a segment; the segment is reclaimed', async (t) => {
  const dir = await tempDir(t);
  const edgeShm = setup('edge', dir, 1001);
  const gatewayShm = setup('gateway', dir, 1002);
  const [edgePairs, gatewayPairs] = [new PayloadPairs(config(dir), SECRET, log), new PayloadPairs(config(dir), SECRET, log)];
  t.after(async () => {
    await edgePairs.close();
    await gatewayPairs.close();
  });
  const { a, b } = createLinkPair();
  // Both sides derive the pair's hash seed from the same (edge id, gateway id), as the roles do.
  const edgeSide = side(edgeShm, (n) => ({ blobs: edgePairs.planeFor(edgeSide.options.instanceId, n.peerId, n.peerId, n.peer.maxFrameBytes, edgeShm.segmentsFor(n.shmPairId)) }));
  const gatewaySide = side(gatewayShm, (n) => ({ blobs: gatewayPairs.planeFor(n.peerId, gatewaySide.options.instanceId, n.peerId, n.peer.maxFrameBytes, gatewayShm.segmentsFor(n.shmPairId)) }));
  const [edge] = await Promise.all([establishAsEdge(a, edgeSide.options), establishAsGateway(b, gatewaySide.options)]);
  assert.ok(edge.shmPairId, 'shm must be negotiated');
  const stream = edge.session.openStream(encodeJson({ sessionId: 's1', path: '/ws' }));
  stream.bind(new RecordingHandler());
  const big = randomBytes(1024 * 1024 + 17);
  stream.sendMessage(big, false);
  await until(() => gatewaySide.acceptor.streams[0]?.handler.messages.length === 1, 'the gateway to receive the blob', 10_000);
  assert.ok(gatewaySide.acceptor.streams[0]!.handler.messages[0]!.data.equals(big), 'the bytes arrive intact');
  const sent = edgePairs.metrics();
  const received = gatewayPairs.metrics();
  assert.equal(sent.shmBlobsSent, 1, `the blob goes through shm: ${JSON.stringify(sent)}`);
  assert.equal(received.shmBytesReceived, big.length, `the gateway read it from the segment: ${JSON.stringify(received)}`);
  const linkBytes = a.sent.reduce((n, f) => n + f.length, 0);
  assert.ok(linkBytes < 64 * 1024, `only a reference crossed the link (${linkBytes} bytes)`);
  await until(() => edgeShm.metrics().shmOutstandingSegments === 0, 'the writer to release the segment on ACK');
  const left = (await fs.readdir(join(dir, SHM_SUBDIR, edge.shmPairId))).filter((name) => name.endsWith('.seg'));
  assert.deepEqual(left, [], 'the consumed segment is gone');
});

test('start-up sweep: a restarted writer removes its own leftovers, not a live peer\'s fresh segments', async (t) => {
  const dir = await tempDir(t);
  const before = setup('edge', dir, 1001);
  const peer = setup('gateway', dir, 1002);
  const [mine, theirs] = [await before.channel('pairA'), await peer.channel('pairA')];
  assert.ok(mine && theirs, 'both open');
  const leftover = (await mine.write(randomBytes(1000)))!;
  const live = (await theirs.write(randomBytes(1000)))!;
  const restarted = setup('edge', dir, 1001); // same role and port: same writer id
  assert.equal(restarted.writerId, before.writerId);
  await restarted.sweep();
  const names = await fs.readdir(join(dir, SHM_SUBDIR, 'pairA'));
  assert.ok(!names.includes(leftover), 'the previous life\'s segment is swept');
  assert.ok(names.includes(live), 'another writer\'s fresh segment is kept');
  // A sweep that removed an empty pair directory does not break a live writer: it recreates it.
  await fs.rm(join(dir, SHM_SUBDIR, 'pairA'), { recursive: true });
  assert.ok(await theirs.write(randomBytes(1000)), 'a write recreates the swept pair directory');
});
