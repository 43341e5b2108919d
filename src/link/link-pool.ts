// The edge's pool of N links to one gateway. Each slot dials, handshakes, serves until the link dies,
// then waits a jittered backoff and dials again. pick() returns the ready link carrying fewest streams;
// waitReady() lets a session wait, bounded, for the first link. retire() lets go of a draining link (it
// keeps serving its sessions) and dials its replacement at once.
import { AccelError } from '../errors.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import type { DuplexTransport, Established } from './establish.js';

export type SlotState = 'connecting' | 'ready' | 'backoff' | 'stopped';

export interface LinkPoolOptions {
  size: number;
  backoff: BackoffOptions;
  clock?: Clock;
  dial(): Promise<DuplexTransport>;
  establish(transport: DuplexTransport): Promise<Established>;
  onLinkUp?(link: Established, slot: number): void;
  onLinkDown?(slot: number, error: AccelError | undefined): void;
  onDialError?(slot: number, error: AccelError): void;
}

interface Slot {
  state: SlotState;
  link: Established | undefined;
  backoff: Backoff;
  timer: unknown;
}

export class LinkPool {
  private readonly slots: Slot[];
  private readonly clock: Clock;
  private waiters: Array<() => void> = [];
  lastError: AccelError | undefined;

  constructor(private readonly options: LinkPoolOptions) {
    this.clock = options.clock ?? systemClock;
    this.slots = Array.from({ length: options.size }, () => ({ state: 'connecting' as SlotState, link: undefined, backoff: new Backoff(options.backoff), timer: undefined }));
  }

  start(): void {
    this.slots.forEach((_, index) => this.connect(index));
  }

  get readyLinks(): Established[] {
    return this.slots.filter((s) => s.state === 'ready' && s.link && !s.link.session.closed && !s.link.session.draining).map((s) => s.link!);
  }

  states(): SlotState[] {
    return this.slots.map((s) => s.state);
  }

  /** The ready link (among those `accept` takes) carrying fewest streams. */
  pick(accept: (link: Established) => boolean = () => true): Established | undefined {
    let best: Established | undefined;
    for (const link of this.readyLinks) if (accept(link) && (!best || link.session.streamCount < best.session.streamCount)) best = link;
    return best;
  }

  /**
   * Resolves with a ready link (one `accept` takes: e.g. to one gateway instance), or rejects with NO_LINK
   * (carrying the last dial error) after timeoutMs.
   */
  async waitReady(timeoutMs: number, accept?: (link: Established) => boolean): Promise<Established> {
    const ready = this.pick(accept);
    if (ready) return ready;
    return new Promise((resolve, reject) => {
      const onReady = () => {
        const link = this.pick(accept);
        if (!link) return void this.waiters.push(onReady);
        this.clock.clearTimeout(timer);
        resolve(link);
      };
      const timer = this.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== onReady);
        const why = this.lastError ? `: ${this.lastError.code} ${this.lastError.message}` : '';
        reject(new AccelError('HYPHA_ACCEL_ERR_NO_LINK', `no link to the gateway within ${timeoutMs} ms${why}`));
      }, timeoutMs);
      this.waiters.push(onReady);
    });
  }

  private async connect(index: number): Promise<void> {
    const slot = this.slots[index]!;
    if (slot.state === 'stopped') return;
    slot.state = 'connecting';
    try {
      const transport = await this.options.dial();
      if (this.isStopped(slot)) return void transport.close(1001, 'edge stopping');
      const link = await this.options.establish(transport);
      if (this.isStopped(slot)) return void link.session.goAway('edge stopping');
      if (link.session.draining) throw new AccelError('HYPHA_ACCEL_ERR_SHUTDOWN', 'the gateway instance said DRAIN during the handshake');
      slot.link = link;
      slot.state = 'ready';
      slot.backoff.reset();
      this.lastError = undefined;
      this.options.onLinkUp?.(link, index);
      link.session.addCloseListener((error) => this.handleLinkDown(index, link, error));
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter();
    } catch (error) {
      const accel = error instanceof AccelError ? error : new AccelError('HYPHA_ACCEL_ERR_NO_LINK', (error as Error).message, { cause: error });
      this.lastError = accel;
      this.options.onDialError?.(index, accel);
      this.scheduleRetry(index);
    }
  }

  private isStopped(slot: Slot): boolean {
    return slot.state === 'stopped';
  }

  private handleLinkDown(index: number, link: Established, error: AccelError | undefined): void {
    const slot = this.slots[index]!;
    if (slot.link !== link) return; // retired: its slot already serves another link
    slot.link = undefined;
    this.options.onLinkDown?.(index, error);
    if (slot.state === 'stopped') return;
    this.scheduleRetry(index);
  }

  private scheduleRetry(index: number): void {
    const slot = this.slots[index]!;
    if (slot.state === 'stopped') return;
    slot.state = 'backoff';
    slot.timer = this.clock.setTimeout(() => void this.connect(index), slot.backoff.nextDelayMs());
  }

  /** The link with this id a slot holds (ready or not), if any. */
  held(linkId: string): Established | undefined {
    return this.slots.find((s) => s.link?.linkId === linkId)?.link;
  }

  /**
   * The slot holding `link` lets go of it (the link stays open for the sessions it carries; pick() no longer
   * offers it) and dials a replacement now, without backoff: through the same URL, which behind a Service
   * reaches another replica. Returns false when no slot held it.
   */
  retire(link: Established): boolean {
    const index = this.slots.findIndex((s) => s.link === link);
    if (index < 0) return false;
    const slot = this.slots[index]!;
    slot.link = undefined;
    slot.backoff.reset();
    void this.connect(index);
    return true;
  }

  /** Stops reconnecting and ends every link with GOAWAY(SHUTDOWN). */
  stop(reason: string): void {
    for (const slot of this.slots) {
      const link = slot.link;
      slot.state = 'stopped';
      this.clock.clearTimeout(slot.timer);
      slot.link = undefined;
      link?.session.goAway(reason);
    }
  }
}
