// A raw WebSocket client for protocol-edge tests: records every message (opcode + bytes) and the close
// code/reason, or the HTTP status when the upgrade is refused.
import WebSocket from 'ws';

export interface RawOutcome {
  status?: number; // HTTP status when the upgrade was refused
  messages: Array<{ isBinary: boolean; data: Buffer }>;
  close?: { code: number; reason: string };
}

export interface RawSession {
  ws: WebSocket;
  outcome: RawOutcome;
  opened: Promise<boolean>;
  closed: Promise<RawOutcome>;
  nextMessage(): Promise<{ isBinary: boolean; data: Buffer }>;
}

export function rawConnect(url: string, options: WebSocket.ClientOptions = {}): RawSession {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), options);
  const outcome: RawOutcome = { messages: [] };
  const waiting: Array<(m: { isBinary: boolean; data: Buffer }) => void> = [];
  let delivered = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const message = { isBinary, data };
    outcome.messages.push(message);
    const waiter = waiting.shift();
    if (waiter) {
      delivered++;
      waiter(message);
    }
  });
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('unexpected-response', (_req, res) => {
      outcome.status = res.statusCode;
      res.resume();
      resolve(false);
    });
    ws.once('error', () => resolve(false));
  });
  const closed = new Promise<RawOutcome>((resolve) => {
    ws.on('close', (code, reason) => {
      outcome.close = { code, reason: reason.toString() };
      resolve(outcome);
    });
    ws.on('error', () => {
      if (ws.readyState === WebSocket.CLOSED) resolve(outcome);
    });
    ws.once('unexpected-response', () => resolve(outcome));
  });
  return {
    ws,
    outcome,
    opened,
    closed,
    nextMessage() {
      if (outcome.messages.length > delivered) return Promise.resolve(outcome.messages[delivered++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** The first message hypha expects: the Python client's form (unset keys as null). */
export function handshakeMessage(clientId: string): string {
  return JSON.stringify({ client_id: clientId, workspace: null, token: null, reconnection_token: null });
}
