// Which OTEL_* variables turn tracing on, and which values stop the process
// (README "Tracing"; src/config/tracing.ts).
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config/load-config.js';
import { tracingFromEnv } from '../../src/config/tracing.js';

function errorOf(env: Record<string, string>): string {
  try {
    tracingFromEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected tracingFromEnv to fail');
}

describe('tracing configuration', () => {
  it('is off when no OTEL_* variable names an exporter or an endpoint', () => {
    expect(tracingFromEnv({})).toBeUndefined();
    // Resource and sampler settings alone export nothing.
    expect(tracingFromEnv({ OTEL_SERVICE_NAME: 'registrar-eu', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    expect(tracingFromEnv({ OTEL_TRACES_EXPORTER: ' ', OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined();
  });

  it.each([
    ['OTEL_TRACES_EXPORTER', 'otlp'],
    ['OTEL_TRACES_EXPORTER', 'console'],
    ['OTEL_TRACES_EXPORTER', 'otlp,console'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'http://collector:4318'],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'http://collector:4318/v1/traces'],
  ])('is on with %s=%s, the SDK writing warnings and errors to the log', (name, value) => {
    expect(tracingFromEnv({ [name]: value })).toEqual({ sdkLogLevel: 'WARN' });
  });

  it('stays off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, whatever else is set', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingFromEnv({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(tracingFromEnv({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' })).toBeUndefined();
    expect(tracingFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(tracingFromEnv({ ...endpoint, OTEL_SDK_DISABLED: 'false' })).toBeDefined();
  });

  it('takes the SDK log level from OTEL_LOG_LEVEL, in any case', () => {
    expect(tracingFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_LOG_LEVEL: 'debug' })).toEqual({ sdkLogLevel: 'DEBUG' });
  });

  it('refuses an unknown exporter, or none combined with another, naming the variable and the value', () => {
    expect(errorOf({ OTEL_TRACES_EXPORTER: 'jaeger' })).toBe(
      'invalid configuration: OTEL_TRACES_EXPORTER must be none, or a comma-separated list of otlp, console, zipkin; found "jaeger"',
    );
    expect(errorOf({ OTEL_TRACES_EXPORTER: 'none,otlp' })).toContain('OTEL_TRACES_EXPORTER');
    // Checked even when OTEL_SDK_DISABLED turns tracing off: the variable is still wrong.
    expect(errorOf({ OTEL_TRACES_EXPORTER: 'otel', OTEL_SDK_DISABLED: 'true' })).toContain('found "otel"');
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http', 'one of http/protobuf, http/json, grpc'],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'json', 'one of http/protobuf, http/json, grpc'],
    ['OTEL_TRACES_SAMPLER', 'ratio', 'one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio'],
    ['OTEL_TRACES_SAMPLER_ARG', '1.5', 'a number from 0 to 1'],
    ['OTEL_TRACES_SAMPLER_ARG', '-0.1', 'a number from 0 to 1'],
    ['OTEL_LOG_LEVEL', 'loud', 'one of NONE, ERROR, WARN, INFO, DEBUG, VERBOSE, ALL'],
  ])('while tracing is on, refuses %s=%s', (name, value, expected) => {
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', [name]: value })).toBe(
      `invalid configuration: ${name} must be ${expected}; found ${JSON.stringify(value)}`,
    );
  });

  it('accepts the ratios 0, 1 and those between', () => {
    for (const ratio of ['0', '1', '0.25', '.5', '1.0']) {
      expect(tracingFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio })).toBeDefined();
    }
  });
});
