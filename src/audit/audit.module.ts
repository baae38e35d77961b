import { Global, Module } from '@nestjs/common';
import { AdminEventsController } from './admin-events.controller.js';
import { AuditEventsRepository } from './audit-events.repository.js';
import { AuditWebhooksService } from './audit-webhooks.service.js';
import { AuditService } from './audit.service.js';
import { RegistrationRefusals } from './registration-refusals.js';

/**
 * The audit trail (README "Audit events"): every module records its changes
 * through AuditService, inside the transaction that makes them.
 */
@Global()
@Module({
  controllers: [AdminEventsController],
  providers: [
    AuditEventsRepository,
    AuditService,
    AuditWebhooksService,
    RegistrationRefusals,
  ],
  exports: [AuditService, RegistrationRefusals],
})
export class AuditModule {}
