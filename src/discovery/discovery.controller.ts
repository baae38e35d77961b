import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ConfigService } from '../config/config.service.js';
import { SigningKeysService } from '../tokens/signing-keys.service.js';
import { buildDiscoveryDocument } from './discovery-document.js';

@ApiTags('discovery')
@Controller('.well-known')
export class DiscoveryController {
  constructor(
    private readonly config: ConfigService,
    private readonly keys: SigningKeysService,
  ) {}

  @Get('openid-configuration')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({ summary: 'OpenID Connect Discovery document', operationId: 'discoverOidcConfiguration' })
  @ApiOkResponse({ description: 'Server metadata', schema: { type: 'object', additionalProperties: true } })
  openidConfiguration(): Record<string, unknown> {
    return buildDiscoveryDocument(this.config);
  }

  @Get('oauth-authorization-server')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({ summary: 'OAuth 2.0 Authorization Server Metadata (RFC 8414)', operationId: 'discoverOAuth2AuthorizationServer' })
  @ApiOkResponse({ description: 'Server metadata', schema: { type: 'object', additionalProperties: true } })
  oauthAuthorizationServer(): Record<string, unknown> {
    return buildDiscoveryDocument(this.config);
  }

  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=60')
  @ApiOperation({ summary: 'Public keys that verify JWT access tokens (RFC 7517)', operationId: 'discoverJsonWebKeys' })
  @ApiOkResponse({ description: 'JWK Set', schema: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object' } } } } })
  jwks(): Promise<{ keys: unknown[] }> {
    return this.keys.jwks();
  }
}
