// The one place errors become HTTP responses: always JSON
// {"error","error_description"}, never HTML, never internals.
import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { HttpRequest } from './http.js';
import { OAuthError } from './oauth-error.js';

/** Errors from the database driver that mean "unreachable", not "wrong". */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '53300', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection.*(closed|ended)|not currently accepting connections|the database system is (starting up|shutting down)/i;

function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; driverError?: unknown };
  if (typeof e?.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e?.message === 'string' && CONNECTION_MESSAGES.test(e.message)) return true;
  return e?.driverError !== undefined && isConnectionFailure(e.driverError);
}

/** Fastify reports body and request failures with an FST_ERR_* code; map them to OAuth errors. */
function fromFastify(err: unknown): OAuthError | undefined {
  const { code, statusCode } = (err ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof code !== 'string' || !code.startsWith('FST_')) return undefined;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OAuthError('invalid_request', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OAuthError('request_entity_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OAuthError('unsupported_media_type', 'Content-Type must be application/json or application/x-www-form-urlencoded');
    default:
      return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500
        ? new OAuthError(OAuthError.codeForStatus(statusCode), 'the request could not be read', { status: statusCode })
        : undefined;
  }
}

function fromHttpException(err: HttpException): OAuthError {
  const status = err.getStatus();
  const body = err.getResponse();
  let description: string | undefined;
  if (typeof body === 'string') description = body;
  else if (body && typeof body === 'object') {
    const message = (body as { message?: unknown }).message;
    description = Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : undefined;
  }
  if (status === 404 && description?.startsWith('Cannot ')) description = `no route for ${description.slice(7)}`;
  return new OAuthError(OAuthError.codeForStatus(status), status >= 500 ? undefined : description, { status });
}

export function toOAuthError(err: unknown): { error: OAuthError; unexpected: boolean } {
  if (err instanceof OAuthError) return { error: err, unexpected: false };
  const parserError = fromFastify(err);
  if (parserError) return { error: parserError, unexpected: false };
  if (err instanceof HttpException) return { error: fromHttpException(err), unexpected: err.getStatus() >= 500 };
  // A last fence behind safe-input.ts: text PostgreSQL cannot store is the client's mistake.
  const dbCode = (err as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ?? (err as { code?: unknown })?.code;
  if (dbCode === '22021' || dbCode === '22P05' || dbCode === '22P02') {
    return { error: new OAuthError('invalid_request', 'the request contains text that cannot be stored'), unexpected: false };
  }
  if (isConnectionFailure(err)) {
    return { error: new OAuthError('temporarily_unavailable', 'the database is unreachable; retry later'), unexpected: true };
  }
  return { error: new OAuthError('server_error'), unexpected: true };
}

export interface ErrorLogger {
  error(fields: object, msg: string): void;
}

/** Renders any failure as the OAuth error body; Nest's filter and Fastify's error handler both end here. */
export function sendError(exception: unknown, req: HttpRequest, reply: FastifyReply, logger: ErrorLogger): void {
  const { error, unexpected } = toOAuthError(exception);
  if (unexpected) {
    const e = exception as Error;
    logger.error(
      { request_id: req?.id, error: e?.name, detail: e?.message, stack: e?.stack?.split('\n').slice(1, 6).join('\n') },
      'request failed',
    );
  }
  if (reply.sent) return;
  req.oauthErrorCode = error.code;
  reply.code(error.status);
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  reply.header('Cache-Control', 'no-store');
  void reply.send(error.description ? { error: error.code, error_description: error.description } : { error: error.code });
}

@Catch()
export class OAuthExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: ErrorLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(exception, http.getRequest<HttpRequest>(), http.getResponse<FastifyReply>(), this.logger);
  }
}
