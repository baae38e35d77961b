// Builds the Nest application the same way for the service and for the tests.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { AppModule, type AppOptions } from './app.module.js';
import { ADMIN_SECURITY } from './common/admin-api-key.guard.js';
import { Logger } from 'nestjs-pino';
import { NestLogAdapter } from './common/logging.js';
import { OAuthExceptionFilter } from './common/oauth-exception.filter.js';
import { IAT_SECURITY, RAT_SECURITY } from './registration/registration.controller.js';

export function buildOpenApiDocument(app: NestExpressApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Registrar')
    .setDescription(
      'OAuth 2.0 / OpenID Connect Dynamic Client Registration server. Every error body is ' +
        '{"error": "(an RFC error code)", "error_description": "(what went wrong)"}.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An admin API key (admin.api_keys)' }, ADMIN_SECURITY)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An initial access token (RFC 7591 §3)' }, IAT_SECURITY)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The client\'s registration access token (RFC 7592)' }, RAT_SECURITY)
    .build();
  return SwaggerModule.createDocument(app, config);
}

export async function createApp(options: AppOptions & { preview?: boolean }): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bodyParser: false,
    bufferLogs: !options.preview,
    logger: options.preview ? false : undefined,
    abortOnError: false,
    preview: options.preview,
  });
  // In preview mode (the OpenAPI export) no provider is instantiated, so there is no logger to ask for.
  const logger = options.preview ? { error: () => undefined } : app.get(Logger);
  if (!options.preview) app.useLogger(new NestLogAdapter(app.get(Logger)));
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // X-Forwarded-For is believed only from configured proxies (it decides the rate-limited address).
  const proxies = options.config.values['serve.public.trusted_proxies'] as string[];
  app.set('trust proxy', proxies.length > 0 ? proxies : false);
  app.useGlobalFilters(new OAuthExceptionFilter(logger));
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    customSiteTitle: 'Registrar API',
  });
  return app;
}
