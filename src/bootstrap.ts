// Builds the Nest application the same way for the service and for the tests,
// on Fastify (measured several times faster than Express here: docs/benchmarks.md).
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import formbody from '@fastify/formbody';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppModule, type AppOptions } from './app.module.js';
import { enterRequestContext } from './audit/audit-context.js';
import { ADMIN_SECURITY } from './common/admin-api-key.guard.js';
import { AdminListener, isAdminOnlyPath } from './common/admin-listener.js';
import { CLIENT_BASIC_SECURITY } from './tokens/token.controller.js';
import { USERINFO_SECURITY } from './tokens/userinfo.controller.js';
import { ClientsRepository } from './clients/clients.repository.js';
import { corsHook, type OriginLookup } from './common/cors.js';
import { mediaType, requestPath, type HttpRequest } from './common/http.js';
import { AppLogger, createPino, NestLogAdapter } from './common/logging.js';
import { MetricsService } from './common/metrics.js';
import { assertSafeInput, assertSafeUrl } from './common/safe-input.js';
import { OAuthError } from './common/oauth-error.js';
import { OAuthExceptionFilter, sendError } from './common/oauth-exception.filter.js';
import type { ResolvedConfig } from './config/load-config.js';
import { IAT_SECURITY, RAT_SECURITY, REGISTRATION_SCOPE_SECURITY } from './registration/registration.controller.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const JSON_TYPES = /^application\/([a-z0-9.+-]+\+)?json$/i;

export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  // The bearer credentials are opaque to their holder (admin keys, IATs and RATs are random
  // strings; access tokens may be JWTs or opaque by configuration), so no bearerFormat is claimed.
  const bearer = (description: string) => ({ type: 'http' as const, scheme: 'bearer', description });
  const config = new DocumentBuilder()
    .setTitle('Registrar')
    .setDescription(
      'OAuth 2.0 / OpenID Connect Dynamic Client Registration server. Every error body is ' +
        '{"error": "(an RFC error code)", "error_description": "(what went wrong)"}.',
    )
    .setVersion('0.1.0')
    .addServer('/', 'The server that serves this document')
    .addServer('{issuer}', 'The issuer URL (urls.self.issuer); every path is relative to it', {
      issuer: { default: 'http://127.0.0.1:4444', description: 'urls.self.issuer (default http://127.0.0.1:<serve.public.port>)' },
    })
    .addSecurity(ADMIN_SECURITY, bearer('An admin API key (admin.api_keys)'))
    .addSecurity(IAT_SECURITY, bearer('An initial access token (RFC 7591 §3)'))
    .addSecurity(
      REGISTRATION_SCOPE_SECURITY,
      bearer('An access token of this server with the scope oidc.dynamic_client_registration.access_token.scope (README "Registering with an access token"); a DPoP-bound one as Authorization: DPoP with a proof'),
    )
    .addSecurity(RAT_SECURITY, bearer('The client\'s registration access token (RFC 7592)'))
    .addSecurity(USERINFO_SECURITY, bearer('An access token issued with the openid scope'))
    .addSecurity(CLIENT_BASIC_SECURITY, {
      type: 'http',
      scheme: 'basic',
      description:
        'client_secret_basic: the form-URL-encoded client_id and client_secret (RFC 6749 §2.3.1). ' +
        'client_secret_post and private_key_jwt credentials go in the form body instead',
    })
    .build();
  config.info.contact = { name: 'Registrar maintainers' };
  config.info.license = { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' };
  return SwaggerModule.createDocument(app, config);
}

function adapter(config: ResolvedConfig, logger: AppLogger): FastifyAdapter {
  const proxies = config.values['serve.public.trusted_proxies'];
  return new FastifyAdapter({
    bodyLimit: config.values['serve.public.request_body_limit'],
    // X-Forwarded-For is believed only from configured proxies (it decides the rate-limited address).
    trustProxy: proxies.length > 0 ? proxies : false,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const offered = req.headers['x-request-id'];
      return typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    },
    // Unknown fields are ignored (RFC 7591 §2), so prototype-poisoning keys are dropped, not refused.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // No Fastify logger: it would create a child logger per request. The access-log
    // line comes from the onResponse hook below, framework errors from sendError.
    logger: false,
    // Client ids may be 255 characters; every path parameter must fit.
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 1024 },
    // Malformed URLs and the like, refused by the router itself, answer in the OAuth error format too.
    frameworkErrors: (err: Error, req: HttpRequest, reply: FastifyReply) => sendError(err, req, reply, logger),
    // Requests whose head Node cannot parse never reach Fastify's routing; they get the OAuth error shape too.
    clientErrorHandler: answerUnreadableRequest,
  });
}

