import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AdminApiKeyGuard, ADMIN_SECURITY } from '../common/admin-api-key.guard.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { OAuthError } from '../common/oauth-error.js';
import { OAuth2Client } from './client.dto.js';
import { ClientsService, adminView } from './clients.service.js';

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;

function pageSize(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE_SIZE)) throw new OAuthError('invalid_request', `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return n;
}

function optionalText(name: string, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new OAuthError('invalid_request', `${name} must be given once`);
  return raw;
}

@ApiTags('admin: clients')
@ApiBearerAuth(ADMIN_SECURITY)
@ApiResponse({ status: 401, type: ErrorResponseDto, description: 'Missing or wrong admin API key' })
@ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Invalid request or client metadata' })
@UseGuards(AdminApiKeyGuard)
@Controller('admin/clients')
export class AdminClientsController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a client', operationId: 'createOAuth2Client' })
  @ApiBody({ type: OAuth2Client })
  @ApiCreatedResponse({ type: OAuth2Client, description: 'The client, with client_secret shown this once' })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'client_id already taken' })
  async create(@Body(JsonObjectPipe) body: Record<string, unknown>, @Res({ passthrough: true }) res: Response) {
    const { client, secret } = await this.clients.adminCreate(body);
    res.setHeader('Cache-Control', 'no-store');
    return adminView(client, secret);
  }

  @Get()
  @ApiOperation({ summary: 'List clients, paginated', operationId: 'listOAuth2Clients' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } })
  @ApiQuery({ name: 'page_token', required: false, description: 'Opaque token from the Link header of the previous page' })
  @ApiQuery({ name: 'client_name', required: false })
  @ApiQuery({ name: 'owner', required: false })
  @ApiOkResponse({ type: OAuth2Client, isArray: true, description: 'A Link header with rel="next" is sent while more remain' })
  async list(@Query() query: Record<string, unknown>, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const size = pageSize(optionalText('page_size', query.page_size));
    const page = await this.clients.list({
      pageSize: size,
      pageToken: optionalText('page_token', query.page_token),
      clientName: optionalText('client_name', query.client_name),
      owner: optionalText('owner', query.owner),
    });
    const links = [`<${linkFor(req, size, undefined)}>; rel="first"`];
    if (page.nextPageToken) links.push(`<${linkFor(req, size, page.nextPageToken)}>; rel="next"`);
    res.setHeader('Link', links.join(', '));
    return page.items.map((c) => adminView(c));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a client', operationId: 'getOAuth2Client' })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiResponse({ status: 404, type: ErrorResponseDto })
  async get(@Param('id') id: string) {
    return adminView(await this.clients.get(id));
  }

  @Put(':id')
  @ApiOperation({ summary: 'Replace a client (the secret is kept unless client_secret is given)', operationId: 'setOAuth2Client' })
  @ApiBody({ type: OAuth2Client })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiResponse({ status: 404, type: ErrorResponseDto })
  async replace(@Param('id') id: string, @Body(JsonObjectPipe) body: Record<string, unknown>, @Res({ passthrough: true }) res: Response) {
    const { client, secret } = await this.clients.adminReplace(id, body);
    if (secret) res.setHeader('Cache-Control', 'no-store');
    return adminView(client, secret);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Patch a client with an RFC 6902 JSON Patch', operationId: 'patchOAuth2Client' })
  @ApiBody({
    schema: {
      type: 'array',
      items: {
        type: 'object',
        required: ['op', 'path'],
        properties: {
          op: { type: 'string', enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] },
          path: { type: 'string', example: '/client_name' },
          from: { type: 'string' },
          value: { example: 'New name' },
        },
      },
    },
  })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiResponse({ status: 404, type: ErrorResponseDto })
  async patch(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const { client, secret } = await this.clients.adminPatch(id, body);
    if (secret) res.setHeader('Cache-Control', 'no-store');
    return adminView(client, secret);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a client', operationId: 'deleteOAuth2Client' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 404, type: ErrorResponseDto })
  async delete(@Param('id') id: string): Promise<void> {
    await this.clients.delete(id);
  }
}

function linkFor(req: Request, size: number, token: string | undefined): string {
  const params = new URLSearchParams();
  params.set('page_size', String(size));
  if (token) params.set('page_token', token);
  for (const name of ['client_name', 'owner']) {
    const value = req.query[name];
    if (typeof value === 'string') params.set(name, value);
  }
  return `${req.baseUrl}${req.path}?${params.toString()}`;
}
