// npm run openapi: writes openapi.json from the compiled application (no database needed).
import { writeFileSync } from 'node:fs';
import { renderOpenApiDocument } from '../src/openapi.js';

const target = new URL('../../openapi.json', import.meta.url);
writeFileSync(target, await renderOpenApiDocument());
process.stdout.write(`wrote ${target.pathname}\n`);
