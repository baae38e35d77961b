import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageRequest, queryParam, sendPage } from '../common/pagination.js';
import { AdminClientsService } from './admin-clients.service.js';
import { OAuth2Client } from './client.dto.js';
import { ClientsService } from './clients.service.js';

@AdminApi('admin: clients')
@ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Invalid request or client metadata' })
@Controller('admin/clients')
export class AdminClientsController {
  constructor(
    private readonly clients: ClientsService,
    private readonly admin: AdminClientsService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a client', operationId: 'createOAuth2Client' })
  @ApiBody({ type: OAuth2Client })
  @ApiCreatedResponse({ type: OAuth2Client, description: 'The client, with client_secret shown this once' })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'client_id already taken' })
  async create(@Body(JsonObjectPipe) body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpReply) {
    const issued = await this.admin.create(body);
    res.header('Cache-Control', 'no-store');
    return this.clients.adminView(issued);
  }

  @Get()
  @ApiOperation({ summary: 'List clients, paginated', operationId: 'listOAuth2Clients' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } })
  @ApiQuery({ name: 'page_token', required: false, description: 'Opaque token from the Link header of the previous page' })
  @ApiQuery({ name: 'client_name', required: false })
  @ApiQuery({ name: 'owner', required: false })
  @ApiOkResponse({ type: OAuth2Client, isArray: true, description: 'A Link header with rel="next" is sent while more remain' })
  async list(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply) {
    const page = pageRequest(req);
    const rows = await this.clients.list(page, { clientName: queryParam(req, 'client_name'), owner: queryParam(req, 'owner') });
    return sendPage(req, res, page, rows, ['client_name', 'owner']).map((client) => this.clients.adminView({ client }));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a client', operationId: 'getOAuth2Client' })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiResponse({ status: 404, type: ErrorResponseDto })
  async get(@Param('id') id: string) {
    return this.clients.adminView({ client: await this.clients.get(id) });
  }

  @Put(':id')
  @ApiOperation({ summary: 'Replace a client (the secret is kept unless client_secret is given)', operationId: 'setOAuth2Client' })
  @ApiBody({ type: OAuth2Client })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiResponse({ status: 404, type: ErrorResponseDto })
  async replace(@Param('id') id: string, @Body(JsonObjectPipe) body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpReply) {
    const issued = await this.admin.replace(id, body);
    if (issued.secret) res.header('Cache-Control', 'no-store');
    return this.clients.adminView(issued);
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
  async patch(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: HttpReply) {
    const issued = await this.admin.patch(id, body);
    if (issued.secret) res.header('Cache-Control', 'no-store');
    return this.clients.adminView(issued);
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
