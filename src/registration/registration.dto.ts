// OpenAPI schemas of the RFC 7591/7592 bodies, generated from the metadata table.
import { ApiProperty } from '@nestjs/swagger';
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
