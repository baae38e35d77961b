import { ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { OAuthError } from './oauth-error.js';

function describe(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => m.replace(e.property, path));
    return [...own, ...describe(e.children ?? [], path)];
  });
}

/** Shape check of admin request bodies with class-validator; unknown properties are refused. */
export const ShapePipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  exceptionFactory: (errors) => new OAuthError('invalid_request', describe(errors).join('; ')),
});

/**
 * The same check for bodies that may carry read-only fields echoed from a
 * read (a GET's answer sent back in a PUT): unknown properties are dropped, not refused.
 */
export const LenientShapePipe = new ValidationPipe({
  whitelist: true,
  transform: true,
  exceptionFactory: (errors) => new OAuthError('invalid_request', describe(errors).join('; ')),
});
