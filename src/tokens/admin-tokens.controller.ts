import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { AccessTokensService, type IntrospectionResponse } from './access-tokens.service.js';
import { formParams, requiredToken } from './form-params.js';
import type { SigningKeyEntity } from './signing-key.entity.js';
import { SigningKeysService } from './signing-keys.service.js';
import { IntrospectionResponseDto, SigningKeyDto, TokenParamDto } from './token.dto.js';

function keyView(k: SigningKeyEntity): SigningKeyDto {
  return {
    kid: k.kid,
    alg: k.alg,
    state: k.state,
    public_jwk: k.publicJwk,
    created_at: k.createdAt.toISOString(),
    retired_at: k.retiredAt ? k.retiredAt.toISOString() : null,
  };
}

@AdminApi('admin: tokens and keys')
@Controller('admin')
export class AdminTokensController {
  constructor(
    private readonly tokens: AccessTokensService,
    private readonly keys: SigningKeysService,
  ) {}

  @Post('oauth2/introspect')
  @HttpCode(200)
  @ApiOperation({ summary: 'Introspect any token (RFC 7662)', operationId: 'introspectOAuth2Token' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TokenParamDto })
  @ApiOkResponse({ type: IntrospectionResponseDto })
  introspect(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<IntrospectionResponse> {
    res.header('Cache-Control', 'no-store');
    const { params } = formParams(req);
    const token = requiredToken(params);
    return this.tokens.introspect(token);
  }

  @Get('keys')
  @ApiOperation({ summary: 'List signing keys (public parts only)', operationId: 'listSigningKeys' })
  @ApiOkResponse({ type: SigningKeyDto, isArray: true })
  async list(): Promise<SigningKeyDto[]> {
    return (await this.keys.list()).map(keyView);
  }

  @Post('keys/rotate')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Activate a new signing key; the previous one stays in the JWKS until the tokens it signed have expired',
    operationId: 'rotateSigningKey',
  })
  @ApiCreatedResponse({ type: SigningKeyDto })
  async rotate(): Promise<SigningKeyDto> {
    return keyView(await this.keys.rotate());
  }
}
