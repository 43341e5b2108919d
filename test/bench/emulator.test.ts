// Behaviour test of the benchmark link emulator (bench/emulator): bytes arrive intact, one shared
// bottleneck splits between parallel flows, the added one-way delay matches the setting, and the
// "no deflate" arm really removes Sec-WebSocket-Extensions from upgrade requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { startLinkEmulator, type LinkEmulator } from '../../bench/emulator/link-emulator.js';
import type { QueueDiscipline } from '../../bench/emulator/profiles.js';

async function listen(onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;
  return { server, port: address.port };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

async function withEmulator<T>(emulator: LinkEmulator, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await emulator.close();
  }
}

test('bytes cross the shaped link intact, in both directions', async () => {
  const { server, port } = await listen((socket) => socket.pipe(socket));
  const emulator = await startLinkEmulator({
    target: { host: '127.0.0.1', port },
    shape: { oneWayDelayMs: 2, bandwidthBitsPerSec: 50_000_000, discipline: 'fq', queueBytes: 64 * 1024 },
  });
  await withEmulator(emulator, async () => {
    const payload = randomBytes(1024 * 1024 + 17);
    const socket = await connect(emulator.port);
    const received: Buffer[] = [];
    let receivedBytes = 0;
    const done = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        receivedBytes += chunk.length;
        if (receivedBytes >= payload.length) resolve();
      }),
    );
    socket.end(payload);
    await done;
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(digest(Buffer.concat(received)), digest(payload));
    const stats = emulator.stats();
    assert.equal(stats.up.bytesOut, payload.length);
    assert.equal(stats.down.bytesIn, payload.length);
    socket.destroy();
  });
  server.close();
});

for (const discipline of ['fq', 'fifo'] as QueueDiscipline[]) {
  test(`two parallel flows share one ${discipline} bottleneck about evenly`, async () => {
    const bandwidthBitsPerSec = 16_000_000; // 2 MB/s: ~1 s of shared transfer below
    const perConnection = new Map<net.Socket, number>();
    let total = 0;
    const measureBytes = 2 * 1024 * 1024;
    let snapshot: number[] | undefined;
    let firstByteMs = 0;
    let snapshotMs = 0;
    let onReached: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => {
      onReached = resolve;
    });
    const { server, port } = await listen((socket) => {
      perConnection.set(socket, 0);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        if (total === 0) firstByteMs = performance.now();
        perConnection.set(socket, (perConnection.get(socket) ?? 0) + chunk.length);
        total += chunk.length;
        if (!snapshot && total >= measureBytes) {
          snapshotMs = performance.now();
          snapshot = [...perConnection.values()];
          onReached();
        }
      });
    });
    const emulator = await startLinkEmulator({
      target: { host: '127.0.0.1', port },
      shape: { oneWayDelayMs: 5, bandwidthBitsPerSec, discipline, queueBytes: 128 * 1024 },
    });
    await withEmulator(emulator, async () => {
      const flows = await Promise.all([connect(emulator.port), connect(emulator.port)]);
      const chunk = Buffer.alloc(64 * 1024, 7);
      // Each flow offers far more than the link carries while the measurement runs.
      for (const socket of flows) {
        socket.on('error', () => undefined);
        for (let i = 0; i < 32; i += 1) socket.write(chunk);
      }
      await reached;
      const shares = (snapshot ?? []).map((bytes) => bytes / measureBytes);
      assert.equal(shares.length, 2, 'both flows reached the sink');
      for (const share of shares) {
        assert.ok(share > 0.4 && share < 0.6, `each flow gets about half (tolerance 0.4-0.6): ${shares.join(', ')}`);
      }
      // Shared, not per connection: together they cannot exceed the one bottleneck (5% slack for
      // the first piece's serialisation and timer resolution).
      const seconds = (snapshotMs - firstByteMs) / 1000;
      const bitsPerSec = ((measureBytes - 64 * 1024) * 8) / seconds;
      assert.ok(bitsPerSec < bandwidthBitsPerSec * 1.05, `aggregate ${bitsPerSec} bit/s within the bottleneck`);
      assert.ok(bitsPerSec > bandwidthBitsPerSec * 0.3, `aggregate ${bitsPerSec} bit/s is not stalled`);
      for (const socket of flows) socket.destroy();
    });
    server.close();
  });
}

