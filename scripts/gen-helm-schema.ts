// Keeps the chart's values.schema.json in step with src/config/settings.ts: `$defs.edgeConfig` and
// `$defs.gatewayConfig` list every setting of that role (as YAML keys, the chart turns each into its
// HYPHA_ACCEL_* variable) except those the chart derives itself. `--check` fails when the file is stale.
// usage: node --import tsx scripts/gen-helm-schema.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { SETTINGS, type Role } from '../src/config/settings.js';

const SCHEMA_PATH = new URL('../helm/hypha-accel/values.schema.json', import.meta.url);
/** Settings the chart sets from other values (ports, the link secret's mount, hypha's port in the pod). */
export const CHART_OWNED: Record<Role, string[]> = {
  edge: ['listen', 'secretFile', 'adminListen'],
  gateway: ['listen', 'secretFile', 'adminListen', 'hyphaUrl'],
};

export function roleConfigSchema(role: Role): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    if (!s.roles.includes(role) || CHART_OWNED[role].includes(s.key)) continue;
    const { $schema: _drop, ...json } = z.toJSONSchema(s.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    properties[s.key] = { ...json, description: `${s.env}: ${s.doc}`, ...(s.defaultValue === undefined ? {} : { default: s.defaultValue }) };
  }
  return {
    type: 'object',
    description: `hypha-accel ${role} settings by YAML key (docs/config.md); each becomes its HYPHA_ACCEL_* variable.`,
    additionalProperties: false,
    properties,
  };
}

function main(): void {
  const current = readFileSync(SCHEMA_PATH, 'utf8');
  const schema = JSON.parse(current) as { $defs: Record<string, unknown> };
  schema.$defs.edgeConfig = roleConfigSchema('edge');
  schema.$defs.gatewayConfig = roleConfigSchema('gateway');
  const next = JSON.stringify(schema, null, 2) + '\n';
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('helm/hypha-accel/values.schema.json is stale: run node --import tsx scripts/gen-helm-schema.ts\n');
      process.exit(1);
    }
    return;
  }
  writeFileSync(SCHEMA_PATH, next);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
