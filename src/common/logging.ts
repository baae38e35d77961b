// JSON logs through pino (nestjs-pino + pino-http). Structured calls take
// (fields, message, context), the nestjs-pino Logger's contract: one line per request with
// its request id. Requests are serialised to method and path only, so headers
// (Authorization, cookies) and query strings never reach the log; the redact
// list is a second fence for any object logged by hand.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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

export function loggerParams(level: string, destination?: DestinationStream): Params {
  return {
    pinoHttp: {
      level: level === 'silent' ? 'silent' : level,
      stream: destination,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const offered = req.headers['x-request-id'];
        const id = typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
      },
      customSuccessMessage: () => 'request',
      customErrorMessage: () => 'request',
      // 4xx are the client's business; only 5xx are logged as errors.
      customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    },
  };
}

/** Nest's start-up chatter (a line per module and route) only interests someone debugging. */
const NEST_BOOT_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

type NestStyle = Record<'log' | 'debug' | 'warn' | 'error' | 'verbose', (message: unknown, ...params: unknown[]) => void>;

/** Nest's own log calls go to the same JSON log, with boot chatter demoted to debug. */
export class NestLogAdapter {
  constructor(private readonly logger: NestStyle) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    if (typeof context === 'string' && NEST_BOOT_CONTEXTS.has(context)) this.logger.debug(message, ...params);
    else this.logger.log(message, ...params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.logger.error(message, ...params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.logger.warn(message, ...params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.logger.debug(message, ...params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.logger.verbose(message, ...params);
  }
}
