// The SDK as its users meet it: packed with `npm pack`, installed from the
// tarball into a new project outside this workspace, compiled by a strict
// TypeScript consumer (no skipLibCheck) and run against the real service.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_KEY, startApp, type RunningApp } from '../../test/support/app.js';
import { REPO_ROOT } from '../../test/support/process.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

// What the consumer does, in the SDK's README order; the script prints what it saw.
const CONSUMER = `
import { Registrar, RegistrarError, type Introspection } from '@registrar/sdk';

export async function run(baseUrl: string, adminKey: string): Promise<Record<string, unknown>> {
  const registrar = new Registrar({ baseUrl });
  const admin = registrar.admin(adminKey);
  const owner = 'consumer-' + Date.now();
  for (let i = 0; i < 3; i += 1) await admin.createClient({ client_name: 'listed ' + i, owner, grant_types: ['client_credentials'] });

  const iat = await admin.mintInitialAccessToken({ max_uses: 1, description: 'consumer' });
  const client = await registrar.register({ client_name: 'consumer', grant_types: ['client_credentials'], scope: 'read' }, iat.token);
  const secret: string | undefined = client.metadata.client_secret;
  if (secret === undefined) throw new Error('no client_secret');
  const credentials = { clientId: client.clientId, clientSecret: secret };

  const token = await registrar.clientCredentials({ ...credentials, scope: 'read' });
  const before: Introspection = await registrar.introspect(credentials, token.access_token);
  await registrar.revoke(credentials, token.access_token);
  const after = await registrar.introspect(credentials, token.access_token);

  const listed: string[] = [];
  for await (const c of admin.clients({ owner, page_size: 2 })) listed.push(c.client_name ?? '');

  let error: { status: number; code: string } | undefined;
  try {
    await registrar.register({ client_name: 'no token', grant_types: ['client_credentials'] });
  } catch (err) {
    if (err instanceof RegistrarError) error = { status: err.status, code: err.error };
  }
  await client.delete();
  return { activeBefore: before.active, scope: before.scope, activeAfter: after.active, listed: listed.sort(), error };
}
`;

// A consumer that misuses the types: it must not compile (the types are not any).
const MISTYPED = `
import { Registrar } from '@registrar/sdk';
const registrar = new Registrar({ baseUrl: 'http://127.0.0.1' });
export async function wrong(): Promise<number> {
  const token = await registrar.clientCredentials({ clientId: 'a', clientSecret: 'b' });
  const expires: string = token.expires_in;
  return expires;
}
`;

let svc: RunningApp;
let project: string;

beforeAll(async () => {
  svc = await startApp();
  project = mkdtempSync(join(tmpdir(), 'registrar-sdk-consumer-'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', project], { cwd: join(REPO_ROOT, 'sdk'), stdio: 'pipe' });
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'))!;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module', dependencies: { '@registrar/sdk': `file:./${tarball}` } }),
  );
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: project, stdio: 'pipe' });
  const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', lib: ['ES2023', 'DOM'], types: [], outDir: 'out' };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
  writeFileSync(join(project, 'tsconfig.mistyped.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, files: ['mistyped.ts'] }));
  writeFileSync(join(project, 'consumer.ts'), CONSUMER);
  writeFileSync(join(project, 'mistyped.ts'), MISTYPED);
}, 120_000);

afterAll(async () => {
  await svc?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the packed SDK in a new project', () => {
  it('ships built code, its types and a README, and nothing of the sources', () => {
    const files = execFileSync('tar', ['-tzf', join(project, readdirSync(project).find((f) => f.endsWith('.tgz'))!)], { encoding: 'utf8' }).split('\n');
    expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/schema.d.ts', 'package/README.md', 'package/LICENSE']));
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/'))).toEqual([]);
  });

  it('compiles a strict consumer without skipLibCheck', () => {
    expect(() => execFileSync('node', [TSC, '-p', 'tsconfig.json'], { cwd: project, stdio: 'pipe' })).not.toThrow();
  }, 60_000);

  it('refuses a consumer that misuses the types (they are not any)', () => {
    let output = '';
    try {
      execFileSync('node', [TSC, '-p', 'tsconfig.mistyped.json'], { cwd: project, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout);
    }
    expect(output).toContain('error TS2322');
    expect(output).toContain('mistyped.ts');
  }, 60_000);

  it('registers, gets, introspects and revokes a token, pages through the admin list and surfaces errors', async () => {
    const runner = `import { run } from './out/consumer.js';\nconsole.log(JSON.stringify(await run(process.argv[2], process.argv[3])));\n`;
    writeFileSync(join(project, 'run.mjs'), runner);
    // Asynchronously: the service answering it runs in this process.
    const { stdout } = await promisify(execFile)('node', ['run.mjs', svc.url, ADMIN_KEY], { cwd: project, encoding: 'utf8' });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toEqual({
      activeBefore: true,
      scope: 'read',
      activeAfter: false,
      listed: ['listed 0', 'listed 1', 'listed 2'],
      error: { status: 401, code: 'invalid_token' },
    });
  }, 60_000);
});
