// OpenAPI schemas of the RFC 7591/7592 bodies, generated from the metadata table.
import type { FieldDef } from '../clients/client-metadata.js';
import { decorateClientFields } from '../clients/client.dto.js';

/** Client metadata a registrant may send (RFC 7591 §2). Unknown fields are ignored. */
export class ClientRegistrationRequest {}
decorateClientFields(ClientRegistrationRequest.prototype, (_name: string, def: FieldDef) => def.setBy === 'registrant');

/** RFC 7592 §2.2 update: the registered metadata plus client_id (and optionally the current client_secret). */
export class ClientUpdateRequest {}
decorateClientFields(ClientUpdateRequest.prototype, (name: string, def: FieldDef) => def.setBy === 'registrant' || name === 'client_id' || name === 'client_secret');

/** RFC 7591 §3.2.1 / RFC 7592 §3 response. */
export class ClientRegistrationResponse {}
decorateClientFields(
  ClientRegistrationResponse.prototype,
  (name: string, def: FieldDef) => def.dcrVisible && !['created_at', 'updated_at'].includes(name),
);
