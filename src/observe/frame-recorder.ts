// Debug frame recorder: subscribes to the message channel and appends one JSON line per endpoint message
// (role, session, direction, hop, opcode, length, sha256) so a run can prove byte-for-byte transparency.
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { channels, type MessageEvent } from '../events.js';

export interface RecordedMessage {
  role: string;
  sessionId: string;
  direction: string;
  hop: string;
  isBinary: boolean;
  length: number;
  sha256: string;
}

export function describeMessage(event: MessageEvent): RecordedMessage {
  return {
    role: event.role,
    sessionId: event.sessionId,
    direction: event.direction,
    hop: event.hop,
    isBinary: event.isBinary,
    length: event.data.length,
    sha256: createHash('sha256').update(event.data).digest('hex'),
  };
}

/** Records to a callback (tests) or, via startFrameRecorder, to a JSON-lines file. */
export function subscribeMessages(sink: (record: RecordedMessage) => void): () => void {
  const listener = (message: unknown) => sink(describeMessage(message as MessageEvent));
  channels.wholeMessage.subscribe(listener);
  return () => channels.wholeMessage.unsubscribe(listener);
}

export function startFrameRecorder(path: string): { close(): void } {
  // Synchronous appends keep the order of records equal to the order of messages; this is a debug tool.
  const unsubscribe = subscribeMessages((record) => appendFileSync(path, JSON.stringify(record) + '\n'));
  return { close: unsubscribe };
}
