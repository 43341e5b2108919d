// Errors of the benchmark harness. src/errors.ts (the project registry) covers the proxies; these codes
// belong to the bench tooling only and never cross a link, so they live here.

export type BenchErrorCode =
  | 'HYPHA_ACCEL_ERR_BENCH_CLIENT'
  | 'HYPHA_ACCEL_ERR_BENCH_TIMEOUT'
  | 'HYPHA_ACCEL_ERR_BENCH_WRONG_RESULT'
  | 'HYPHA_ACCEL_ERR_BENCH_PROXY'
  | 'HYPHA_ACCEL_ERR_BENCH_EMULATOR'
  | 'HYPHA_ACCEL_ERR_BENCH_USAGE';

export class BenchError extends Error {
  constructor(readonly code: BenchErrorCode, message: string) {
    super(message);
    this.name = 'BenchError';
  }
}
