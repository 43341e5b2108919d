// The bulk relay A/B's client (run.ts): one WebSocket to URL (no permessage-deflate); for each "go MIB"
// line on stdin it sends MIB MiB as binary messages of --message-kib KiB, at most --in-flight unanswered,
// waits for every echo (checked by length and first byte) and prints {"seconds": ...}.
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const url = process.argv[2]!;
const messageBytes = arg('message-kib', 256) * 1024;
const inFlight = arg('in-flight', 30);
const payload = randomBytes(messageBytes);

const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
let onEcho: ((data: Buffer) => void) | undefined;
ws.on('message', (data: Buffer) => onEcho?.(data));
ws.on('close', (code) => {
  process.stderr.write(`client socket closed ${code}\n`);
  process.exit(1);
});
ws.on('open', () => process.stdout.write('ready\n'));

function transfer(mib: number): Promise<number> {
  const total = Math.ceil((mib * 1024 * 1024) / messageBytes);
  let sent = 0;
  let echoed = 0;
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const sendMore = () => {
      while (sent < total && sent - echoed < inFlight) {
        payload[0] = sent & 0xff;
        ws.send(payload, { binary: true });
        sent++;
      }
    };
    onEcho = (data) => {
      if (data.length !== messageBytes || data[0] !== (echoed & 0xff)) return reject(new Error(`echo ${echoed} differs`));
      echoed++;
      if (echoed === total) resolve(Number(process.hrtime.bigint() - start) / 1e9);
      else sendMore();
    };
    sendMore();
  });
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, mib] = line.split(' ');
  if (command !== 'go') break;
  const seconds = await transfer(Number(mib));
  process.stdout.write(JSON.stringify({ seconds }) + '\n');
}
ws.close();
