// The one place errors become HTTP responses: always JSON
// {"error","error_description"}, never HTML, never internals.
import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'nestjs-pino';
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

/** body-parser reports its failures with a `type`; map them to OAuth errors. */
function fromBodyParser(err: unknown): OAuthError | undefined {
  const type = (err as { type?: unknown })?.type;
  switch (type) {
    case 'entity.parse.failed':
      return new OAuthError('invalid_request', 'the request body is not valid JSON');
    case 'entity.too.large':
      return new OAuthError('request_entity_too_large', 'the request body is too large');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new OAuthError('unsupported_media_type', 'the request body encoding is not supported');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'parameters.too.many':
      return new OAuthError('invalid_request', 'the request body could not be read');
    default:
      return undefined;
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
  const parserError = fromBodyParser(err);
  if (parserError) return { error: parserError, unexpected: false };
  if (err instanceof HttpException) return { error: fromHttpException(err), unexpected: err.getStatus() >= 500 };
  if (isConnectionFailure(err)) {
    return { error: new OAuthError('temporarily_unavailable', 'the database is unreachable; retry later'), unexpected: true };
  }
  return { error: new OAuthError('server_error'), unexpected: true };
}

@Catch()
export class OAuthExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Pick<Logger, 'error'>) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request & { id?: string }>();
    const res = http.getResponse<Response>();
    const { error, unexpected } = toOAuthError(exception);
    if (unexpected) {
      const e = exception as Error;
      this.logger.error(
        { request_id: req?.id, error: e?.name, detail: e?.message, stack: e?.stack?.split('\n').slice(1, 6).join('\n') },
        'request failed',
        'OAuthExceptionFilter',
      );
    }
    if (res.headersSent) return;
    res.locals.oauthError = error.code;
    res.status(error.status);
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    res.setHeader('Cache-Control', 'no-store');
    res.json(error.description ? { error: error.code, error_description: error.description } : { error: error.code });
  }
}
