import { Module } from '@nestjs/common';
import { AdminTrustController } from './admin-trust.controller.js';
import { TrustedIssuersRepository } from './trusted-issuers.repository.js';
import { TrustedIssuersService } from './trusted-issuers.service.js';

/** Issuers trusted for the JWT bearer grant (RFC 7523 §2.1), managed over the admin API. */
@Module({
  controllers: [AdminTrustController],
  providers: [TrustedIssuersRepository, TrustedIssuersService],
  exports: [TrustedIssuersService],
})
export class TrustModule {}
