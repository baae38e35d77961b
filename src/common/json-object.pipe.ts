import { Injectable, type PipeTransform } from '@nestjs/common';
import { OAuthError } from './oauth-error.js';

/** Shape check for bodies that must be one JSON object. */
@Injectable()
export class JsonObjectPipe implements PipeTransform<unknown, Record<string, unknown>> {
  transform(value: unknown): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new OAuthError('invalid_request', 'the request body must be a JSON object');
    }
    return value as Record<string, unknown>;
  }
}
