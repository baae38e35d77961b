// Records a refused registration (README "Audit events"). The refusal committed
// nothing, so its event is written after the failed request's transaction, on
// its own; the error it records names the field, or the policy and its rule.
import { Injectable } from '@nestjs/common';
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

/**
 * For POST /oauth2/register: runs the shape check of the body and the
 * registration, and records their refusals before the error goes on to be
 * answered. The guards' refusals (no or a wrong token, the rate limit) are not
 * registration refusals and do not pass here. A call in the route handler
 * rather than a Nest interceptor, which would put every registration's answer
 * through an RxJS pipeline.
 */
@Injectable()
export class RegistrationRefusals {
  constructor(
    private readonly audit: AuditService,
    private readonly logger: AppLogger,
  ) {}

  async recording<T>(req: AuditedRequest, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      // Faults (5xx) are not refusals: the error log has them.
      if (!(err instanceof OAuthError) || err.status >= 500) throw err;
      await withRequest(req, () => this.audit.record({ type: 'client.registration_refused', details: refusalDetails(err) })).catch((recordErr: Error) => {
        this.logger.warn({ error: recordErr.message }, 'a refused registration could not be recorded');
      });
      throw err;
    }
  }
}
