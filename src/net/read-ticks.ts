// Takes Node's "read more" tick off a socket's per-read path. After every chunk a socket pushes, Readable
// queues process.nextTick(maybeReadMore_), whose read(0) only re-arms a handle that is already reading (a
// flowing net.Socket reads until push() returns false, and resume() re-arms it itself): one tick, and the
// tick queue's run, per read, i.e. per small message in each proxy (bench/wake-count: nextTick 1.02 per message).

/** The part of Node's ReadableState this relies on (Node 20-24: a boolean accessor over a bit flag). */
interface ReadableInternals {
  _readableState?: { readingMore?: boolean };
}

/**
 * Marks the socket as "already reading more", so Readable never queues that tick for it. Does nothing on a
 * stream without the expected state. Call once the socket is connected, for a socket consumed in flowing mode.
 */
export function skipReadMoreTicks(socket: unknown): void {
  const state = (socket as ReadableInternals | undefined)?._readableState;
  if (state && typeof state.readingMore === 'boolean') state.readingMore = true;
}
