import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiQuery } from '@nestjs/swagger';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ApiErrorResponse, ApiPageResponse, PAGE_TOKEN_QUERY, type ErrorExamples } from '../common/api-responses.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { pageRequest, queryParam, sendPage } from '../common/pagination.js';
import { TrustedJwtGrantIssuerDto, TrustJwtGrantIssuerDto } from './trusted-issuer.dto.js';
import { TrustedIssuersService, trustView } from './trusted-issuers.service.js';

const PATH = '/admin/trust/grants/jwt-bearer/issuers';
const NOT_FOUND: ErrorExamples = { not_found: ['not_found', 'trusted issuer 9edc811f-4e28-453c-9b46-4de65f00217f does not exist'] };

/** Hydra's trust API (operation ids included), for the JWT bearer grant (README "JWT bearer grant"). */
@AdminApi('admin: trusted JWT grant issuers')
@Controller('admin/trust/grants/jwt-bearer/issuers')
export class AdminTrustController {
  constructor(private readonly trusts: TrustedIssuersService) {}

  @Post()
  @ApiOperation({ summary: 'Trust an issuer\'s key for JWT bearer grant assertions (RFC 7523 §2.1)', operationId: 'trustOAuth2JwtGrantIssuer' })
  @ApiBody({ type: TrustJwtGrantIssuerDto })
  @ApiCreatedResponse({ type: TrustedJwtGrantIssuerDto })
  @ApiErrorResponse(400, 'A missing or malformed field, a private or symmetric key, an expiry in the past', {
    private_key: ['invalid_request', 'jwk carries the private member "d"; send the public key only'],
    expired: ['invalid_request', 'expires_at must be in the future'],
  })
  @ApiErrorResponse(409, 'The issuer already trusts this key for this subject', {
    conflict: ['conflict', 'issuer https://jwt-idp.example.com is already trusted for subject mike@example.com with key partner-key-1'],
  })
  async create(@Body(JsonObjectPipe) body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpReply): Promise<TrustedJwtGrantIssuerDto> {
    const trust = await this.trusts.create(body);
    res.header('Location', `${PATH}/${trust.id}`);
    return trustView(trust);
  }

  @Get()
  @ApiOperation({ summary: 'List trusted JWT grant issuers, paginated', operationId: 'listTrustedOAuth2JwtGrantIssuers' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery(PAGE_TOKEN_QUERY)
  @ApiQuery({ name: 'issuer', required: false, description: 'Only the trust relationships of this issuer', schema: { type: 'string' } })
  @ApiPageResponse(TrustedJwtGrantIssuerDto, PATH)
  async list(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<TrustedJwtGrantIssuerDto[]> {
    const page = pageRequest(req);
    const issuer = queryParam(req, 'issuer');
    return sendPage(req, res, page, await this.trusts.list(page, issuer), ['issuer']).map(trustView);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read a trusted JWT grant issuer', operationId: 'getTrustedOAuth2JwtGrantIssuer' })
  @ApiOkResponse({ type: TrustedJwtGrantIssuerDto })
  @ApiErrorResponse(404, 'Not found', NOT_FOUND)
  async get(@Param('id') id: string): Promise<TrustedJwtGrantIssuerDto> {
    return trustView(await this.trusts.get(id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Stop trusting an issuer\'s key; its assertions are refused from now on',
    operationId: 'deleteTrustedOAuth2JwtGrantIssuer',
  })
  @ApiNoContentResponse()
  @ApiErrorResponse(404, 'Not found', NOT_FOUND)
  async delete(@Param('id') id: string): Promise<void> {
    await this.trusts.delete(id);
  }
}
