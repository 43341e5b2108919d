// Ends a socket with a TCP reset (RST) where Node and libuv can send one, and closes it plainly where they
// cannot, so that a reset never leaves a socket half-closed behind.
import type { Duplex } from 'node:stream';

/** What a reset needs of a socket; any Duplex fits (only net.Socket has `resetAndDestroy`). */
type Resettable = Duplex & { resetAndDestroy?: () => unknown };

/**
 * Resets `socket` (RST to the peer), or destroys it when a reset is impossible:
 * - its FIN is under way (`end()` called, the shutdown not finished): libuv refuses to mix uv_shutdown and
 *   uv_tcp_close_reset (EINVAL), and Node 24 then marks the handle closing without ever closing it. The fd
 *   and the connection leak, and at exit the process spins at 100% CPU in FreeEnvironment -> CleanupHandles,
 *   waiting for a close that never comes (test/net/socket-reset.test.ts; libp2p/js-libp2p#3597 met the same);
 * - it is not a plain TCP socket (a TLSSocket's resetAndDestroy throws ERR_INVALID_HANDLE_TYPE).
 */
export function resetOrDestroy(socket: Resettable): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy !== 'function' || (socket.writableEnded && !socket.writableFinished)) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy(); // the handle type check throws before anything changed
  }
}
