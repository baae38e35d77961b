// The admin body of POST /admin/clients/{id}/secrets/rotate (README "Rotating client secrets").
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, ValidateBy } from 'class-validator';
import { parseDuration } from '../config/parsers.js';

/** The longest overlap an admin may give a replaced secret. */
export const MAX_ROTATION_OVERLAP = 365 * 86400;

export class RotateClientSecretDto {
  @ApiPropertyOptional({
    description:
      'How long the replaced secret keeps authenticating: seconds, or a duration such as 15m, 12h, 7d; 0 ends it at once. ' +
      'Omitted: oauth2.client_secret.rotation_overlap (24h by default).',
    oneOf: [{ type: 'integer', minimum: 0, maximum: MAX_ROTATION_OVERLAP }, { type: 'string', example: '1h' }],
    example: '1h',
  })
  @IsOptional()
  @ValidateBy({
    name: 'isOverlap',
    validator: {
      validate: (value: unknown) => {
        const seconds = parseDuration(value);
        return seconds !== undefined && seconds <= MAX_ROTATION_OVERLAP;
      },
      defaultMessage: () => 'previous_secret_expires_in must be a number of seconds from 0 to one year, or a duration such as 1h or 7d',
    },
  })
  previous_secret_expires_in?: number | string;
}
