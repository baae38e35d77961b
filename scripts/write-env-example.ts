// Writes what is generated from the configuration schema: .env.example, and the
// environment names the Helm chart's values schema accepts.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderEnvExample, withChartEnvNames } from '../src/config/env-example.js';

writeFileSync(new URL('../.env.example', import.meta.url), renderEnvExample());
const chartSchema = new URL('../charts/registrar/values.schema.json', import.meta.url);
writeFileSync(chartSchema, withChartEnvNames(readFileSync(chartSchema, 'utf8')));
