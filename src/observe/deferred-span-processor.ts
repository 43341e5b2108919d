// The SDK's BatchSpanProcessor, fed after the current tick: ended spans are queued and handed to it from a
// setImmediate, so the batch that fills up (and is serialised to OTLP synchronously by the SDK) is built
// after the call that ended its last span has been relayed, never inside it. Flush and shutdown drain first.
import type { Context } from '@opentelemetry/api';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace';

export class DeferredSpanProcessor implements SpanProcessor {
  private pending: ReadableSpan[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly batch: BatchSpanProcessor) {}

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    this.pending.push(span);
    if (!this.scheduled) this.scheduled = setImmediate(this.drain).unref();
  }

  forceFlush(): Promise<void> {
    this.drain();
    return this.batch.forceFlush();
  }

  shutdown(): Promise<void> {
    this.drain();
    return this.batch.shutdown();
  }

  private readonly drain = (): void => {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const spans = this.pending;
    this.pending = [];
    for (const span of spans) this.batch.onEnd(span);
  };
}
