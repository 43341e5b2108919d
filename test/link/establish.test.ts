// The link handshake (handshake.ts pure functions, establish.ts driver) over the in-memory pair: a real
// edge against a real gateway, and each against a scripted peer that lies, stalls or sends garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AccelError, ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeJson, encodeFrame, encodeJson, type Frame } from '../../src/link/frame.js';
import { establishAsEdge, establishAsGateway, type EstablishOptions, type Established } from '../../src/link/establish.js';
import { PROTOCOL_VERSION, computeProof, decodeHello, encodeHello, newNonce, verifyProof, type Hello } from '../../src/link/handshake.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingHandler, StreamAcceptor, createLinkPair, testSettings, until, type PipeEnd } from '../helpers/link-pair.js';

const SECRET = Buffer.from('correct horse battery staple');
const HANDSHAKE_TIMEOUT_MS = 5000;

function options(overrides: Partial<EstablishOptions> & { acceptor?: StreamAcceptor } = {}): EstablishOptions {
  const { acceptor, ...rest } = overrides;
  return {
    secret: SECRET,
    local: testSettings({ capabilities: ['codec-v1', 'trace'] }),
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    instanceId: 'test-instance',
    session: () => ({
      maxMessageBytes: 1 << 20, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000, sendHighWaterBytes: 1 << 20,
      clock: new FakeClock(), onStreamOpen: acceptor?.accept,
    }),
    ...rest,
  };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, deadlineMs = 3000): Promise<AccelError> {
  let caught: unknown;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`expected ${code}, but the handshake was still pending after ${deadlineMs} ms`)), deadlineMs);
  });
  try {
    await Promise.race([promise.then(() => assert.fail(`expected ${code}, but the handshake succeeded`), (error: unknown) => (caught = error)), deadline]);
  } finally {
    clearTimeout(timer);
  }
  assert.ok(caught instanceof AccelError, `expected AccelError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const frameTypes = (end: PipeEnd): number[] => end.sent.map((b) => b[0]!);
const sentFrames = (end: PipeEnd): Frame[] => end.sent.map((b) => decodeFrame(b, 1 << 20));
function goawayCode(end: PipeEnd): number | undefined {
  const goaway = sentFrames(end).find((f) => f.type === FrameType.GOAWAY);
  return goaway ? decodeCodeReason(goaway.payload).code : undefined;
}
const control = (type: number, payload: Uint8Array): Buffer => encodeFrame({ type: type as Frame['type'], flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload });

/** A scripted peer: collects the frames the other side sends, so the test can answer them by hand. */
function script(end: PipeEnd) {
  const frames: Frame[] = [];
  end.onMessage = (data) => frames.push(decodeFrame(data, 1 << 20));
  return {
    frames,
    async next(type: number): Promise<Frame> {
      await until(() => frames.length > 0, `a frame of type 0x${type.toString(16)}`);
      const frame = frames.shift()!;
      assert.equal(frame.type, type, `scripted peer expected 0x${type.toString(16)}, got 0x${frame.type.toString(16)}`);
      return frame;
    },
    send(type: number, payload: Uint8Array): void {
      end.send(control(type, payload), () => {});
    },
  };
}

function helloFrom(nonce: string, overrides: Partial<Hello> = {}): Hello {
  return { version: PROTOCOL_VERSION, instanceId: 'scripted-edge', nonce, ...testSettings(), ...overrides };
}

test('edge and gateway establish a link: same linkId, ids, settings and the common capabilities', async () => {
  const { a, b } = createLinkPair();
  const acceptor = new StreamAcceptor();
  const gatewaySettings = testSettings({ windowBytes: 32 * 1024, maxFrameBytes: 8 * 1024, capabilities: ['codec-v1', 'payload-v1'] });
  const [edge, gateway] = await Promise.all([
    establishAsEdge(a, options({ instanceId: 'edge-1' })),
    establishAsGateway(b, options({ instanceId: 'gw-1', local: gatewaySettings, acceptor })),
  ]);
  assert.equal(edge.linkId, gateway.linkId);
  assert.match(edge.linkId, /^[0-9a-f-]{36}$/);
  assert.equal(edge.peerId, 'gw-1');
  assert.equal(gateway.peerId, 'edge-1');
  assert.deepEqual(edge.capabilities, ['codec-v1']);
  assert.deepEqual(gateway.capabilities, ['codec-v1']);
  assert.equal(edge.peer.windowBytes, 32 * 1024);
  assert.equal(edge.peer.maxFrameBytes, 8 * 1024);
  assert.equal(gateway.peer.windowBytes, testSettings().windowBytes);
  assert.deepEqual(frameTypes(a), [FrameType.HELLO, FrameType.AUTH]);
  assert.deepEqual(frameTypes(b), [FrameType.CHALLENGE, FrameType.WELCOME]);

  // The established sessions carry a stream both ways.
  const stream = edge.session.openStream(encodeJson({ sessionId: 's1', path: '/ws' }));
  const edgeHandler = new RecordingHandler();
  stream.bind(edgeHandler);
  stream.sendMessage(Buffer.from('hello gateway'), true);
  await until(() => acceptor.streams[0]?.handler.messages.length === 1, 'the gateway to receive the message');
  assert.equal(acceptor.streams[0]!.handler.messages[0]!.data.toString(), 'hello gateway');
  acceptor.streams[0]!.stream.sendMessage(Buffer.from([1, 2, 3]), false);
  await until(() => edgeHandler.messages.length === 1, 'the edge to receive the reply');
  assert.deepEqual([...edgeHandler.messages[0]!.data], [1, 2, 3]);
  assert.equal(edgeHandler.messages[0]!.isText, false);
});

test('the secret never crosses the wire, and proofs are bound to role and both nonces', async () => {
  const { a, b } = createLinkPair();
  await Promise.all([establishAsEdge(a, options()), establishAsGateway(b, options())]);
  for (const frame of [...a.sent, ...b.sent]) assert.equal(frame.indexOf(SECRET), -1);
  const [edgeNonce, gatewayNonce] = [newNonce(), newNonce()];
  const proof = computeProof(SECRET, 'edge', edgeNonce, gatewayNonce);
  assert.ok(verifyProof(SECRET, 'edge', edgeNonce, gatewayNonce, proof), 'verifyProof(SECRET, \'edge\', edgeNonce, gatewayNonce, proof)');
  assert.ok(!verifyProof(SECRET, 'gateway', edgeNonce, gatewayNonce, proof), 'an edge proof cannot be reflected as a gateway proof');
  assert.ok(!verifyProof(SECRET, 'edge', gatewayNonce, edgeNonce, proof), 'nonces are not interchangeable');
  assert.ok(!verifyProof(Buffer.from('other'), 'edge', edgeNonce, gatewayNonce, proof), '!verifyProof(Buffer.from(\'other\'), \'edge\', edgeNonce, gatewayNonce, proof)');
  assert.ok(!verifyProof(SECRET, 'edge', edgeNonce, gatewayNonce, proof.slice(0, 10)), '!verifyProof(SECRET, \'edge\', edgeNonce, gatewayNonce, proof.slice(0, 10))');
  assert.ok(!verifyProof(SECRET, 'edge', edgeNonce, gatewayNonce, 42), '!verifyProof(SECRET, \'edge\', edgeNonce, gatewayNonce, 42)');
});

for (const wrongSide of ['edge', 'gateway'] as const) {
  test(`wrong secret on the ${wrongSide}: both sides fail with HYPHA_ACCEL_ERR_AUTH and the link is closed`, async () => {
    const { a, b } = createLinkPair();
    const wrong = Buffer.from('not the secret');
    const edge = establishAsEdge(a, options({ secret: wrongSide === 'edge' ? wrong : SECRET }));
    const gateway = establishAsGateway(b, options({ secret: wrongSide === 'gateway' ? wrong : SECRET }));
    await rejectsWith(edge, 'HYPHA_ACCEL_ERR_AUTH');
    await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_AUTH');
    // The edge checks the gateway's proof first, so it never sends its own proof to an unproven gateway.
    assert.deepEqual(frameTypes(a), [FrameType.HELLO, FrameType.GOAWAY]);
    assert.equal(goawayCode(a), ERROR_CODES.HYPHA_ACCEL_ERR_AUTH.goaway);
    assert.equal(a.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_AUTH.wsClose);
    assert.ok(!frameTypes(b).includes(FrameType.WELCOME), '!frameTypes(b).includes(FrameType.WELCOME)');
  });
}

test('a gateway that cannot prove the secret is refused by the edge before the edge proves itself', async () => {
  const { a, b } = createLinkPair();
  const gateway = script(b);
  const edge = establishAsEdge(a, options());
  const hello = decodeHello((await gateway.next(FrameType.HELLO)).payload);
  gateway.send(FrameType.CHALLENGE, encodeJson({
    version: PROTOCOL_VERSION, gatewayId: 'impostor', nonce: newNonce(), ...testSettings(),
    proof: computeProof(Buffer.from('guess'), 'gateway', hello.nonce, newNonce()),
  }));
  await rejectsWith(edge, 'HYPHA_ACCEL_ERR_AUTH');
  assert.deepEqual(frameTypes(a), [FrameType.HELLO, FrameType.GOAWAY], 'no AUTH frame was sent to the impostor');
  // Reflecting the edge's own role does not work either: a proof computed for role "edge" is refused.
  const { a: a2, b: b2 } = createLinkPair();
  const gateway2 = script(b2);
  const edge2 = establishAsEdge(a2, options());
  const hello2 = decodeHello((await gateway2.next(FrameType.HELLO)).payload);
  const nonce2 = newNonce();
  gateway2.send(FrameType.CHALLENGE, encodeJson({ version: PROTOCOL_VERSION, gatewayId: 'x', nonce: nonce2, ...testSettings(), proof: computeProof(SECRET, 'edge', hello2.nonce, nonce2) }));
  await rejectsWith(edge2, 'HYPHA_ACCEL_ERR_AUTH');
});

test('an edge with a bad proof is refused by the gateway: GOAWAY(AUTH), no WELCOME', async () => {
  const { a, b } = createLinkPair();
  const edge = script(a);
  const gateway = establishAsGateway(b, options());
  edge.send(FrameType.HELLO, encodeHello(helloFrom(newNonce())));
  const challenge = decodeJson((await edge.next(FrameType.CHALLENGE)).payload);
  assert.equal(challenge.version, PROTOCOL_VERSION);
  edge.send(FrameType.AUTH, encodeJson({ proof: Buffer.alloc(32).toString('base64') }));
  await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_AUTH');
  const goaway = await edge.next(FrameType.GOAWAY);
  assert.equal(decodeCodeReason(goaway.payload).code, ERROR_CODES.HYPHA_ACCEL_ERR_AUTH.goaway);
  assert.equal(b.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_AUTH.wsClose);
});

test('wrong magic or version in HELLO: the gateway refuses with HYPHA_ACCEL_ERR_VERSION', async (t) => {
  const cases: Array<[string, (hello: Buffer) => Buffer]> = [
    ['wrong magic', (hello) => Buffer.concat([Buffer.from('HTTP'), hello.subarray(4)])],
    ['version 2', (hello) => { const copy = Buffer.from(hello); copy.writeUInt16BE(PROTOCOL_VERSION + 1, 4); return copy; }],
    ['version 0', (hello) => { const copy = Buffer.from(hello); copy.writeUInt16BE(0, 4); return copy; }],
    ['too short for magic and version', () => Buffer.from('HYA')],
  ];
  for (const [name, mutate] of cases) {
    await t.test(name, async () => {
      const { a, b } = createLinkPair();
      const edge = script(a);
      const gateway = establishAsGateway(b, options());
      edge.send(FrameType.HELLO, mutate(encodeHello(helloFrom(newNonce()))));
      await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_VERSION');
      const goaway = await edge.next(FrameType.GOAWAY);
      assert.equal(decodeCodeReason(goaway.payload).code, ERROR_CODES.HYPHA_ACCEL_ERR_VERSION.goaway);
      assert.equal(b.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_VERSION.wsClose);
    });
  }
});

test('a real edge meeting a gateway of another version fails with HYPHA_ACCEL_ERR_VERSION, and so does a real gateway refusal', async () => {
  const { a, b } = createLinkPair();
  const gateway = script(b);
  const edge = establishAsEdge(a, options());
  const hello = decodeHello((await gateway.next(FrameType.HELLO)).payload);
  const nonce = newNonce();
  gateway.send(FrameType.CHALLENGE, encodeJson({ version: PROTOCOL_VERSION + 1, gatewayId: 'g', nonce, ...testSettings(), proof: computeProof(SECRET, 'gateway', hello.nonce, nonce) }));
  await rejectsWith(edge, 'HYPHA_ACCEL_ERR_VERSION');
  assert.equal(goawayCode(a), ERROR_CODES.HYPHA_ACCEL_ERR_VERSION.goaway);

  // An edge told GOAWAY(VERSION) during the handshake reports VERSION too.
  const p2 = createLinkPair();
  const gateway2 = script(p2.b);
  const edge2 = establishAsEdge(p2.a, options());
  await gateway2.next(FrameType.HELLO);
  gateway2.send(FrameType.GOAWAY, Buffer.from([0, ERROR_CODES.HYPHA_ACCEL_ERR_VERSION.goaway, 0x78]));
  await rejectsWith(edge2, 'HYPHA_ACCEL_ERR_VERSION');
});

test('handshake timeout (fake clock): the edge fails with HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT exactly at the deadline', async () => {
  const clock = new FakeClock();
  const { a, b } = createLinkPair();
  script(b); // a gateway that never answers
  let settled = false;
  const edge = establishAsEdge(a, options({ clock }));
  edge.then(() => (settled = true), () => (settled = true));
  await until(() => a.sent.length === 1, 'HELLO to be sent');
  clock.advance(HANDSHAKE_TIMEOUT_MS - 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'still waiting one millisecond before the deadline');
  clock.advance(1);
  await rejectsWith(edge, 'HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT');
  assert.equal(a.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT.wsClose);
  assert.equal(goawayCode(a), ERROR_CODES.HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT.goaway);
  assert.equal(clock.pendingTimers, 0, 'no timer left behind');
});

test('handshake timeout on the gateway side, and a completed handshake leaves no handshake timer', async () => {
  const clock = new FakeClock();
  const { b } = createLinkPair();
  const gateway = establishAsGateway(b, options({ clock }));
  clock.advance(HANDSHAKE_TIMEOUT_MS);
  await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_HANDSHAKE_TIMEOUT');

  const clock2 = new FakeClock();
  const p = createLinkPair();
  const established: Established[] = await Promise.all([establishAsEdge(p.a, options({ clock: clock2 })), establishAsGateway(p.b, options({ clock: clock2 }))]);
  assert.equal(clock2.pendingTimers, 2, 'only the two sessions\' keep-alive intervals remain');
  for (const link of established) link.session.goAway('test over');
  assert.equal(clock2.pendingTimers, 0);
});

test('a clock given by the session factory is the one the established session uses', async () => {
  // BUG (src/link/establish.ts HandshakeReader.finish): `clock: this.options.clock` overwrites the clock the
  // `session` factory returned, even when EstablishOptions.clock is undefined: the session silently falls
  // back to the system clock.
  const sessionClock = new FakeClock();
  const { a, b } = createLinkPair();
  const withFactoryClock = (): EstablishOptions => ({
    ...options(),
    session: () => ({ maxMessageBytes: 1 << 20, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000, sendHighWaterBytes: 1 << 20, clock: sessionClock }),
  });
  const links = await Promise.all([establishAsEdge(a, withFactoryClock()), establishAsGateway(b, withFactoryClock())]);
  try {
    assert.equal(sessionClock.pendingTimers, 2, 'each session scheduled its keep-alive on the factory clock');
  } finally {
    for (const link of links) link.session.goAway('test over');
  }
});

test('garbage during the handshake: the gateway fails with BAD_FRAME and says so in a GOAWAY', async () => {
  const { a, b } = createLinkPair();
  const edge = script(a);
  const gateway = establishAsGateway(b, options());
  a.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'), () => {});
  await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_BAD_FRAME');
  const goaway = await edge.next(FrameType.GOAWAY);
  assert.equal(decodeCodeReason(goaway.payload).code, ERROR_CODES.HYPHA_ACCEL_ERR_BAD_FRAME.goaway);
  assert.equal(b.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_BAD_FRAME.wsClose);
});

test('garbage during the handshake: the edge fails with BAD_FRAME on a garbled CHALLENGE', async () => {
  const { a, b } = createLinkPair();
  const gateway = script(b);
  const edge = establishAsEdge(a, options());
  await gateway.next(FrameType.HELLO);
  gateway.send(FrameType.CHALLENGE, Buffer.from('{"version":1,'));
  await rejectsWith(edge, 'HYPHA_ACCEL_ERR_BAD_FRAME');
});

test('a well-formed frame out of order during the handshake is HYPHA_ACCEL_ERR_PROTOCOL', async () => {
  const { a, b } = createLinkPair();
  const edge = script(a);
  const gateway = establishAsGateway(b, options());
  edge.send(FrameType.PING, Buffer.alloc(8));
  await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_PROTOCOL');
});

test('the link closing during the handshake rejects the handshake', async () => {
  const { a, b } = createLinkPair();
  script(b);
  const edge = establishAsEdge(a, options());
  await until(() => a.sent.length === 1, 'HELLO');
  b.dropSocket();
  const error = await rejectsWith(edge, 'HYPHA_ACCEL_ERR_PROTOCOL');
  assert.match(error.message, /closed during handshake/);
});

test('HELLO settings below the minimums are refused with BAD_FRAME', async () => {
  for (const bad of [{ windowBytes: 10 }, { maxFrameBytes: 100 }, { windowBytes: 1.5e3 + 0.5 }, { capabilities: 'codec-v1' as unknown as string[] }]) {
    const { a, b } = createLinkPair();
    const edge = script(a);
    const gateway = establishAsGateway(b, options());
    edge.send(FrameType.HELLO, encodeHello(helloFrom(newNonce(), bad)));
    await rejectsWith(gateway, 'HYPHA_ACCEL_ERR_BAD_FRAME');
  }
});

test('decodeHello throws only AccelError (VERSION or BAD_FRAME) on any body, including JSON null', () => {
  // BUG (src/link/handshake.ts decodeHello): a HELLO whose JSON body is `null` makes checkSettings
  // destructure null and throw a TypeError instead of AccelError(BAD_FRAME).
  const header = encodeHello(helloFrom(newNonce())).subarray(0, 6);
  const bodies = ['null', '1', '"x"', '[]', '{}', 'true', '{"windowBytes":null}'];
  for (const body of bodies) {
    assert.throws(() => decodeHello(Buffer.concat([header, Buffer.from(body)])), (error: unknown) => {
      assert.ok(error instanceof AccelError, `HELLO body ${body} threw ${String(error)}`);
      assert.equal(error.code, 'HYPHA_ACCEL_ERR_BAD_FRAME');
      return true;
    });
  }
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.json().map((j) => Buffer.concat([header, Buffer.from(j)]))), (bytes) => {
      try {
        decodeHello(bytes);
      } catch (error) {
        assert.ok(error instanceof AccelError && (error.code === 'HYPHA_ACCEL_ERR_VERSION' || error.code === 'HYPHA_ACCEL_ERR_BAD_FRAME'), String(error));
      }
    }),
  );
});

test('key rotation: keys with ids, the first the edge prefers that the gateway holds is used; no common key is refused', async () => {
  const k1 = { id: 'k1', secret: Buffer.from('the first key, old one') };
  const k2 = { id: 'k2', secret: Buffer.from('the second key, new one') };
  const cases: [string, typeof k1[], typeof k1[], string | undefined][] = [
    ['gateway has both, edge still old', [k1], [k1, k2], 'k1'],
    ['gateway has both, edge moved to new', [k2, k1], [k1, k2], 'k2'],
    ['edge has both, gateway only new', [k1, k2], [k2], 'k2'],
    ['no key in common', [k1], [k2], undefined],
  ];
  for (const [what, edgeKeys, gatewayKeys, expected] of cases) {
    const { a, b } = createLinkPair();
    const results = await Promise.allSettled([
      establishAsEdge(a, options({ keys: () => edgeKeys })),
      establishAsGateway(b, options({ keys: () => gatewayKeys })),
    ]);
    if (expected === undefined) {
      for (const result of results) assert.equal((result as PromiseRejectedResult).reason?.code, 'HYPHA_ACCEL_ERR_AUTH', what);
      continue;
    }
    assert.equal(results[0].status, 'fulfilled', what);
    assert.equal(results[1].status, 'fulfilled', what);
  }
});

test('the gateway slot (host, port, worker) reaches the edge inside the signed transcript; an older gateway sends none', async () => {
  {
    const { a, b } = createLinkPair();
    const [edge] = await Promise.all([establishAsEdge(a, options({ instanceId: 'edge-1' })), establishAsGateway(b, options({ instanceId: 'gw-1', slot: 'host-a:8080/0' }))]);
    assert.equal(edge.peerSlot, 'host-a:8080/0');
  }
  {
    const { a, b } = createLinkPair();
    const [edge] = await Promise.all([establishAsEdge(a, options({ instanceId: 'edge-1' })), establishAsGateway(b, options({ instanceId: 'gw-1' }))]);
    assert.equal(edge.peerSlot, undefined);
  }
  {
    // A relay that moves the instance into another slot (so an edge would close sessions it could resume) fails the proof.
    const { a, b } = createLinkPair();
    b.outbound = (data) => {
      const frame = decodeFrame(data, 1 << 20);
      if (frame.type !== FrameType.CHALLENGE) return data;
      const body = decodeJson(frame.payload);
      body.gatewaySlot = 'host-b:8080/0';
      return encodeFrame({ ...frame, payload: encodeJson(body) } as Frame);
    };
    const [edge] = await Promise.allSettled([establishAsEdge(a, options({ instanceId: 'edge-1' })), establishAsGateway(b, options({ instanceId: 'gw-1', slot: 'host-a:8080/0' }))]);
    assert.equal(edge.status, 'rejected');
    assert.equal((edge as PromiseRejectedResult).reason.code, 'HYPHA_ACCEL_ERR_AUTH');
  }
});
