// OpenAPI schemas for clients, generated from the metadata table so the
// document cannot drift from what the validator accepts.
import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { CLIENT_FIELDS, type FieldDef } from './client-metadata.js';

const EXAMPLES: Record<string, unknown> = {
  client_id: '3f1c2a9e-5d1b-4c47-9a3e-0b8f7e6d5c4a',
  client_secret: 'mD8n2rV0cQ4kX1yH7sL9pT3wZ6aF5eJ0uB2gN8vK4xE',
  client_name: 'Billing integration',
  redirect_uris: ['https://app.example.com/callback'],
  grant_types: ['client_credentials'],
  response_types: [],
  scope: 'invoices.read invoices.write',
  token_endpoint_auth_method: 'client_secret_basic',
  owner: 'team-billing',
  contacts: ['ops@example.com'],
  audience: ['https://api.example.com'],
  metadata: { cost_center: '4711' },
  registered_client_policies: ['partners'],
  access_token_strategy: 'jwt',
  created_via: 'admin',
};

function schemaFor(name: string, def: FieldDef): ApiPropertyOptions {
  const base: ApiPropertyOptions = { required: false, example: EXAMPLES[name] };
  switch (def.kind) {
    case 'boolean':
      return { ...base, type: Boolean };
    case 'max_age':
      return { ...base, type: Number, nullable: true, minimum: 0 };
    case 'enum':
      return { ...base, type: String, enum: [...def.values!] };
    case 'enum_list':
      return { ...base, type: String, isArray: true, enum: [...def.values!] };
    case 'redirect_uris':
    case 'urls':
    case 'strings':
    case 'origins':
      return { ...base, type: String, isArray: true, maxItems: def.maxItems };
    case 'jwks':
      return { ...base, type: 'object', additionalProperties: true, description: 'JSON Web Key Set of public keys' } as ApiPropertyOptions;
    case 'object':
      return { ...base, type: 'object', additionalProperties: true } as ApiPropertyOptions;
    case 'url':
      return { ...base, type: String, format: 'uri' };
    default:
      return { ...base, type: String };
  }
}

/** One entry of `client_secrets`: a secret that still authenticates, shown without its value. */
export class ClientSecretInfo {
  @ApiProperty({ format: 'date-time', example: '2026-01-05T09:00:00.000Z' })
  created_at: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'null: it does not expire' })
  expires_at: string | null;

  @ApiProperty({ description: 'true for the current secret; false for one a rotation replaced, valid until expires_at' })
  current: boolean;
}

/** Who authorised a registration made with an access token (README "Registering with an access token"). */
export class RegisteredBy {
  @ApiProperty({ example: 'partner-portal', description: 'The client the access token was issued to' })
  client_id: string;

  @ApiProperty({ example: 'alice', description: "The token's subject: the signed-in user, or the client itself for client_credentials" })
  subject: string;
}

function describeField(name: string, def: FieldDef): string {
  if (name === 'client_secret') return 'Returned once, when created, replaced or rotated; stored only as a hash';
  if (name === 'client_secrets') return 'The secrets that authenticate the client now, without their values (README "Rotating client secrets")';
  if (name === 'registration_access_token') return 'RFC 7592 bearer token for /oauth2/register/{client_id}; returned when issued or rotated';
  if (name === 'registered_by') return 'Set by the server when the client was registered with an access token: who authorised it';
  if (name === 'registered_client_policies') {
    return 'Settable through the admin API only: policies applied to the clients this client registers with an access token (README "Registering with an access token"); each must exist';
  }
  if (name === 'access_token_strategy') return 'Token format for this client (opaque or jwt); empty = the global strategies.access_token';
  if (def.setBy === 'server') return 'Set by the server';
  if (def.setBy === 'admin') return 'Settable through the admin API only';
  return '';
}

/** Adds one OpenAPI property per metadata field that `filter` selects. */
export function decorateClientFields(target: object, filter: (name: string, def: FieldDef) => boolean): void {
  for (const [name, def] of Object.entries(CLIENT_FIELDS)) {
    if (!filter(name, def)) continue;
    let options = schemaFor(name, def);
    if (['client_id_issued_at', 'client_secret_expires_at'].includes(name)) options = { ...options, type: Number } as ApiPropertyOptions;
    if (name === 'client_secrets') options = { required: false, type: ClientSecretInfo, isArray: true, readOnly: true };
    if (name === 'registered_by') options = { required: false, type: RegisteredBy, readOnly: true };
    const description = describeField(name, def);
    ApiProperty(description ? { ...options, description } : options)(target, name);
  }
}

/** A client as the admin API reads and writes it (Hydra's OAuth2Client). */
export class OAuth2Client {
  @ApiProperty({ required: false, enum: ['admin', 'dcr'], description: 'How the client was created', readOnly: true })
  created_via?: string;

  @ApiProperty({
    required: false,
    type: String,
    format: 'date-time',
    nullable: true,
    readOnly: true,
    description: 'When the client was suspended; null while it is not (README "Operating a fleet of dynamic clients")',
  })
  suspended_at?: string | null;

  @ApiProperty({ required: false, type: String, nullable: true, readOnly: true, description: 'Why the client was suspended; also shown to its registrant' })
  suspended_reason?: string | null;

  @ApiProperty({ required: false, type: String, nullable: true, readOnly: true, description: 'The issuer of the software statement the client registered with (RFC 7591 §2.3)' })
  software_statement_issuer?: string | null;

  @ApiProperty({
    required: false,
    type: String,
    format: 'date-time',
    nullable: true,
    readOnly: true,
    description: 'The exp of that software statement; null when it has none or the client has no statement',
  })
  software_statement_expires_at?: string | null;
}
decorateClientFields(OAuth2Client.prototype, () => true);
