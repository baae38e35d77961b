import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
} from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ApiErrorResponse, ApiFetchesBusyResponse, ApiPageResponse, PAGE_TOKEN_QUERY, type ErrorExamples } from '../common/api-responses.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { ShapePipe } from '../common/shape.pipe.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageRequest, queryParam, sendPage } from '../common/pagination.js';
import { AdminClientsService } from './admin-clients.service.js';
import { ApiClientFilterQueries } from './client-filter.dto.js';
import { CLIENT_FILTER_PARAMETERS, filterFromQuery } from './client-filter.js';
import { RotateClientSecretDto } from './client-secret-rotation.dto.js';
import { OAuth2Client } from './client.dto.js';
import { ClientsService } from './clients.service.js';

const INVALID_METADATA: ErrorExamples = {
  invalid_client_metadata: ['invalid_client_metadata', 'grant_types must be an array'],
  invalid_redirect_uri: ['invalid_redirect_uri', 'redirect_uris: "app/callback" is not an absolute URI'],
  not_an_object: ['invalid_request', 'the request body must be a JSON object'],
};
const NOT_FOUND: ErrorExamples = { not_found: ['not_found', 'client c1 does not exist'] };

@AdminApi('admin: clients')
@ApiErrorResponse(400, 'Invalid request', {
  invalid_url: ['invalid_request', 'the request URL contains a NUL character or an unpaired surrogate'],
})
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
  @ApiErrorResponse(400, 'Invalid request or client metadata; the description names the field', INVALID_METADATA)
  @ApiErrorResponse(409, 'client_id already taken', { conflict: ['conflict', 'a client with client_id c1 already exists'] })
  @ApiFetchesBusyResponse()
  async create(@Body(JsonObjectPipe) body: Record<string, unknown>, @Res({ passthrough: true }) res: HttpReply) {
    const issued = await this.admin.create(body);
    res.header('Cache-Control', 'no-store');
    return this.clients.adminView(issued);
  }

  @Get()
  @ApiOperation({ summary: 'List clients, paginated', operationId: 'listOAuth2Clients' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } })
  @ApiQuery(PAGE_TOKEN_QUERY)
  @ApiClientFilterQueries()
  @ApiPageResponse(OAuth2Client, '/admin/clients')
  @ApiErrorResponse(400, 'A bad page_size, page_token or filter, or a repeated query parameter; the description names it', {
    page_size: ['invalid_request', 'page_size must be an integer from 1 to 500'],
    page_token: ['invalid_request', 'page_token is not a token this server issued'],
    filter: ['invalid_request', 'last_used_before must be an RFC 3339 date-time, e.g. 2025-01-31T00:00:00Z'],
  })
  async list(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply) {
    const page = pageRequest(req);
    const rows = await this.clients.list(page, filterFromQuery((name) => queryParam(req, name)));
    return sendPage(req, res, page, rows, CLIENT_FILTER_PARAMETERS).map((client) => this.clients.adminView({ client }));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a client', operationId: 'getOAuth2Client' })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  async get(@Param('id') id: string) {
    return this.clients.adminView({ client: await this.clients.get(id) });
  }

  @Put(':id')
  @ApiOperation({ summary: 'Replace a client (the secret is kept unless client_secret is given)', operationId: 'setOAuth2Client' })
  @ApiBody({ type: OAuth2Client })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiErrorResponse(400, 'Invalid request or client metadata; the description names the field', {
    ...INVALID_METADATA,
    client_id_mismatch: ['invalid_request', 'client_id in the body must equal the client_id in the path'],
  })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  @ApiFetchesBusyResponse()
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
  @ApiErrorResponse(400, 'A malformed patch, or a patched client with invalid metadata', {
    invalid_client_metadata: INVALID_METADATA.invalid_client_metadata,
    client_id: ['invalid_request', 'JSON Patch: client_id cannot be changed'],
  })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  @ApiFetchesBusyResponse()
  async patch(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: HttpReply) {
    const issued = await this.admin.patch(id, body);
    if (issued.secret) res.header('Cache-Control', 'no-store');
    return this.clients.adminView(issued);
  }

  @Post(':id/secrets/rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the client secret: a new one is returned once; the previous one keeps working for the overlap',
    operationId: 'rotateOAuth2ClientSecret',
  })
  @ApiBody({ type: RotateClientSecretDto, required: false })
  @ApiOkResponse({ type: OAuth2Client, description: 'The client, with the new client_secret shown this once' })
  @ApiErrorResponse(400, 'The client uses no secret, or a malformed body', {
    no_secret: ['invalid_request', 'client c1 authenticates with token_endpoint_auth_method none, which uses no client secret: there is no secret to rotate'],
    overlap: ['invalid_request', 'previous_secret_expires_in must be a number of seconds from 0 to one year, or a duration such as 1h or 7d'],
  })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  async rotateSecret(@Param('id') id: string, @Body(ShapePipe) body: RotateClientSecretDto, @Res({ passthrough: true }) res: HttpReply) {
    const issued = await this.admin.rotateSecret(id, body);
    res.header('Cache-Control', 'no-store');
    return this.clients.adminView(issued);
  }

  @Delete(':id/secrets/rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'End every rotated client secret at once; the current secret stays',
    operationId: 'deleteRotatedOAuth2ClientSecrets',
  })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiErrorResponse(400, 'The client uses no secret', {
    no_secret: ['invalid_request', 'client c1 authenticates with token_endpoint_auth_method none, which uses no client secret: there is no secret to rotate'],
  })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  async dropRotatedSecrets(@Param('id') id: string) {
    return this.clients.adminView(await this.admin.dropRotatedSecrets(id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a client', operationId: 'deleteOAuth2Client' })
  @ApiNoContentResponse()
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  async delete(@Param('id') id: string): Promise<void> {
    await this.admin.delete(id);
  }
}
