import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ApiErrorResponse, ApiPageResponse, PAGE_TOKEN_QUERY } from '../common/api-responses.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { pageRequest, sendPage } from '../common/pagination.js';
import { ShapePipe } from '../common/shape.pipe.js';
import { InitialAccessTokenDto, MintInitialAccessTokenDto } from './initial-access-token.dto.js';
import { InitialAccessTokensService, iatView } from './initial-access-tokens.service.js';

@AdminApi('admin: initial access tokens')
@Controller('admin/initial-access-tokens')
export class AdminInitialAccessTokensController {
  constructor(private readonly iats: InitialAccessTokensService) {}

  @Post()
  @ApiOperation({ summary: 'Mint an initial access token (the token is shown only in this response)', operationId: 'createInitialAccessToken' })
  @ApiCreatedResponse({ type: InitialAccessTokenDto })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed body or unknown policy' })
  async mint(@Body(ShapePipe) dto: MintInitialAccessTokenDto, @Res({ passthrough: true }) res: HttpReply): Promise<InitialAccessTokenDto> {
    const { iat, token } = await this.iats.mint(dto);
    res.header('Cache-Control', 'no-store');
    return iatView(iat, token);
  }

  @Get()
  @ApiOperation({ summary: 'List initial access tokens, paginated', operationId: 'listInitialAccessTokens' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery(PAGE_TOKEN_QUERY)
  @ApiPageResponse(InitialAccessTokenDto, '/admin/initial-access-tokens')
  async list(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<InitialAccessTokenDto[]> {
    const page = pageRequest(req);
    return sendPage(req, res, page, await this.iats.list(page), []).map((iat) => iatView(iat));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read an initial access token (never its value)', operationId: 'getInitialAccessToken' })
  @ApiOkResponse({ type: InitialAccessTokenDto })
  @ApiErrorResponse(404, 'Not found', { not_found: ['not_found', 'initial access token 0b6e3a59-5c4e-4a3a-9b0e-1f2d3c4b5a69 does not exist'] })
  async get(@Param('id') id: string): Promise<InitialAccessTokenDto> {
    return iatView(await this.iats.get(id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an initial access token', operationId: 'deleteInitialAccessToken' })
  @ApiNoContentResponse()
  @ApiErrorResponse(404, 'Not found', { not_found: ['not_found', 'initial access token 0b6e3a59-5c4e-4a3a-9b0e-1f2d3c4b5a69 does not exist'] })
  async revoke(@Param('id') id: string): Promise<void> {
    await this.iats.revoke(id);
  }
}
