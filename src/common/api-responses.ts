// Swagger decorators shared by the controllers: error responses with an example
// per error the route answers with, and the response headers clients act on.
import type { Type } from '@nestjs/common';
import { ApiOkResponse, ApiResponse, type HeadersObject } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto.js';
import type { OAuthErrorCode } from './oauth-error.js';

/** RFC 9110 §10.2.3, on the 429 and 503 answers that say when to come back. */
export const RETRY_AFTER_HEADER: HeadersObject = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
};

/** RFC 8288 links of a paginated admin list at `path` (see common/pagination.ts). */
export function linkHeader(path: string): HeadersObject {
  return {
    Link: {
      description: 'rel="first", and rel="next" while more remain; the next link carries the page_token of the following page',
      schema: { type: 'string' },
      example: `<${path}?page_size=100>; rel="first", <${path}?page_size=100&page_token=eyJhZnRlciI6IngifQ>; rel="next"`,
    },
  };
}

/** One example error per name: [the RFC error code, an error_description the route really sends]. */
export type ErrorExamples = Record<string, [OAuthErrorCode, string]>;

/** An error status in the one error shape, with examples of what the route answers with. */
export function ApiErrorResponse(
  status: number,
  description: string,
  examples: ErrorExamples,
  headers?: HeadersObject,
): MethodDecorator & ClassDecorator {
  return ApiResponse({
    status,
    type: ErrorResponseDto,
    description,
    ...(headers ? { headers } : {}),
    examples: Object.fromEntries(
      Object.entries(examples).map(([name, [error, errorDescription]]) => [
        name,
        { summary: error, value: { error, error_description: errorDescription } },
      ]),
    ),
  });
}

/** 503 temporarily_unavailable when a server-side fetch (e.g. sector_identifier_uri) finds the fetcher full. */
export const ApiFetchesBusyResponse = (): MethodDecorator & ClassDecorator =>
  ApiErrorResponse(
    503,
    'Too many server-side fetches in progress (one was needed to validate the metadata); see Retry-After',
    { busy: ['temporarily_unavailable', 'too many server-side fetches are in progress; retry later'] },
    RETRY_AFTER_HEADER,
  );

/** 200 with one page of a keyset-paginated admin list and its Link header. */
export function ApiPageResponse(type: Type<unknown>, path: string): MethodDecorator & ClassDecorator {
  return ApiOkResponse({ type, isArray: true, description: 'One page; the Link header has rel="next" while more remain', headers: linkHeader(path) });
}

/** The page_token query parameter of every paginated admin list. */
export const PAGE_TOKEN_QUERY = {
  name: 'page_token',
  required: false,
  description: 'Opaque token from the rel="next" link of the previous page',
  schema: { type: 'string' },
} as const;
