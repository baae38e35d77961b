// OpenAPI schemas of the RFC 7591/7592 bodies, generated from the metadata table.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { FieldDef } from '../clients/client-metadata.js';
import { decorateClientFields } from '../clients/client.dto.js';

/** Client metadata a registrant may send (RFC 7591 §2). Unknown fields are ignored. */
export class ClientRegistrationRequest {}
decorateClientFields(ClientRegistrationRequest.prototype, (_name: string, def: FieldDef) => def.setBy === 'registrant');

/** RFC 7592 §2.2 update: the registered metadata plus client_id (and optionally the current client_secret). */
export class ClientUpdateRequest {}
decorateClientFields(ClientUpdateRequest.prototype, (name: string, def: FieldDef) => def.setBy === 'registrant' || name === 'client_id' || name === 'client_secret');

/** RFC 7591 §3.2.1 / RFC 7592 §3 response. */
export class ClientRegistrationResponse {
  @ApiProperty({
    required: false,
    type: Boolean,
    readOnly: true,
    description: 'Present (true) only while an administrator has suspended the client: it gets no tokens and cannot be updated (README "Operating a fleet of dynamic clients")',
  })
  suspended?: boolean;

  @ApiProperty({ required: false, type: String, readOnly: true, description: 'Why the client is suspended, when it is and a reason was given' })
  suspended_reason?: string;
}
decorateClientFields(
  ClientRegistrationResponse.prototype,
  (name: string, def: FieldDef) => def.dcrVisible && !['created_at', 'updated_at'].includes(name),
);

/** Recovering a registration access token with a private_key_jwt client assertion (README "Re-registration and recovering a registration access token"). */
export class RegistrationAccessTokenRecoveryRequest {
  @ApiProperty({ enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], example: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' })
  client_assertion_type: string;

  @ApiProperty({
    description:
      'A JWT signed with a key of the client\'s jwks or jwks_uri (RFC 7523 §3): iss = sub = client_id, aud = this endpoint\'s URL or the issuer, exp at most 10 minutes ahead, a jti not used before',
    example: '',
  })
  client_assertion: string;

  @ApiPropertyOptional({ description: 'When sent, equal to the client_id in the path', example: '' })
  client_id?: string;
}
