// The project's logger: pino JSON lines on stderr, one child per role and component. Every line passes
// through redaction (src/net/redact.ts): credential fields and headers, tokens in URLs, bearer values and
// JWTs in any string, the message included, never reach the output.
import { pino, type Logger } from 'pino';
import { redactFields, redactString } from './net/redact.js';

export type { Logger };

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...redactFields(bindings) },
    formatters: {
      log: (fields) => redactFields(fields),
      bindings: (childBindings) => redactFields(childBindings),
    },
    hooks: {
      logMethod(args, method) {
        // The message (a string argument after the fields, or the only argument) is redacted too.
        const redacted = args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg)) as Parameters<typeof method>;
        method.apply(this, redacted);
      },
    },
  }, pino.destination({ fd: 2, sync: false }));
}
