import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { OAuthError } from '../common/oauth-error.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { GracefulShutdown } from '../common/graceful-shutdown.js';
import { Database } from './database.js';
import { HealthStatusDto } from './health-status.dto.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(Database) private readonly database: Database,
    private readonly shutdown: GracefulShutdown,
  ) {}

  @Get('alive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process is serving HTTP' })
  @ApiOkResponse({ type: HealthStatusDto })
  alive(): HealthStatusDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(200)
  @ApiOperation({ summary: 'Readiness: the database answers' })
  @ApiOkResponse({ type: HealthStatusDto })
  @ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: 'The database is unreachable, or the service is shutting down' })
  async ready(): Promise<HealthStatusDto> {
    if (this.shutdown.draining) throw new OAuthError('temporarily_unavailable', 'the service is shutting down');
    try {
      await this.database.ping();
    } catch {
      throw new OAuthError('temporarily_unavailable', 'the database is unreachable');
    }
    return { status: 'ok' };
  }
}
