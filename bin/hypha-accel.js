#!/usr/bin/env node
// Runs the compiled CLI (npm run build, or the prepare step of npm install, produces dist/).
import '../dist/cli.js';
