// A raw-deflate z_stream driven synchronously, one call per message (stream-deflate.ts frames the messages).
// Two engines behind one small interface: Node's own zlib (native code, no JIT warm-up: 2-4x less CPU per
// small batch than pako, bench/link-compression/engines.ts) and pako's JS port of zlib as the fallback.
// Node has no public synchronous streaming zlib call (its *Sync functions end the stream), so the native
// engine calls the zlib handle's writeSync directly, the same call (and the same `_writeState` result
// array) Node's own synchronous calls make (processChunkSync in lib/zlib.js); whether this Node still has
// it is checked once, by a round trip, before it is used. Both engines are zlib, so either side's deflate
// stream inflates on the other.
import zlib from 'node:zlib';
import {
  ZStream, Z_BUF_ERROR, Z_DATA_ERROR, Z_DEFAULT_STRATEGY, Z_NEED_DICT, Z_OK, Z_STREAM_END, Z_SYNC_FLUSH,
  zlibDeflate, zlibDeflateInit2, zlibInflate, zlibInflateInit2,
} from 'pako';

export class StreamDeflateError extends Error {}

export type ZEngine = 'native' | 'pako';

/** One direction's z_stream: deflate or inflate, raw (no header), 32 KiB window. */
export interface SyncZStream {
  /**
   * Runs all of `input` through with a sync flush, writing from `output[offset]`; returns the offset after
   * the last byte written. Stops early when `output` is full: then `inputLeft` > 0 or more output waits.
   * Throws StreamDeflateError on corrupt input or a stream that ended; the stream is unusable after a throw.
   */
  write(input: Uint8Array, output: Uint8Array, offset: number): number;
  /** Input bytes the last write did not consume. */
  readonly inputLeft: number;
  /** Frees the stream's memory now (native: the zlib handle) rather than at garbage collection; writes then throw. */
  release(): void;
}

const WINDOW_BITS = 15;
const MEM_LEVEL = 8;
const Z_DEFLATED = 8;
const NATIVE_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

export function createDeflateStream(level: number, engine: ZEngine = defaultZEngine()): SyncZStream {
  return engine === 'native' ? new NativeZStream(zlib.createDeflateRaw({ level, windowBits: WINDOW_BITS, memLevel: MEM_LEVEL })) : new PakoZStream('deflate', level);
}

export function createInflateStream(engine: ZEngine = defaultZEngine()): SyncZStream {
  return engine === 'native' ? new NativeZStream(zlib.createInflateRaw({ windowBits: WINDOW_BITS })) : new PakoZStream('inflate', 0);
}

/** The shape of Node's zlib handle this relies on (lib/zlib.js processChunkSync). */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, output: Uint8Array, outOffset: number, outLength: number): void;
}
interface ZlibInternals {
  _handle?: ZlibHandle | null;
  _writeState?: Uint32Array;
}

class NativeZStream implements SyncZStream {
  inputLeft = 0;
  private readonly handle: ZlibHandle;
  private readonly state: Uint32Array;

  constructor(private readonly stream: zlib.DeflateRaw | zlib.InflateRaw) {
    const internals = stream as unknown as ZlibInternals;
    if (!internals._handle || typeof internals._handle.writeSync !== 'function' || !(internals._writeState instanceof Uint32Array)) {
      throw new StreamDeflateError('this Node has no synchronous zlib handle');
    }
    this.handle = internals._handle;
    this.state = internals._writeState;
    // A data error destroys the stream and emits 'error' on the next tick: without a listener that would be
    // an uncaught exception. The error is read synchronously from `errored` instead.
    stream.on('error', () => {});
  }

  write(input: Uint8Array, output: Uint8Array, offset: number): number {
    if (this.stream.destroyed) throw new StreamDeflateError('zlib stream already failed or released');
    const outLength = output.length - offset;
    this.handle.writeSync(NATIVE_SYNC_FLUSH, input, 0, input.length, output, offset, outLength);
    if (this.stream.destroyed) throw new StreamDeflateError(`zlib failed: ${this.stream.errored?.message ?? 'stream destroyed'}`);
    this.inputLeft = this.state[1]!;
    return offset + outLength - this.state[0]!;
  }

  release(): void {
    this.stream.close();
  }
}

class PakoZStream implements SyncZStream {
  inputLeft = 0;
  private strm = new ZStream();
  private released = false;

  constructor(private readonly mode: 'deflate' | 'inflate', level: number) {
    const status = mode === 'deflate'
      ? zlibDeflateInit2(this.strm, level, Z_DEFLATED, -WINDOW_BITS, MEM_LEVEL, Z_DEFAULT_STRATEGY)
      : zlibInflateInit2(this.strm, -WINDOW_BITS);
    if (status !== Z_OK) throw new StreamDeflateError(`${mode} init failed (${status})`);
  }

  write(input: Uint8Array, output: Uint8Array, offset: number): number {
    if (this.released) throw new StreamDeflateError('zlib stream released');
    const strm = this.strm;
    strm.input = input;
    strm.next_in = 0;
    strm.avail_in = input.length;
    strm.output = output as Uint8Array<ArrayBuffer>;
    strm.next_out = offset;
    strm.avail_out = output.length - offset;
    const status = this.mode === 'deflate' ? zlibDeflate(strm, Z_SYNC_FLUSH) : zlibInflate(strm, Z_SYNC_FLUSH);
    if (status === Z_STREAM_END) throw new StreamDeflateError('deflate stream ended (a final block is never sent)');
    if (status === Z_DATA_ERROR || status === Z_NEED_DICT || (status !== Z_OK && status !== Z_BUF_ERROR)) {
      throw new StreamDeflateError(`${this.mode} failed: ${strm.msg || status}`);
    }
    this.inputLeft = strm.avail_in;
    strm.input = EMPTY; // the window holds its own copy: let the message go
    return strm.next_out;
  }

  release(): void {
    this.released = true;
    this.strm = new ZStream(); // drops the window and hash tables
  }
}

const EMPTY = new Uint8Array(0);

let probed: ZEngine | undefined;

/**
 * 'native' when this Node's zlib handle round-trips two messages of one stream through writeSync (the
 * second one matching into the first), else 'pako'. Checked once per process.
 */
export function defaultZEngine(): ZEngine {
  probed ??= nativeRoundTrips() ? 'native' : 'pako';
  return probed;
}

function nativeRoundTrips(): boolean {
  try {
    const deflate = new NativeZStream(zlib.createDeflateRaw({ level: 6, windowBits: WINDOW_BITS, memLevel: MEM_LEVEL }));
    const inflate = new NativeZStream(zlib.createInflateRaw({ windowBits: WINDOW_BITS }));
    const message = new TextEncoder().encode('hypha-accel link compression probe: hypha-accel link compression probe');
    for (let i = 0; i < 2; i++) {
      const wire = new Uint8Array(256);
      const end = deflate.write(message, wire, 0);
      const plain = new Uint8Array(256);
      const length = inflate.write(wire.subarray(0, end), plain, 0);
      if (deflate.inputLeft !== 0 || inflate.inputLeft !== 0 || length !== message.length || !plain.subarray(0, length).every((b, j) => b === message[j])) return false;
    }
    return true;
  } catch {
    return false;
  }
}
