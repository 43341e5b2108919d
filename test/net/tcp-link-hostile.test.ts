// A byte-stream link peer that announces a frame beyond the limit, or sends garbage instead of HELLO, is
// dropped without the gateway allocating the announced length; the gateway goes on serving.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';
import { LINK_UPGRADE_TOKEN } from '../../src/net/tcp-link-transport.js';
import { writeSecret } from '../helpers/accel-pair.js';

let gateway: GatewayHandle;
before(async () => {
  const secretFile = writeSecret();
  const config = loadConfig('gateway', { flags: { listen: '127.0.0.1:0', hyphaUrl: 'http://127.0.0.1:1', secretFile, adminListen: '' }, env: {} });
  gateway = await startGateway(config, { secret: readSecret(secretFile), log: createLogger('silent') });
});
after(async () => {
  await gateway.close(500);
});

/** Upgrades a raw socket to a byte-stream link, sends `bytes`, and resolves with what came back before the close. */
function sendAfterUpgrade(bytes: Buffer): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(gateway.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded && received.includes('\r\n\r\n')) {
        upgraded = true;
        socket.write(bytes);
      }
    });
    socket.on('close', () => resolve({ answer: received.toString('latin1'), closed: true }));
    socket.on('error', () => {});
    socket.write(`GET /.hypha-accel/link HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${LINK_UPGRADE_TOKEN}\r\n\r\n`);
  });
}

test('a length prefix beyond the limit drops the connection', async () => {
  const { answer, closed } = await sendAfterUpgrade(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols/);
  assert.ok(closed);
});

test('a well-formed frame that is not HELLO ends the handshake with GOAWAY and a close', async () => {
  const ping = Buffer.from('0000000c060000000000000000000000', 'hex'); // length 12, PING header
  const { answer, closed } = await sendAfterUpgrade(ping);
  assert.ok(closed);
  const afterHead = Buffer.from(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'latin1');
  assert.equal(afterHead[4], 0x05, 'the first frame back is a GOAWAY');
});

test('the gateway still answers afterwards', async () => {
  const res = await fetch(`${gateway.url}/.hypha-accel/no-such-path`).catch((error: Error) => error);
  assert.ok(!(res instanceof Error), 'HTTP still answered');
});
