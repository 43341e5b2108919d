// Writes docs/config.md from the settings table (src/config/settings.ts), so the reference never drifts.
// Usage: node --import tsx scripts/gen-config-doc.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../src/config/doc.js';

const path = new URL('../docs/config.md', import.meta.url);
const text = renderConfigDoc();
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== text) {
    process.stderr.write('docs/config.md is out of date: run node --import tsx scripts/gen-config-doc.ts\n');
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
}
