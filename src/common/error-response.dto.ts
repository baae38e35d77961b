import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The body of every error response (RFC 6749 §5.2 shape). */
export class ErrorResponseDto {
  @ApiProperty({ example: 'invalid_client_metadata', description: 'An RFC error code' })
  error: string;

  @ApiPropertyOptional({ example: 'redirect_uris must be an array' })
  error_description?: string;
}
