// The OTLP traces URL startTracing hands the exporter, derived from the variables it was given (the
// exporter itself only reads process.env): the signal's own endpoint as is, else the base one + v1/traces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tracesUrl } from '../../src/observe/tracing.js';

test('the traces URL follows OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT as the specification says', () => {
  assert.equal(tracesUrl({}), undefined);
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9999/custom' }), 'http://t:9999/custom');
});
