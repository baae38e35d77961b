import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ApiErrorResponse, ApiPageResponse, PAGE_TOKEN_QUERY } from '../common/api-responses.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { pageRequest, sendPage } from '../common/pagination.js';
import { LenientShapePipe } from '../common/shape.pipe.js';
import { PoliciesService, policyView } from './policies.service.js';
import { PolicyDto, PolicyInputDto } from './policy.dto.js';

@AdminApi('admin: policies')
@ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed policy; the description names the rule' })
@Controller('admin/policies')
export class AdminPoliciesController {
  constructor(private readonly policies: PoliciesService) {}

  @Post()
  @ApiOperation({ summary: 'Create a registration policy', operationId: 'createPolicy' })
  @ApiBody({ type: PolicyInputDto })
  @ApiCreatedResponse({ type: PolicyDto })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'The name is taken' })
  async create(@Body(JsonObjectPipe, LenientShapePipe) body: PolicyInputDto) {
    return policyView(await this.policies.create(body));
  }

  @Get()
  @ApiOperation({ summary: 'List registration policies, paginated', operationId: 'listPolicies' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery(PAGE_TOKEN_QUERY)
  @ApiPageResponse(PolicyDto, '/admin/policies')
  async list(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply) {
    const page = pageRequest(req);
    return sendPage(req, res, page, await this.policies.list(page), [], (p) => p.name).map(policyView);
  }

  @Get(':name')
  @ApiOperation({ summary: 'Read a registration policy', operationId: 'getPolicy' })
  @ApiOkResponse({ type: PolicyDto })
  @ApiErrorResponse(404, 'Not found', { not_found: ['not_found', 'policy partners does not exist'] })
  async get(@Param('name') name: string) {
    return policyView(await this.policies.get(name));
  }

  @Put(':name')
  @ApiOperation({ summary: 'Replace a registration policy; it applies from the next request on', operationId: 'setPolicy' })
  @ApiBody({ type: PolicyInputDto })
  @ApiOkResponse({ type: PolicyDto })
  @ApiErrorResponse(404, 'Not found', { not_found: ['not_found', 'policy partners does not exist'] })
  async replace(@Param('name') name: string, @Body(JsonObjectPipe, LenientShapePipe) body: PolicyInputDto) {
    return policyView(await this.policies.replace(name, body));
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a registration policy', operationId: 'deletePolicy' })
  @ApiNoContentResponse()
  @ApiErrorResponse(404, 'Not found', { not_found: ['not_found', 'policy partners does not exist'] })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'Named by the configuration, an unexpired initial access token or a client' })
  async delete(@Param('name') name: string): Promise<void> {
    await this.policies.delete(name);
  }
}
