// Child process for socket-reset.test.ts: resets a socket whose FIN is under way (end() called, the
// shutdown not yet run by libuv), closes everything else and then has nothing left to do, so it must exit
// by itself. Prints one JSON line per event. Scenario (argv[2]):
// - helper: net socket, end() then resetOrDestroy() in the same turn;
// - mirror-close: a ws connection whose socket is ending, mirrorClose() with EndKind.RESET (the proxies'
//   path when an endpoint's connection was reset).
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { resetOrDestroy } from '../../src/net/socket-reset.js';
import { mirrorClose } from '../../src/net/ws-close.js';
import { EndKind } from '../../src/link/frame.js';

const say = (event: string, extra: Record<string, unknown> = {}) => console.log(JSON.stringify({ event, ...extra }));

function helper(): void {
  const server = net.createServer((peer) => {
    peer.on('error', () => {});
    peer.resume();
  });
  server.listen(0, '127.0.0.1', () => {
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => {
      socket.on('error', (error: NodeJS.ErrnoException) => say('error', { code: error.code }));
      socket.on('close', () => say('closed'));
      socket.end();
      resetOrDestroy(socket);
      server.close(() => say('server closed'));
    });
  });
}

function mirrorCloseReset(): void {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`);
    client.on('error', () => {});
    client.on('close', () => say('client closed'));
  });
  wss.on('connection', (ws) => {
    const socket = (ws as unknown as { _socket: net.Socket })._socket;
    socket.on('error', (error: NodeJS.ErrnoException) => say('error', { code: error.code }));
    socket.on('close', () => say('closed'));
    socket.end();
    mirrorClose(ws, 1006, '', EndKind.RESET);
    wss.close(() => say('server closed'));
  });
}

const scenario = process.argv[2];
if (scenario === 'helper') helper();
else if (scenario === 'mirror-close') mirrorCloseReset();
else throw new Error(`unknown scenario ${scenario}`);
