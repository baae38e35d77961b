// JSON logs through pino, shared by Fastify (one line per request, with its
// request id) and by the application. Requests are logged as method and path
// only, so headers (Authorization, cookies) and query strings never reach the
// log; the redact list is a second fence for any object logged by hand.
import { Injectable, type LoggerService } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger as Pino } from 'pino';

export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers',
  '*.headers',
  'client_secret',
  '*.client_secret',
  'registration_access_token',
  '*.registration_access_token',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'client_assertion',
  '*.client_assertion',
];

/**
 * The trace a line was written in (README "Tracing"): the W3C Trace Context ids of
 * the active span as `trace_id` and `span_id`. With tracing off no span is ever
 * active, and the line gets no fields.
 */
function traceFields(): object {
  // A new object every time: pino merges the line's own fields into it.
  const context = trace.getActiveSpan()?.spanContext();
  return context && isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : {};
}

export function createPino(level: string, destination?: DestinationStream): Pino {
  const options = {
    level,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin: traceFields,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The application's logger: `logger.warn({ fields }, 'message')`. */
@Injectable()
export class AppLogger {
  constructor(readonly pino: Pino) {}

  debug(fields: object, msg: string): void {
    this.pino.debug(fields, msg);
  }
  info(fields: object, msg: string): void {
    this.pino.info(fields, msg);
  }
  warn(fields: object, msg: string): void {
    this.pino.warn(fields, msg);
  }
  error(fields: object, msg: string): void {
    this.pino.error(fields, msg);
  }
}

/** Nest's start-up chatter (a line per module and route) only interests someone debugging. */
const NEST_BOOT_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/** Nest's own log calls, into the same JSON log, with boot chatter demoted to debug. */
export class NestLogAdapter implements LoggerService {
  constructor(private readonly pino: Pino) {}

  private write(level: 'debug' | 'info' | 'warn' | 'error', message: unknown, params: unknown[]): void {
    const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    this.pino[level]({ context }, String(message));
  }

  log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    this.write(typeof context === 'string' && NEST_BOOT_CONTEXTS.has(context) ? 'debug' : 'info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
}
