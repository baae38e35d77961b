// How a client is shown: to the admin API (Hydra's OAuth2Client shape) and to
// its registrant (RFC 7591 §3.2.1, RFC 7592 §3). Each view is given the
// client's registration_client_uri, when it has one, by whoever builds it.
import { fieldDef } from './client-metadata.js';
import { secretsView } from './client-secrets.js';
import type { ClientEntity } from './client.entity.js';

/** A client together with the credentials that exist in plain text only in this response. */
export interface IssuedClient {
  client: ClientEntity;
  secret?: string;
  registrationAccessToken?: string;
}

/**
 * The RFC 7592 client configuration endpoint of a client, or undefined when it
 * has no registration access token (an admin client, or management turned off).
 */
export function registrationClientUri(issuer: string, client: ClientEntity): string | undefined {
  return client.ratHash === null ? undefined : `${issuer}/oauth2/register/${encodeURIComponent(client.id)}`;
}

/** Every field of a client, as the admin API shows it. */
export function adminClientView(issued: IssuedClient, clientUri: string | undefined): Record<string, unknown> {
  const { client } = issued;
  const view = baseView(issued, client.fields, clientUri);
  view.client_name ??= '';
  view.owner ??= '';
  view.access_token_strategy = client.accessTokenStrategy ?? '';
  view.created_via = client.createdVia;
  if (client.registeredByClientId != null) {
    view.registered_by = { client_id: client.registeredByClientId, subject: client.registeredBySubject };
  }
  view.suspended_at = client.suspendedAt?.toISOString() ?? null;
  view.suspended_reason = client.suspendedReason ?? null;
  view.software_statement_issuer = client.softwareStatementIssuer ?? null;
  view.software_statement_expires_at = client.softwareStatementExpiresAt?.toISOString() ?? null;
  view.client_secrets = secretsView(client);
  view.created_at = client.createdAt.toISOString();
  view.updated_at = client.updatedAt.toISOString();
  return view;
}

/** What a registrant sees: no operator metadata, no strategy, no stored secret. */
export function registrantClientView(issued: IssuedClient, clientUri: string | undefined): Record<string, unknown> {
  const visible = Object.entries(issued.client.fields).filter(([name]) => fieldDef(name)?.dcrVisible !== false);
  const view = baseView(issued, Object.fromEntries(visible), clientUri);
  // The registrant learns its client is suspended, and why (README "Operating a fleet of dynamic clients").
  if (issued.client.suspendedAt) {
    view.suspended = true;
    if (issued.client.suspendedReason) view.suspended_reason = issued.client.suspendedReason;
  }
  return view;
}

function baseView(issued: IssuedClient, fields: Record<string, unknown>, clientUri: string | undefined): Record<string, unknown> {
  const { client, secret, registrationAccessToken } = issued;
  const view: Record<string, unknown> = { client_id: client.id };
  if (secret !== undefined) view.client_secret = secret;
  Object.assign(view, fields);
  view.client_id_issued_at = epochSeconds(client.createdAt);
  view.client_secret_expires_at = epochSeconds(client.secretExpiresAt);
  if (registrationAccessToken !== undefined) view.registration_access_token = registrationAccessToken;
  if (clientUri !== undefined) view.registration_client_uri = clientUri;
  return view;
}

function epochSeconds(date: Date | null): number {
  return date ? Math.floor(date.getTime() / 1000) : 0;
}
