// The V8 heap flags the shipped launchers give a proxy (bin/hypha-accel.js's shebang, the image's ENTRYPOINT,
// the benchmark's proxies; test/deploy/launcher-flags.test.ts keeps them equal). Without them a bulk relay
// falls into a full mark-compact every ~100 ms (a third of a proxy's busy time) and a gateway under 64 calls in
// flight into one every 0.7-2.5 s (docs/design.md, "Where a megabyte's CPU goes"). A proxy started another way
// (`node dist/cli.js`, `tsx src/cli.ts`) gets V8's defaults, so the CLI says so.

export const LAUNCHER_NODE_FLAGS = ['--initial-old-space-size=160', '--max-semi-space-size=4'] as const;

/** The launcher flags given neither on node's command line nor in NODE_OPTIONS (any value counts as given). */
export function missingLauncherFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const name = (flag: string) => flag.split('=')[0]!.replaceAll('_', '-');
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(name));
  return LAUNCHER_NODE_FLAGS.filter((flag) => !given.has(name(flag)));
}
