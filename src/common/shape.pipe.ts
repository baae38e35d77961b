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
