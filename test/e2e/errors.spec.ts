import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OAuthExceptionFilter } from '../../src/common/oauth-exception.filter.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { freePort } from '../support/net.js';
import { expectOAuthError as expectJsonError } from '../support/expect.js';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});


describe('error responses', () => {
  it('answers an unknown route with 404 JSON', async () => {
    await expectJsonError(await fetch(`${svc.url}/no/such/route`), 404, 'not_found');
  });

  it('answers malformed JSON with 400 invalid_request', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"client_name": ' });
    await expectJsonError(res, 400, 'invalid_request');
  });

  it('answers an oversized body with 413 JSON', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: { client_name: 'x'.repeat(70_000) } });
    await expectJsonError(res, 413, 'request_entity_too_large');
  });

  it('answers an unsupported content type with 415 JSON', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' });
    await expectJsonError(res, 415, 'unsupported_media_type');
  });

  it('answers a JSON body that is not an object with 400 invalid_request', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: ['not', 'an', 'object'] });
    await expectJsonError(res, 400, 'invalid_request');
  });

  it.each([
    ['/admin/policies', { name: { constructor: {} }, rules: {} }, 'name'],
    ['/admin/policies', { name: 'ctor-rules', rules: { constructor: { prototype: {} }, allowed_scopes: { constructor: {} } } }, 'allowed_scopes'],
    ['/admin/initial-access-tokens', { description: { constructor: {} } }, 'description'],
  ])('answers a body whose nested object carries a constructor key with 400, not 500 (POST %s)', async (path, body, field) => {
    const res = await svc.admin(path, { method: 'POST', json: body });
    await expectJsonError(res, 400, 'invalid_request', field);
  });

  it('answers a body without Content-Type with 415', async () => {
    const res = await fetch(`${svc.url}/admin/clients`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_KEY}` },
      body: new Uint8Array([123, 125]),
    });
    await expectJsonError(res, 415, 'unsupported_media_type');
  });
});

describe('request ids and logs', () => {
  it('echoes a well-formed X-Request-Id and assigns one otherwise', async () => {
    const given = await fetch(`${svc.url}/health/alive`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const assigned = await fetch(`${svc.url}/health/alive`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(assigned.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('writes one JSON line per request with its id, and never the Authorization header, the key or a secret', async () => {
    const res = await svc.admin('/admin/clients?owner=logcheck', { headers: { 'X-Request-Id': 'log-check-1' } });
    expect(res.status).toBe(200);
    const created = await svc.admin('/admin/clients', { method: 'POST', json: { grant_types: ['client_credentials'] } });
    const secret = ((await created.json()) as { client_secret: string }).client_secret;
    await new Promise((r) => setTimeout(r, 20));
    const lines = svc.logs.map((l) => JSON.parse(l) as { req?: { id?: string }; [k: string]: unknown });
    const line = lines.find((l) => l.req?.id === 'log-check-1');
    expect(line).toMatchObject({ level: 'info', msg: 'request', req: { method: 'GET', path: '/admin/clients' }, res: { status: 200 } });
    const all = svc.logs.join('\n');
    expect(all).not.toContain(ADMIN_KEY);
    expect(all).not.toContain(secret);
    expect(all).not.toMatch(/"authorization"|Bearer |Basic /i);
    expect(all).not.toContain('logcheck'); // query strings are not logged
  });
});

@Controller('boom')
class BoomController {
  @Get()
  boom(): never {
    throw new Error('connection string postgres://user:hunter2@db/x exploded');
  }
}

@Module({ controllers: [BoomController] })
class BoomModule {}

describe('unexpected failures', () => {
  it('answer 500 server_error with no internals, and are logged', async () => {
    const lines: string[] = [];
    const logger = { error: (obj: unknown, msg: unknown) => void lines.push(JSON.stringify({ level: 'error', msg, ...(obj as object) })) };
    const app = await NestFactory.create<NestFastifyApplication>(BoomModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new OAuthExceptionFilter(logger));
    const port = await freePort();
    await app.listen(port, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/boom`);
      const body = await expectJsonError(res, 500, 'server_error');
      expect(body).toEqual({ error: 'server_error' });
      expect(lines.some((l) => l.includes('"level":"error"'))).toBe(true);
    } finally {
      await app.close();
    }
  });
});
