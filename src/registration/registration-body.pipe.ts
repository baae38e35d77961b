// Shape check and the registrant's restrictions on RFC 7591/7592 bodies: no
// strategy field, no operator-only field, no server-managed field. Unknown
// fields pass through and are ignored later (RFC 7591 §2).
import { Injectable, type PipeTransform } from '@nestjs/common';
import { fieldDef, isStrategyField } from '../clients/client-metadata.js';
import { OAuthError, clientMetadataError } from '../common/oauth-error.js';

/**
 * Server-managed fields an update may carry, to be checked against the stored
 * client; any other (registration_access_token, registration_client_uri,
 * client_secret_expires_at, client_id_issued_at, ...) is refused (RFC 7592 §2.2).
 */
const CHECKED_IN_UPDATE = ['client_id', 'client_secret'];

function refuse(fields: string[], make: (list: string) => OAuthError): void {
  if (fields.length > 0) throw make(fields.join(', '));
}

/**
 * Refuses field names a registrant may not send: strategy fields, operator-only
 * fields and server-managed ones. Also applied to the claims of a software statement.
 */
export function assertRegistrantMaySet(names: string[], mode: 'create' | 'update'): void {
  refuse(names.filter(isStrategyField), (list) =>
    clientMetadataError(`${list} cannot be set by a registrant: the access token format is decided by the server's configuration`),
  );
  refuse(names.filter((n) => fieldDef(n)?.setBy === 'admin'), (list) =>
    clientMetadataError(`${list} cannot be set through dynamic client registration`),
  );
  const server = names.filter((n) => fieldDef(n)?.setBy === 'server');
  if (mode === 'create') {
    refuse(server, (list) => clientMetadataError(`${list} is assigned by the server and cannot be registered`));
  } else {
    refuse(
      server.filter((n) => !CHECKED_IN_UPDATE.includes(n)),
      (list) => new OAuthError('invalid_request', `${list} must not be sent in an update: the server manages it (RFC 7592 §2.2)`),
    );
  }
}

@Injectable()
export class RegistrationBodyPipe implements PipeTransform<unknown, Record<string, unknown>> {
  constructor(private readonly mode: 'create' | 'update') {}

  transform(value: unknown): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new OAuthError('invalid_request', 'the request body must be a JSON object of client metadata');
    }
    assertRegistrantMaySet(Object.keys(value), this.mode);
    return value as Record<string, unknown>;
  }
}
