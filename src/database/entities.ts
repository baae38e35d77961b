import { ClientEntity } from '../clients/client.entity.js';

export const ENTITIES = [ClientEntity];