/** A 408, 431 or 400 in the one error shape, written straight to the socket, which is then closed. */
function answerUnreadableRequest(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, error, description] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'invalid_request', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'invalid_request', 'the request head (URL and headers) is too large']
        : [400, 'Bad Request', 'invalid_request', 'the request could not be parsed'];
  const body = JSON.stringify({ error, error_description: description });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Body parsers, request ids, CORS, the access log and metrics, as Fastify hooks. */
function configureHttp(
  fastify: FastifyInstance,
  config: ResolvedConfig,
  logger: AppLogger,
  metrics: MetricsService | undefined,
  originListedByClient: OriginLookup | undefined,
  adminListener: AdminListener | undefined,
): void {
  // Only JSON (also +json, e.g. JSON Patch) and form bodies are accepted; anything else is 415.
  // An empty JSON body is no body (a DELETE sent with Content-Type: application/json).
  const parseJson = fastify.getDefaultJsonParser('remove', 'remove');
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  fastify.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, undefined);
    parseJson(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      try {
        assertSafeInput(value, 'the request body');
        done(null, value);
      } catch (refused) {
        done(refused as Error, undefined);
      }
    });
  });
  fastify.register(formbody);
  fastify.addHook('preValidation', async (req) => {
    if (req.body !== undefined && mediaType(req) === 'application/x-www-form-urlencoded') assertSafeInput(req.body, 'the request body');
  });
  fastify.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
    assertSafeUrl(req.url);
  });
  if (adminListener && config.values['serve.admin.port'] !== undefined) {
    // Each port answers its own routes; the other's get the same 404 as an unknown route.
    fastify.addHook('onRequest', async (req) => {
      if (adminListener.accepts(req.raw) !== isAdminOnlyPath(requestPath(req))) {
        throw new OAuthError('not_found', `no route for ${req.method} ${req.url}`);
      }
    });
    adminListener.attach(fastify);
  }
  // The request an audit event is recorded in (README "Audit events").
  fastify.addHook('preHandler', enterRequestContext);
  fastify.addHook('onRequest', corsHook(config.values['serve.public.cors.allowed_origins'], originListedByClient));
  fastify.addHook('onResponse', async (req: HttpRequest, reply: FastifyReply) => {
    const status = reply.statusCode;
    // Readiness answering 503 (draining at shutdown, or the database unreachable) is a state the
    // probe reports, not a fault of the request; it stays at info.
    const fault = status >= 500 && !(status === 503 && req.routeOptions.url === '/health/ready');
    if (logger.pino.isLevelEnabled(fault ? 'error' : 'info')) {
      const fields = { req: { id: req.id, method: req.method, path: requestPath(req) }, res: { status }, responseTime: Math.round(reply.elapsedTime) };
      if (fault) logger.error(fields, 'request');
      else logger.info(fields, 'request');
    }
    if (!metrics) return;
    // The route pattern, not the path, keeps label values few (no client ids).
    const labels = { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (req.method === 'POST' && labels.route === '/oauth2/register' && status !== 201) {
      metrics.rejectedRegistrations.inc({ error: req.oauthErrorCode ?? String(status) });
    }
  });
}

export async function createApp(options: AppOptions & { preview?: boolean }): Promise<NestFastifyApplication> {
  const pino = createPino(options.preview ? 'silent' : (options.config.values['log.level']), options.logDestination);
  const logger = new AppLogger(pino);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot({ ...options, logger }), adapter(options.config, logger), {
    logger: new NestLogAdapter(pino),
    bodyParser: false,
    abortOnError: false,
    preview: options.preview,
  });
  // In preview mode (the OpenAPI export) no provider is instantiated.
  const clients = options.preview ? undefined : app.get(ClientsRepository);
  configureHttp(
    app.getHttpAdapter().getInstance(),
    options.config,
    logger,
    options.preview ? undefined : app.get(MetricsService),
    clients && ((origin) => clients.anyAllowsOrigin(origin)),
    options.preview ? undefined : app.get(AdminListener),
  );
  app.useGlobalFilters(new OAuthExceptionFilter(logger));
  // After a clean shutdown the process exits 0 (instead of re-raising the signal).
  app.enableShutdownHooks(undefined, { useProcessExit: true });
  if (options.config.values['serve.docs.enabled']) {
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
      jsonDocumentUrl: 'docs-json',
      yamlDocumentUrl: 'docs-yaml',
      customSiteTitle: 'Registrar API',
    });
  }
  return app;
}

/**
 * Listens on serve.public.host:serve.public.port and, when serve.admin.port is
 * set, on the admin listener too (README "Operating Registrar", Admin listener). On failure the
 * caller closes the app.
 */
export async function listen(app: NestFastifyApplication, config: ResolvedConfig): Promise<void> {
  await app.listen(config.values['serve.public.port'], config.values['serve.public.host']);
  const adminPort = config.values['serve.admin.port'];
  if (adminPort === undefined) return;
  await app.get(AdminListener).listen(app.getHttpAdapter().getInstance(), adminPort, config.values['serve.admin.host'], answerUnreadableRequest);
}
