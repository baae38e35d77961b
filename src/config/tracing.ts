// Whether traces are exported, decided from the standard OpenTelemetry
// environment variables (README "Tracing"). main.ts asks before anything else
// is loaded: when the answer is no, the OpenTelemetry SDK is never imported.
import { ConfigError } from './load-config.js';

type Env = Record<string, string | undefined>;

const EXPORTERS = ['otlp', 'console', 'zipkin', 'none'];
const PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'];
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const LOG_LEVELS = ['NONE', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'VERBOSE', 'ALL'] as const;

export interface TracingSettings {
  /** OTEL_LOG_LEVEL: how much of the SDK's own diagnostics reaches the log (default WARN). */
  sdkLogLevel: (typeof LOG_LEVELS)[number];
}

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function refuse(name: string, allowed: string, found: string): never {
  throw new ConfigError(`invalid configuration: ${name} must be ${allowed}; found ${JSON.stringify(found)}`);
}

function assertOneOf(env: Env, name: string, allowed: readonly string[], normalise = (s: string) => s): string | undefined {
  const found = value(env, name);
  if (found !== undefined && !allowed.includes(normalise(found))) refuse(name, `one of ${allowed.join(', ')}`, found);
  return found === undefined ? undefined : normalise(found);
}

/**
 * Settings when an OTEL_* variable asks for traces: OTEL_TRACES_EXPORTER (other
 * than `none`), OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
 * unless OTEL_SDK_DISABLED=true; otherwise undefined. A value the SDK would
 * replace by its default with a warning nobody sees stops the process instead,
 * as an invalid configuration key does.
 */
export function tracingFromEnv(env: Env = process.env): TracingSettings | undefined {
  const listed = value(env, 'OTEL_TRACES_EXPORTER');
  const exporters = (listed ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (exporters.some((name) => !EXPORTERS.includes(name)) || (exporters.includes('none') && exporters.length > 1)) {
    refuse('OTEL_TRACES_EXPORTER', 'none, or a comma-separated list of otlp, console, zipkin', listed!);
  }
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true' || exporters.includes('none')) return undefined;
  const requested =
    exporters.length > 0 || value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined || value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined;
  if (!requested) return undefined;
  assertOneOf(env, 'OTEL_EXPORTER_OTLP_PROTOCOL', PROTOCOLS);
  assertOneOf(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', PROTOCOLS);
  assertOneOf(env, 'OTEL_TRACES_SAMPLER', SAMPLERS);
  const ratio = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined && !(/^(\d+\.?\d*|\.\d+)$/.test(ratio) && Number(ratio) <= 1)) refuse('OTEL_TRACES_SAMPLER_ARG', 'a number from 0 to 1', ratio);
  const sdkLogLevel = assertOneOf(env, 'OTEL_LOG_LEVEL', LOG_LEVELS, (s) => s.toUpperCase()) as TracingSettings['sdkLogLevel'] | undefined;
  return { sdkLogLevel: sdkLogLevel ?? 'WARN' };
}
