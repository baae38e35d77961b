// Helpers for RFC 7591/7592 tests over real HTTP.
import type { RunningApp } from './app.js';

export async function mintIat(svc: RunningApp, body: Record<string, unknown> = {}): Promise<string> {
  const res = await svc.admin('/admin/initial-access-tokens', { method: 'POST', json: body });
  if (res.status !== 201) throw new Error(`minting an IAT failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
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
