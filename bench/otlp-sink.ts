// An OTLP/HTTP sink for benchmarking the cost of tracing: accepts every export request (protobuf or JSON),
// discards it and answers 200 with an empty body; on SIGTERM/SIGINT prints how many requests and bytes it
// took. Usage: node --import tsx bench/otlp-sink.ts [port]  (default 4318)
import http from 'node:http';

const port = Number(process.argv[2] ?? 4318);
let requests = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end();
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`otlp sink on http://127.0.0.1:${(server.address() as { port: number }).port}\n`));
const stop = () => {
  process.stdout.write(`otlp sink: ${requests} requests, ${bytes} bytes\n`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
