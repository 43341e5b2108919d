// Rate-limited log lines for refusals a hostile peer can trigger at will (bad requests, limits reached):
// at most linesPerSec lines per message per second; the next line that passes says how many were dropped.
import type { Logger } from 'pino';

export type ThrottledLog = (level: 'debug' | 'info' | 'warn', fields: Record<string, unknown>, message: string) => void;

export function throttledLog(log: Logger, linesPerSec = 10, nowMs: () => number = Date.now): ThrottledLog {
  const windows = new Map<string, { startMs: number; lines: number; dropped: number }>();
  return (level, fields, message) => {
    const now = nowMs();
    let window = windows.get(message);
    if (!window || now - window.startMs >= 1000) {
      const dropped = window?.dropped ?? 0;
      window = { startMs: now, lines: 0, dropped: 0 };
      windows.set(message, window);
      if (dropped > 0) fields = { ...fields, suppressed: dropped };
    }
    if (window.lines >= linesPerSec) {
      window.dropped++;
      return;
    }
    window.lines++;
    log[level](fields, message);
  };
}
