// The SDK pieces startTracing uses read some OTEL_* settings from process.env themselves, once, when built:
// the OTLP exporters (OTEL_EXPORTER_OTLP_*: endpoints, headers, timeout, compression, certificate files)
// and the resource's env detector (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). startTracing is given its
// own env (a bench arm's, a test's): while those pieces are built, process.env's OTEL_* variables are
// exactly the given env's, then put back, so every setting follows the given env by the SDK's own parsing.

const PREFIX = 'OTEL_';

/** Runs `build` (synchronous) with process.env's OTEL_* variables replaced by `env`'s, and restores them. */
export function withOtelEnvironment<T>(env: NodeJS.ProcessEnv, build: () => T): T {
  if (env === process.env) return build();
  const saved = new Map<string, string | undefined>();
  for (const key of new Set([...Object.keys(process.env), ...Object.keys(env)])) {
    if (!key.startsWith(PREFIX)) continue;
    saved.set(key, process.env[key]);
    const value = env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return build();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
