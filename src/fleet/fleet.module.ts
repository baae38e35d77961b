import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AdminClientFleetController } from './admin-client-fleet.controller.js';
import { FleetRepository } from './fleet.repository.js';
import { FleetService } from './fleet.service.js';

/** Suspension and bulk actions on clients; it needs both the clients and their tokens. */
@Module({
  imports: [ClientsModule, TokensModule],
  controllers: [AdminClientFleetController],
  providers: [FleetRepository, FleetService],
})
export class FleetModule {}
