// The per-call RPC metrics kept as plain numbers per method (a histogram of durations per outcome, request
// and response bytes) and handed to prom-client only at scrape time: prom-client's observe() and inc()
// hash a label object on every call, which cost more than the rest of the call pairing together.
import type { Registry } from 'prom-client';

interface HistogramSeries {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative), one slot per upper bound plus +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

interface MetricValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
}

interface MetricData {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: MetricValue[];
}

/** A histogram with label sets found by two plain keys (no label object hashed per observation). */
export class KeyedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Map<string, HistogramSeries>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly [string, string],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  observe(first: string, second: string, value: number): void {
    let bySecond = this.series.get(first);
    if (!bySecond) this.series.set(first, (bySecond = new Map()));
    let series = bySecond.get(second);
    if (!series) {
      series = { labels: { [this.labelNames[0]]: first, [this.labelNames[1]]: second }, buckets: new Float64Array(this.upperBounds.length + 1), sum: 0, count: 0 };
      bySecond.set(second, series);
    }
    let bucket = 0;
    while (bucket < this.upperBounds.length && value > this.upperBounds[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.sum += value;
    series.count++;
  }

  /**
   * prom-client's histogram values for the text exposition: cumulative buckets (le, +Inf), then sum and
   * count, per label set, the label set as `sharedLabels` (prom-client's Histogram prints it after `le`).
   */
  getForPromString(): MetricData {
    const values: MetricValue[] = [];
    for (const bySecond of this.series.values()) {
      for (const series of bySecond.values()) {
        let cumulative = 0;
        for (let i = 0; i <= this.upperBounds.length; i++) {
          cumulative += series.buckets[i]!;
          values.push({ labels: { le: i < this.upperBounds.length ? this.upperBounds[i]! : '+Inf' }, sharedLabels: series.labels, value: cumulative, metricName: `${this.name}_bucket` });
        }
        values.push({ labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum` });
        values.push({ labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count` });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The same values with each label set merged into `labels`: what getMetricsAsJSON and the cluster aggregation (--workers) read. */
  get(): MetricData {
    const data = this.getForPromString();
    data.values = data.values.map(({ labels, sharedLabels, value, metricName }) => ({ labels: { ...labels, ...sharedLabels }, value, metricName }));
    return data;
  }

  reset(): void {
    this.series.clear();
  }
}
