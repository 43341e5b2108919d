// SVG charts of a summary, drawn with vega-lite (compiled to a vega spec) and rendered headless by
// vega's View.toSVG(): one grouped bar chart per scenario figure, arms side by side.

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { SummaryRow } from './summary.js';

const ARM_LABELS: Record<string, string> = {
  'direct-deflate': 'direct (deflate)',
  'direct-plain': 'direct (no deflate)',
  accel: 'accelerated',
  'accel-shm': 'accelerated, shared memory',
  'accel-unix': 'accelerated, Unix socket link',
  'gateway-only': 'gateway only (no edge, no link)',
  'gateway-only-ws': 'gateway only, ws relay (plainSplice off)',
};

export async function renderBarChart(rows: readonly SummaryRow[], title: string, unit: string): Promise<string> {
  const values = rows.flatMap((row) =>
    Object.entries(row.arms)
      .filter(([, cell]) => cell && cell.n > 0)
      .map(([arm, cell]) => ({
        group: `${row.topology} ${row.variant}`,
        arm: ARM_LABELS[arm] ?? arm,
        median: cell!.median,
        min: cell!.min,
        max: cell!.max,
      })),
  );
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    width: { step: 18 },
    height: 220,
    encoding: {
      x: { field: 'group', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'arm', type: 'nominal', sort: Object.values(ARM_LABELS) },
      color: { field: 'arm', type: 'nominal', sort: Object.values(ARM_LABELS), title: 'arm' },
    },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'median', type: 'quantitative', title: unit } } },
      { mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
