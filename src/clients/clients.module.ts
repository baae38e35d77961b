import { Module } from '@nestjs/common';
import { AdminClientsController } from './admin-clients.controller.js';
import { AdminClientsService } from './admin-clients.service.js';
import { ClientsRepository } from './clients.repository.js';
import { ClientActivityService } from './client-activity.service.js';
import { ClientsService } from './clients.service.js';

@Module({
  controllers: [AdminClientsController],
  providers: [ClientsRepository, ClientsService, AdminClientsService, ClientActivityService],
  exports: [ClientsService, ClientActivityService],
})
export class ClientsModule {}
