import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { parseDuration } from '../config/parsers.js';

const MAX_EXPIRES_IN = 10 * 365 * 86400;

function IsDuration(): PropertyDecorator {
  return ValidateBy({
    name: 'isDuration',
    validator: {
      validate: (value: unknown) => {
        const seconds = parseDuration(value);
        return seconds !== undefined && seconds > 0 && seconds <= MAX_EXPIRES_IN;
      },
      defaultMessage: () => 'expires_in must be a positive number of seconds (at most ten years) or a duration such as 1h or 7d',
    },
  });
}

export class MintInitialAccessTokenDto {
  @ApiPropertyOptional({
    description: 'Lifetime: seconds, or a duration such as 15m, 12h, 7d. Omitted: the token does not expire.',
    oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', example: '7d' }],
    example: 3600,
  })
  @IsOptional()
  @IsDuration()
  expires_in?: number | string;

  @ApiPropertyOptional({ description: 'How many clients may be registered with the token', default: 1, minimum: 1, maximum: 1_000_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  max_uses?: number;

  @ApiPropertyOptional({ description: 'Policies applied, in this order, to registrations made with the token', type: [String], example: ['partners'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @Matches(/^[A-Za-z0-9._:-]{1,100}$/, { each: true, message: 'each policy name must be 1-100 characters of A-Z a-z 0-9 . _ : -' })
  policies?: string[];

  @ApiPropertyOptional({ example: 'Partner onboarding, ACME Corp' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class InitialAccessTokenDto {
  @ApiProperty({ example: '0b6d7c1e-2f0a-4d55-9c1e-6a8e2b7f4d10' })
  id: string;

  @ApiPropertyOptional({ description: 'The token; returned only when minted, stored only as a hash', example: 'q3Vb0...' })
  token?: string;

  @ApiProperty({ example: 'Partner onboarding, ACME Corp' })
  description: string;

  @ApiProperty({ type: [String], example: ['partners'] })
  policies: string[];

  @ApiProperty({ example: 5 })
  max_uses: number;

  @ApiProperty({ example: 0 })
  uses: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expires_at: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  created_at: string;
}
