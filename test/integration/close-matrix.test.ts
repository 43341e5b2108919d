// The close-behaviour matrix with scripted raw peers: for every way one endpoint can end its connection,
// what the other endpoint observes through edge -> gateway equals what it observes directly: the messages
// before the end, the Close code and reason (or none), whether its TCP connection ends promptly without
// it answering the Close or waits for its answer, and FIN versus reset. Then a new session works.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { rawClientConnect, startRawServer, type Ending, type RawConnection } from '../helpers/raw-peers.js';

/** How long an endpoint that does not answer a Close watches whether its TCP connection ends anyway. */
const UNANSWERED_WATCH_MS = 1500;

const ENDINGS: Ending[] = ['handshake', 'close-then-drop', 'drop', 'reset', 'large-then-close-drop', 'drop-mid-large'];

/** What was expected of each ending directly (also checked, so both arms cannot agree on nonsense). */
const DIRECT: Record<Ending, { close: boolean; promptEnd: boolean; how: string; messages: number }> = {
  handshake: { close: true, promptEnd: false, how: 'fin', messages: 0 },
  'close-then-drop': { close: true, promptEnd: true, how: 'fin', messages: 0 },
  drop: { close: false, promptEnd: true, how: 'fin', messages: 0 },
  reset: { close: false, promptEnd: true, how: 'reset', messages: 0 },
  'large-then-close-drop': { close: true, promptEnd: true, how: 'fin', messages: 1 },
  'drop-mid-large': { close: false, promptEnd: true, how: 'fin', messages: 0 },
};

interface Summary {
  messages: number[];
  close: { code: number; reason: string } | null;
  /** The TCP connection ended without this endpoint answering a Close. */
  promptEnd: boolean;
  how: string;
  /** ms from the Close (or from the start when none came) to the TCP end, for the report. */
  endDelayMs: number;
}

/** Watches `conn` until its TCP connection ends; answers a Close only after UNANSWERED_WATCH_MS. */
async function observeEnd(conn: RawConnection): Promise<Summary> {
  const o = conn.observed;
  await conn.until((x) => x.close !== undefined || x.tcpEnd !== undefined, 'a Close or the TCP end');
  let promptEnd = true;
  if (!o.tcpEnd) {
    // A busy endpoint: does its TCP connection end although it has not answered the Close yet?
    try {
      await conn.until((x) => x.tcpEnd !== undefined, 'the TCP end', UNANSWERED_WATCH_MS);
    } catch {
      promptEnd = false;
      conn.answerClose();
      await conn.until((x) => x.tcpEnd !== undefined, 'the TCP end after answering the Close');
    }
  }
  return {
    messages: o.messages,
    close: o.close ? { code: o.close.code, reason: o.close.reason } : null,
    promptEnd,
    how: o.tcpEnd!.how,
    endDelayMs: Math.round(o.tcpEnd!.atMs - (o.close?.atMs ?? 0)),
  };
}

function comparable(s: Summary): Omit<Summary, 'endDelayMs'> {
  const { endDelayMs: _ignored, ...rest } = s;
  return rest;
}

function checkDirect(ending: Ending, s: Summary): void {
  const want = DIRECT[ending];
  assert.equal(s.close !== null, want.close, `${ending} direct: Close frame`);
  assert.equal(s.promptEnd, want.promptEnd, `${ending} direct: prompt TCP end`);
  assert.equal(s.how, want.how, `${ending} direct: how TCP ended`);
  assert.equal(s.messages.length, want.messages, `${ending} direct: messages`);
}

describe('close matrix with scripted peers', () => {
  let pair: AccelPair;
  let server: Awaited<ReturnType<typeof startRawServer>>;
  const observers = new Map<string, (conn: RawConnection) => void>();
  const figures: Record<string, unknown> = {};

  before(async () => {
    server = await startRawServer((conn, path) => {
      const query = new URL(path, 'http://x').searchParams;
      const role = query.get('role');
      if (role === 'end') {
        // End as scripted once the client says "go" (its session is then open end to end).
        void conn.until((o) => o.messages.length > 0, 'go').then(() => conn.end(query.get('ending') as Ending), () => {});
      } else if (role === 'observe') {
        observers.get(query.get('id')!)?.(conn);
      } else if (role === 'echo') {
        conn.socket.on('data', () => {});
        void conn.until((o) => o.messages.length > 0, 'a message').then(() => conn.sendText(`echo ${conn.observed.messages[0]}`), () => {});
      }
    });
    // The payload plane stays in the path on loopback, so large messages take the blob route too.
    const plane = { payloadBypassMbps: 0 };
    pair = await startAccelPair(server.url, { edge: plane, gateway: plane });
  });
  after(async () => {
    console.log(`close matrix: ms from Close (or start) to TCP end ${JSON.stringify(figures)}`);
    await pair?.close();
    await server?.close();
  });

  async function serverEnds(target: string, ending: Ending): Promise<Summary> {
    const client = await rawClientConnect(target, `/ws?role=end&ending=${ending}`);
    client.sendText('go');
    return observeEnd(client);
  }

  let nextId = 0;
  async function clientEnds(target: string, ending: Ending): Promise<Summary> {
    const id = String(nextId++);
    const accepted = new Promise<RawConnection>((resolve) => observers.set(id, resolve));
    const client = await rawClientConnect(target, `/ws?role=observe&id=${id}`);
    const serverSide = await accepted;
    observers.delete(id);
    client.end(ending, 4000, 'client scripted end');
    const seen = await observeEnd(serverSide);
    serverSide.socket.end(); // a server closes its side once the client's side ended (a half-close otherwise)
    await client.until((o) => o.tcpEnd !== undefined, 'the client TCP end');
    return seen;
  }

  async function reconnectWorks(): Promise<void> {
    const client = await rawClientConnect(pair.edgeUrl, '/ws?role=echo');
    client.sendText('hello');
    await client.until((o) => o.messages.length > 0, 'the echo');
    assert.deepEqual(client.observed.messages, ['echo 5'.length]);
    client.end('handshake', 1000, '');
    await client.until((o) => o.tcpEnd !== undefined, 'the TCP end');
  }

  for (const ending of ENDINGS) {
    test(`server ends with ${ending}: the client sees the same through the pair`, async () => {
      const direct = await serverEnds(server.url, ending);
      checkDirect(ending, direct);
      const viaPair = await serverEnds(pair.edgeUrl, ending);
      figures[`server ${ending}`] = { direct: direct.endDelayMs, pair: viaPair.endDelayMs };
      assert.deepEqual(comparable(viaPair), comparable(direct));
      await reconnectWorks();
    });
  }

  for (const ending of ENDINGS) {
    test(`client ends with ${ending}: the server sees the same through the pair`, async () => {
      const direct = await clientEnds(server.url, ending);
      const viaPair = await clientEnds(pair.edgeUrl, ending);
      figures[`client ${ending}`] = { direct: direct.endDelayMs, pair: viaPair.endDelayMs };
      assert.deepEqual(comparable(viaPair), comparable(direct));
      await reconnectWorks();
    });
  }
});
