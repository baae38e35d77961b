// Every migration, in order. Listed explicitly (not globbed) so the same list
// works from compiled JavaScript, from the TypeScript CLI and under the test runner.
import { CreateClients1764140000000 } from '../../migrations/1764140000000-CreateClients.js';

export const MIGRATIONS = [CreateClients1764140000000];
