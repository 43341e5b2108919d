// Exponential reconnect backoff with full jitter, in its own class so the pool stays readable.
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  /** Delay before the next attempt: uniform in [base/2, base], base = initial * multiplier^attempt, capped. */
  nextDelayMs(): number {
    const base = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * this.options.multiplier ** this.attempt);
    this.attempt++;
    const random = this.options.random ?? Math.random;
    return Math.round(base / 2 + (random() * base) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
