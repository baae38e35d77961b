// Every migration, in order. Listed explicitly (not globbed) so the same list
// works from compiled JavaScript, from the TypeScript CLI and under the test runner.
import { CreateClients1764140000000 } from '../../migrations/1764140000000-CreateClients.js';
import { AddRegistration1764150000000 } from '../../migrations/1764150000000-AddRegistration.js';
import { AddTokens1764160000000 } from '../../migrations/1764160000000-AddTokens.js';
import { AddPolicies1764170000000 } from '../../migrations/1764170000000-AddPolicies.js';
import { AddOperations1764180000000 } from '../../migrations/1764180000000-AddOperations.js';
import { AddAuthorizationCodeFlow1764190000000 } from '../../migrations/1764190000000-AddAuthorizationCodeFlow.js';
import { AddSubjectSaltAndKeyUse1764200000000 } from '../../migrations/1764200000000-AddSubjectSaltAndKeyUse.js';
import { AddDPoP1764220000000 } from '../../migrations/1764220000000-AddDPoP.js';
import { AddClientSecretRotation1764230000000 } from '../../migrations/1764230000000-AddClientSecretRotation.js';
import { AddJwtBearerTrustAndTokenExchange1764240000000 } from '../../migrations/1764240000000-AddJwtBearerTrustAndTokenExchange.js';
import { AddClientIdMetadataDocuments1764250000000 } from '../../migrations/1764250000000-AddClientIdMetadataDocuments.js';
import { AddAuditEvents1764260000000 } from '../../migrations/1764260000000-AddAuditEvents.js';
import { AddClientFleetOperations1764270000000 } from '../../migrations/1764270000000-AddClientFleetOperations.js';
import { AddRegisteredBy1764280000000 } from '../../migrations/1764280000000-AddRegisteredBy.js';
import { AddReregistration1764290000000 } from '../../migrations/1764290000000-AddReregistration.js';
import { AddAccessTokenRevocationSignal1764300000000 } from '../../migrations/1764300000000-AddAccessTokenRevocationSignal.js';

export const MIGRATIONS = [
  CreateClients1764140000000,
  AddRegistration1764150000000,
  AddTokens1764160000000,
  AddPolicies1764170000000,
  AddOperations1764180000000,
  AddAuthorizationCodeFlow1764190000000,
  AddSubjectSaltAndKeyUse1764200000000,
  AddDPoP1764220000000,
  AddClientSecretRotation1764230000000,
  AddJwtBearerTrustAndTokenExchange1764240000000,
  AddClientIdMetadataDocuments1764250000000,
  AddAuditEvents1764260000000,
  AddClientFleetOperations1764270000000,
  AddRegisteredBy1764280000000,
  AddReregistration1764290000000,
  AddAccessTokenRevocationSignal1764300000000,
];
