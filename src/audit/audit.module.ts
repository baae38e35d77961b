import { Global, Module } from '@nestjs/common';
import { AdminEventsController } from './admin-events.controller.js';
import { AuditEventsRepository } from './audit-events.repository.js';
import { AuditWebhooksService } from './audit-webhooks.service.js';
import { AuditService } from './audit.service.js';
import { RegistrationRefusalsInterceptor } from './registration-refusals.interceptor.js';

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
    RegistrationRefusalsInterceptor,
  ],
  exports: [AuditService, RegistrationRefusalsInterceptor],
})
export class AuditModule {}