test('added one-way delay is within 1 ms of the setting', async () => {
  const oneWayDelayMs = 20;
  const bandwidthBitsPerSec = 16_000_000;
  const messageBytes = 64;
  const { server, port } = await listen((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  });
  const emulator = await startLinkEmulator({
    target: { host: '127.0.0.1', port },
    shape: { oneWayDelayMs, bandwidthBitsPerSec, discipline: 'fifo', queueBytes: 64 * 1024 },
  });
  const roundTrips = async (targetPort: number, count: number): Promise<number[]> => {
    const socket = await connect(targetPort);
    const rtts: number[] = [];
    const message = Buffer.alloc(messageBytes, 1);
    for (let i = 0; i < count; i += 1) {
      let got = 0;
      const start = performance.now();
      const replied = new Promise<void>((resolve) => {
        const onData = (chunk: Buffer): void => {
          got += chunk.length;
          if (got >= messageBytes) {
            socket.off('data', onData);
            resolve();
          }
        };
        socket.on('data', onData);
      });
      socket.write(message);
      await replied;
      rtts.push(performance.now() - start);
    }
    socket.destroy();
    return rtts;
  };
  try {
    await withEmulator(emulator, async () => {
      // The fastest round trip of each kind: a loaded machine only ever adds to a sample (timers fire late,
      // the process waits for a core), so the minimum is what the emulator itself adds.
      const direct = Math.min(...(await roundTrips(port, 30)));
      const shaped = Math.min(...(await roundTrips(emulator.port, 30)));
      const serialisationMs = ((messageBytes * 8) / bandwidthBitsPerSec) * 1000;
      const measuredOneWayMs = (shaped - direct) / 2 - serialisationMs;
      assert.ok(
        Math.abs(measuredOneWayMs - oneWayDelayMs) <= 1,
        `one-way delay ${measuredOneWayMs.toFixed(3)} ms vs ${oneWayDelayMs} ms set`,
      );
    });
  } finally {
    server.close();
  }
});

test('strip option removes Sec-WebSocket-Extensions from upgrade requests only', async () => {
  const heads: string[] = [];
  const { server, port } = await listen((socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        heads.push(text);
        socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      }
    });
  });
  const emulator = await startLinkEmulator({ target: { host: '127.0.0.1', port }, profile: 'lan', stripWebSocketExtensions: true });
  await withEmulator(emulator, async () => {
    const upgrade =
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n';
    const plain = 'GET /health HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Extensions: kept\r\n\r\n';
    for (const request of [upgrade, plain]) {
      const socket = await connect(emulator.port);
      socket.resume();
      // Split the head across writes so the scanner has to reassemble it.
      socket.write(request.slice(0, 20));
      await new Promise((resolve) => setImmediate(resolve));
      socket.write(request.slice(20));
      await once(socket, 'end');
      socket.destroy();
    }
    assert.equal(heads.length, 2);
    assert.ok(!/sec-websocket-extensions/i.test(heads[0] ?? ''), heads[0]);
    assert.ok(/Sec-WebSocket-Key/.test(heads[0] ?? ''), '/Sec-WebSocket-Key/.test(heads[0] ?? \'\')');
    assert.ok(/Sec-WebSocket-Extensions: kept/.test(heads[1] ?? ''), '/Sec-WebSocket-Extensions: kept/.test(heads[1] ?? \'\')');
    const stats = emulator.stats();
    assert.equal(stats.upgradeRequests, 1);
    assert.equal(stats.upgradesOfferingDeflate, 1);
    assert.equal(stats.upgradesStripped, 1);
  });
  server.close();
});
