// `npm run bench -- --smoke` (docs/benchmarks.md): every scenario of the
// benchmark, and the two-instance comparison, still runs against the compiled
// service in production mode and gets answers without errors. Figures are
// printed, never asserted.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../support/process.js';

/** The rows of the markdown tables in the bench's output, by first cell. */
function tableRows(output: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('| ') || line.startsWith('| scenario') || line.startsWith('|---')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    rows.set(`${rows.has(cells[0]) ? 'scale-out: ' : ''}${cells[0]}`, cells);
  }
  return rows;
}

describe('npm run bench -- --smoke', () => {
  it('runs every scenario, and the scale-out comparison, with no errors', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bench', 'run.mjs'), '--smoke', '--scale-out'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BENCH_NODE_FLAGS: '' },
      maxBuffer: 10 * 1024 * 1024,
    });
    const rows = tableRows(stdout);
    const scenarios = [
      'register, open registration',
      'register with an IAT',
      'client_credentials, opaque',
      'client_credentials, JWT ES256',
      'introspect an opaque token',
      'RFC 7592 GET',
      'admin get client',
      'client_credentials, JWT RS256',
    ];
    for (const scenario of scenarios) {
      const [, rps, , , errors, rss] = rows.get(scenario) ?? [];
      expect({ scenario, errors }).toEqual({ scenario, errors: '0' });
      expect(Number(rps)).toBeGreaterThan(0);
      expect(Number(rss)).toBeGreaterThan(0);
    }
    // The two-instance table repeats the ES256 scenarios with one and with two instances.
    for (const scenario of scenarios.slice(0, -1)) {
      const [, one, two, , errors] = rows.get(`scale-out: ${scenario}`) ?? [];
      expect({ scenario, errors }).toEqual({ scenario, errors: '0' });
      expect(Number(one)).toBeGreaterThan(0);
      expect(Number(two)).toBeGreaterThan(0);
    }
    expect(stdout).toMatch(/Server RSS before any request: ES256: \d+ MiB at start; RS256: \d+ MiB at start\./);
  }, 240_000);
});
