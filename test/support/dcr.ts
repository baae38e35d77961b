// Helpers for RFC 7591/7592 tests over real HTTP.
import type { RunningApp } from './app.js';
import type { AdminDoor } from './net.js';

/** An initial access token as minted: its id, its value (shown only then) and the rest of the 201 body. */
export type MintedIat = Record<string, unknown> & { id: string; token: string };

/** POST /admin/initial-access-tokens; throws unless it answers 201 with an id and a token. */
export async function mintIatRecord(svc: AdminDoor, body: Record<string, unknown> = {}): Promise<MintedIat> {
  const res = await svc.admin('/admin/initial-access-tokens', { method: 'POST', json: body });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`minting an IAT failed: ${res.status} ${text}`);
  const iat = JSON.parse(text) as MintedIat;
  if (typeof iat.id !== 'string' || typeof iat.token !== 'string') throw new Error(`minting an IAT gave no id or token: ${text}`);
  return iat;
}

/** A client as the admin API created it; `client_secret` (shown this once) is absent for public and private_key_jwt clients. */
export type CreatedClient = Record<string, unknown> & { client_id: string; client_secret: string };

/** POST /admin/clients; throws unless it answers 201, and returns the created client. */
export async function createAdminClient(svc: AdminDoor, body: Record<string, unknown>): Promise<CreatedClient> {
  const res = await svc.admin('/admin/clients', { method: 'POST', json: body });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`creating a client failed: ${res.status} ${text}`);
  return JSON.parse(text) as CreatedClient;
}

/** Mints an initial access token and returns its value. */
export async function mintIat(svc: AdminDoor, body: Record<string, unknown> = {}): Promise<string> {
  return (await mintIatRecord(svc, body)).token;
}

export function register(svc: RunningApp, body: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  return fetch(`${svc.url}/oauth2/register`, { method: 'POST', headers, body: JSON.stringify(body) });
}

export function manage(svc: RunningApp, method: 'GET' | 'PUT' | 'DELETE', clientId: string, rat: string | undefined, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (rat !== undefined) headers.Authorization = `Bearer ${rat}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${svc.url}/oauth2/register/${encodeURIComponent(clientId)}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Registers with a fresh single-use IAT and returns the 201 body. */
export async function registerClient(svc: RunningApp, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await register(svc, body, await mintIat(svc));
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}
