#!/usr/bin/env -S node --initial-old-space-size=160 --max-semi-space-size=4
// Runs the compiled CLI (npm run build, or the prepare step of npm install, produces dist/).
// --initial-old-space-size=160 (MB) keeps V8's old-generation limit above the young generation it grows to
// under bulk traffic (64 MB): with the default limit (the live heap plus a few tens of MB) V8 starts a full
// mark-compact every ~100 ms of a bulk transfer (18-22 per 2-repetition S3 run instead of 2-4), about a
// third of each proxy's busy time (docs/design.md, "Where a megabyte's CPU goes"). Workers inherit it.
// It is a limit, not a reservation.
// --max-semi-space-size=4 (MB) keeps the young generation small, so scavenges come often enough under bulk
// to free the socket read buffers (off-heap, ~1 byte per byte relayed) that died young. By default V8 lets
// the semi-spaces grow to 64 MB; a bulk relay allocates little else, so no scavenge came for a whole
// transfer and V8 started a full mark-compact of the ~28 MB heap for "external memory pressure" every
// ~80 MB relayed: a quarter to a third of each proxy's CPU per MB, in its GC threads. 8 MB did not help, 1 MB
// cost small calls at 64 in flight (docs/design.md, "Where a megabyte's CPU goes").
// The Dockerfile's ENTRYPOINT passes the same flags (bench/runner/proxies.ts too; test/deploy checks).
import '../dist/cli.js';
