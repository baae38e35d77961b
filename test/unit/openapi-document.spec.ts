import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { renderOpenApiDocument } from '../../src/openapi.js';

describe('the committed openapi.json', () => {
  it('matches what the code generates (regenerate with npm run openapi)', async () => {
    const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
    const generated = await renderOpenApiDocument();
    expect(JSON.parse(generated)).toEqual(JSON.parse(committed));
  });
});
