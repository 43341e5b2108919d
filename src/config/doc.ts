// Renders the configuration reference (docs/config.md) from the settings table.
import { SETTINGS } from './settings.js';

export function renderConfigDoc(): string {
  const rows = SETTINGS.map((s) => {
    const def = s.defaultValue === undefined ? '**required**' : s.defaultValue === '' ? '(empty)' : `\`${String(s.defaultValue)}\``;
    return `| \`${s.flag}\` | \`${s.env}\` | \`${s.key}\` | ${s.roles.join(', ')} | ${def} | ${s.doc} |`;
  });
  return [
    '# Configuration reference',
    '',
    'Generated from `src/config/settings.ts` by `node --import tsx scripts/gen-config-doc.ts`; a unit test keeps it in step.',
    '',
    'Each setting is resolved in this order: command-line flag > environment variable > YAML file given with',
    '`--config FILE` (keys as in the YAML column) > default. A bad or missing value stops the process with exit',
    'code 2 and one line naming the setting, where the value came from, and what is wrong, e.g.',
    '`hypha-accel edge: invalid setting links (from --links): must be >= 1, got "0"`.',
    '',
    '| flag | environment | YAML key | roles | default | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'Byte sizes are plain integers (bytes); durations are milliseconds (names end in `Ms`).',
    '',
    '## Example YAML (edge)',
    '',
    '```yaml',
    'listen: 127.0.0.1:9527',
    'gatewayUrl: wss://hypha.example.org',
    'secretFile: /etc/hypha-accel/secret',
    'links: 2',
    'adminListen: 127.0.0.1:9100',
    '```',
    '',
  ].join('\n');
}
