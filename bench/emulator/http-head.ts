// Reads the first HTTP head of a relayed connection: strips Sec-WebSocket-Extensions from an upgrade
// request (the "direct without deflate" arm) and notes whether a response negotiated permessage-deflate.
// Only the first head of a connection is examined; later bytes pass untouched.

const HEAD_END = Buffer.from('\r\n\r\n');
/** A head longer than this is not HTTP we care about; it passes through unexamined. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Requests start with a method, responses with the version; anything else is not examined. */
const HTTP_PREFIXES: readonly string[] = ['GET ', 'POST ', 'PUT ', 'HEAD ', 'DELETE ', 'OPTIONS ', 'PATCH ', 'HTTP/'];

export interface HeadScanResult {
  /** Bytes to forward now (the possibly rewritten head plus what followed it), or undefined to keep waiting. */
  forward: Buffer | undefined;
  /** The head that was found (latin1), or undefined if none was (not HTTP, or still waiting). */
  head: string | undefined;
}

/** Accumulates the start of a stream until the end of its first HTTP head. */
export class FirstHeadScanner {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;

  constructor(private readonly rewrite: (head: string) => string = (head) => head) {}

  get finished(): boolean {
    return this.done;
  }

  push(chunk: Buffer): HeadScanResult {
    if (this.done) return { forward: chunk, head: undefined };
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const joined = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    if (!this.mayBeHttp(joined)) return this.finish(joined, undefined);
    const end = joined.indexOf(HEAD_END);
    if (end < 0) {
      if (this.pendingBytes <= MAX_HEAD_BYTES) {
        this.pending = [joined];
        return { forward: undefined, head: undefined };
      }
      return this.finish(joined, undefined);
    }
    const head = joined.subarray(0, end + HEAD_END.length).toString('latin1');
    const rewritten = this.rewrite(head);
    if (rewritten === head) return this.finish(joined, head);
    const rest = joined.subarray(end + HEAD_END.length);
    return this.finish(Buffer.concat([Buffer.from(rewritten, 'latin1'), rest]), head);
  }

  /** What is still held when the stream ends before a head was complete. */
  flush(): Buffer | undefined {
    if (this.done || this.pendingBytes === 0) return undefined;
    this.done = true;
    return Buffer.concat(this.pending, this.pendingBytes);
  }

  /** Holding bytes back is only justified while they can still be an HTTP head. */
  private mayBeHttp(bytes: Buffer): boolean {
    const prefix = bytes.subarray(0, 8).toString('latin1');
    return HTTP_PREFIXES.some((candidate) => candidate.startsWith(prefix) || prefix.startsWith(candidate));
  }

  private finish(forward: Buffer, head: string | undefined): HeadScanResult {
    this.done = true;
    this.pending = [];
    this.pendingBytes = 0;
    return { forward, head };
  }
}

export function isWebSocketUpgradeRequest(head: string): boolean {
  return /^GET [^\r\n]* HTTP\/1\.1\r\n/.test(head) && /^upgrade:\s*websocket\s*$/im.test(head);
}

export function stripWebSocketExtensions(head: string): string {
  if (!isWebSocketUpgradeRequest(head)) return head;
  return head.replace(/^sec-websocket-extensions:[^\r\n]*\r\n/gim, '');
}

export function offersDeflate(head: string): boolean {
  return /^sec-websocket-extensions:[^\r\n]*permessage-deflate/im.test(head);
}

export function isSwitchingProtocols(head: string): boolean {
  return /^HTTP\/1\.1 101/.test(head);
}
