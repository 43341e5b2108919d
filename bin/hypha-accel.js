#!/usr/bin/env -S node --initial-old-space-size=160
// Runs the compiled CLI (npm run build, or the prepare step of npm install, produces dist/).
// --initial-old-space-size=160 (MB) keeps V8's old-generation limit above the young generation it grows to
// under bulk traffic (64 MB): with the default limit (the live heap plus a few tens of MB) V8 starts a full
// mark-compact every ~100 ms of a bulk transfer (18-22 per 2-repetition S3 run instead of 2-4), about a
// third of each proxy's busy time (docs/design.md, "Where a megabyte's CPU goes"). Workers inherit it.
// It is a limit, not a reservation. The Dockerfile's ENTRYPOINT passes the same flag.
import '../dist/cli.js';
