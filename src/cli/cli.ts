// The operator CLI (`npx registrar ...`): migrations on the configured
// database, and the admin API for clients, initial access tokens, keys and policies.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { Database } from '../database/database.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
}

class ApiError extends Error {}

interface Globals {
  url: string;
  json: boolean;
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ApiError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Human output: one line per list item, `key: value` lines for an object. */
function render(value: unknown, columns: string[]): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '(none)';
    return value.map((item: Record<string, unknown>) => columns.map((c) => String(item[c] ?? '')).join('  ')).join('\n');
  }
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join('\n');
  }
  return String(value ?? '');
}

export async function main(argv: string[], io: CliIo = { env: process.env, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  const program = new Command('registrar')
    .description('Operate a Registrar server')
    .addOption(new Option('--url <url>', 'Registrar base URL').env('REGISTRAR_URL').default('http://127.0.0.1:4444'))
    .option('--json', 'print JSON', false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError();

  const globals = (): Globals => program.opts<Globals>();

  async function request(method: string, path: string, body?: unknown): Promise<{ data: unknown; next?: string }> {
    const key = io.env.REGISTRAR_ADMIN_KEY;
    if (!key) throw new ApiError('set REGISTRAR_ADMIN_KEY to an admin API key');
    let res: Response;
    try {
      res = await fetch(`${globals().url.replace(/\/+$/, '')}${path}`, {
        method,
        headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(`cannot reach ${globals().url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const e = (parsed ?? {}) as { error?: string; error_description?: string };
      throw new ApiError(`${res.status} ${e.error ?? 'error'}${e.error_description ? `: ${e.error_description}` : ''}`);
    }
    return { data: parsed, next: /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] };
  }

  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => (await request(method, path, body)).data;

  const print = (value: unknown, columns: string[] = []): void => {
    io.out((globals().json ? JSON.stringify(value ?? null, null, 2) : render(value, columns)) + '\n');
  };

  /** Every page of a paginated admin list, following the Link header. */
  async function all(path: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let next: string | undefined = path;
    while (next) {
      const page = await request('GET', next);
      items.push(...(page.data as unknown[]));
      next = page.next;
    }
    return items;
  }

  program
    .command('migrate')
    .description('apply pending migrations to the configured database (DSN / DATABASE_URL, or the embedded one)')
    .option('--revert', 'revert the last migration instead')
    .action(async (opts: { revert?: boolean }) => {
      const { values } = loadConfig(io.env);
      const database = await Database.open({ dsn: values.dsn, data_dir: values.data_dir, 'database.pool_size': 2 });
      try {
        if (opts.revert) await database.dataSource.undoLastMigration({ transaction: 'each' });
        else await database.migrate();
        const applied: Array<{ name: string }> = await database.dataSource.query('SELECT name FROM registrar_migrations ORDER BY id');
        print({ applied: applied.map((m) => m.name) });
      } finally {
        await database.close();
      }
    });

  const clients = program.command('clients').description('OAuth clients');
  clients
    .command('create')
    .description('create a client from a JSON file of Hydra client fields, or from options')
    .option('-f, --file <file>', 'JSON file with the client metadata')
    .option('--name <name>', 'client_name')
    .option('--grant-types <list>', 'comma-separated grant_types', list)
    .option('--scope <scope>', 'space-separated scope')
    .option('--redirect-uris <list>', 'comma-separated redirect_uris', list)
    .option('--owner <owner>', 'owner')
    .option('--access-token-strategy <strategy>', 'jwt or opaque')
    .action(async (o: Record<string, unknown>) => {
      const body = (o.file ? readJsonFile(o.file as string) : {}) as Record<string, unknown>;
      const fromOptions = {
        client_name: o.name,
        grant_types: o.grantTypes,
        scope: o.scope,
        redirect_uris: o.redirectUris,
        owner: o.owner,
        access_token_strategy: o.accessTokenStrategy,
      };
      for (const [k, v] of Object.entries(fromOptions)) if (v !== undefined) body[k] = v;
      print(await api('POST', '/admin/clients', body));
    });
  clients
    .command('list')
    .option('--owner <owner>')
    .option('--name <client_name>')
    .action(async (o: { owner?: string; name?: string }) => {
      const q = new URLSearchParams({ page_size: '500' });
      if (o.owner) q.set('owner', o.owner);
      if (o.name) q.set('client_name', o.name);
      print(await all(`/admin/clients?${q.toString()}`), ['client_id', 'client_name', 'created_via', 'access_token_strategy']);
    });
  clients.command('get <id>').action(async (id: string) => print(await api('GET', `/admin/clients/${encodeURIComponent(id)}`)));
  clients.command('delete <id>').action(async (id: string) => {
    await api('DELETE', `/admin/clients/${encodeURIComponent(id)}`);
    print({ deleted: id });
  });

  const iat = program.command('iat').description('initial access tokens');
  iat
    .command('mint')
    .option('--max-uses <n>', 'clients the token may register', (v) => Number(v))
    .option('--expires-in <duration>', 'lifetime, e.g. 3600, 12h or 7d')
    .option('--policy <name...>', 'policies to apply, in order')
    .option('--description <text>')
    .action(async (o: { maxUses?: number; expiresIn?: string; policy?: string[]; description?: string }) => {
      const body: Record<string, unknown> = {};
      if (o.maxUses !== undefined) body.max_uses = o.maxUses;
      if (o.expiresIn !== undefined) body.expires_in = /^\d+$/.test(o.expiresIn) ? Number(o.expiresIn) : o.expiresIn;
      if (o.policy) body.policies = o.policy;
      if (o.description !== undefined) body.description = o.description;
      print(await api('POST', '/admin/initial-access-tokens', body));
    });
  iat.command('list').action(async () => print(await all('/admin/initial-access-tokens?page_size=500'), ['id', 'uses', 'max_uses', 'expires_at', 'description']));
  iat.command('revoke <id>').action(async (id: string) => {
    await api('DELETE', `/admin/initial-access-tokens/${encodeURIComponent(id)}`);
    print({ revoked: id });
  });

  const keys = program.command('keys').description('signing keys');
  keys.command('list').action(async () => print(await api('GET', '/admin/keys'), ['kid', 'alg', 'state', 'created_at', 'retired_at']));
  keys.command('rotate').action(async () => print(await api('POST', '/admin/keys/rotate')));

  const policies = program.command('policies').description('registration policies');
  policies.command('list').action(async () => print(await all('/admin/policies?page_size=500'), ['name', 'clients_created', 'description']));
  policies
    .command('apply')
    .description('create or replace the policies in a JSON file (one policy object or an array)')
    .requiredOption('-f, --file <file>', 'JSON file')
    .action(async (o: { file: string }) => {
      const parsed = readJsonFile(o.file);
      const applied: unknown[] = [];
      for (const policy of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ name?: string }>) {
        if (typeof policy?.name !== 'string') throw new ApiError(`${o.file}: every policy needs a "name"`);
        const path = `/admin/policies/${encodeURIComponent(policy.name)}`;
        const exists = await api('GET', path).then(
          () => true,
          (err: Error) => {
            if (err.message.startsWith('404')) return false;
            throw err;
          },
        );
        applied.push(await api(exists ? 'PUT' : 'POST', exists ? path : '/admin/policies', policy));
      }
      print(applied, ['name', 'clients_created', 'description']);
    });

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ApiError || err instanceof ConfigError) {
      io.err(`registrar: ${err.message}\n`);
      return 1;
    }
    io.err(`registrar: ${(err as Error).message}\n`);
    return 1;
  }
}
