import { Module } from '@nestjs/common';
import { AdminClientsController } from './admin-clients.controller.js';
import { AdminClientsService } from './admin-clients.service.js';
import { ClientsRepository } from './clients.repository.js';
import { ClientActivityService } from './client-activity.service.js';
import { ClientsService } from './clients.service.js';
import { MetadataDocumentClientsRepository } from './metadata-document-clients.repository.js';
import { MetadataDocumentClientsService } from './metadata-document-clients.service.js';
import { PolicyModule } from '../policy/policy.module.js';

@Module({
  imports: [PolicyModule],
  controllers: [AdminClientsController],
  providers: [
    ClientsRepository,
    ClientsService,
    AdminClientsService,
    ClientActivityService,
    MetadataDocumentClientsRepository,
    MetadataDocumentClientsService,
  ],
  exports: [ClientsService, ClientActivityService, ClientsRepository],
})
export class ClientsModule {}
