// The HTTP types the application uses (Fastify's), and small request helpers.
import type { FastifyReply, FastifyRequest } from 'fastify';

export type HttpRequest = FastifyRequest & { oauthErrorCode?: string };
export type HttpReply = FastifyReply;

/** The media type of the request body, without parameters, lower-cased. */
export function mediaType(req: { headers: Record<string, unknown> }): string {
  const raw = req.headers['content-type'];
  return typeof raw === 'string' ? raw.split(';')[0].trim().toLowerCase() : '';
}

/** Path parameters by name. */
export function pathParam(req: FastifyRequest, name: string): string | undefined {
  const value = (req.params as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The request path without its query string. */
export function requestPath(req: { url: string }): string {
  return req.url.split('?')[0];
}
