// Records a refused registration (README "Audit events"). The refusal committed
// nothing, so its event is written after the failed request's transaction, on
// its own; the error it records names the field, or the policy and its rule.
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, from, mergeMap, throwError, type Observable } from 'rxjs';
import { AppLogger } from '../common/logging.js';
import { OAuthError } from '../common/oauth-error.js';
import { withRequest, type AuditedRequest } from './audit-context.js';
import type { AuditDetails } from './audit-event.js';
import { AuditService } from './audit.service.js';

/** `policy "partners" rule allowed_scopes: ...`, as policy-rules.ts words a violation. */
const POLICY_RULE = /^policy "([^"]+)" rule (\w+):/;

export function refusalDetails(err: OAuthError): AuditDetails {
  const details: AuditDetails = { error: err.code, error_description: err.description ?? null };
  const rule = POLICY_RULE.exec(err.description ?? '');
  if (rule) Object.assign(details, { policy: rule[1], rule: rule[2] });
  return details;
}

/** On POST /oauth2/register: refusals of the body (pipes included) and of the registration itself. */
@Injectable()
export class RegistrationRefusalsInterceptor implements NestInterceptor {
  constructor(
    private readonly audit: AuditService,
    private readonly logger: AppLogger,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<AuditedRequest>();
    return next.handle().pipe(
      catchError((err: unknown) => {
        // Faults (5xx) are not refusals: the error log has them.
        if (!(err instanceof OAuthError) || err.status >= 500) return throwError(() => err);
        return from(
          withRequest(req, () => this.audit.record({ type: 'client.registration_refused', details: refusalDetails(err) })).catch((recordErr: Error) => {
            this.logger.warn({ error: recordErr.message }, 'a refused registration could not be recorded');
          }),
        ).pipe(mergeMap(() => throwError(() => err)));
      }),
    );
  }
}
