#!/usr/bin/env node
// `npx registrar <command>`: the operator CLI (src/cli/cli.ts), run from the build.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('registrar: the CLI is not built yet; run `npm run build` first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
