// Writes one batch of chunks to a socket (one writev when several) and reports when it has left the
// process, without a write callback when the kernel takes the batch at once (the usual case): Node's
// Writable queues a nextTick and an object for every write that has a callback, even one that completed
// synchronously, which was one of the two ticks per message of each proxy (bench/wake-count, issue 11).
import type { Writable } from 'node:stream';

const EMPTY = Buffer.alloc(0);

/** `done` runs once every chunk has left (synchronously when they did at once), or with the socket's error. */
export function writeBatch(socket: Writable, chunks: readonly Uint8Array[], done: (error?: Error | null) => void): void {
  // Behind bytes still queued in the stream: only a callback tells when these follow them.
  const behind = socket.writableLength > 0;
  if (chunks.length > 1) socket.cork();
  for (let i = 0; i < chunks.length; i++) {
    if (behind && i === chunks.length - 1) socket.write(chunks[i]!, done);
    else socket.write(chunks[i]!);
  }
  if (chunks.length > 1) socket.uncork();
  if (behind) return;
  if (socket.errored) return done(socket.errored);
  if (socket.writableLength === 0) return done();
  // The kernel took part of it: an empty write after it calls back once the rest has gone.
  socket.write(EMPTY, done);
}
