// The operator CLI (`npx registrar ...`): migrations on the configured
// database, and the admin API for clients, initial access tokens, keys, policies and trusted issuers.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { Database } from '../database/database.js';
import { CliError, localError, render, usageError } from './output.js';
import { lifetime, overlap, positiveInteger } from './options.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** The whole of standard input, for `-f -`. */
  stdin?: () => Promise<string>;
}

interface Globals {
  url: string;
  json: boolean;
}

const CLIENT_COLUMNS = ['client_id', 'client_name', 'created_via', 'access_token_strategy'];
const IAT_COLUMNS = ['id', 'uses', 'max_uses', 'expires_at', 'description'];
const POLICY_COLUMNS = ['name', 'clients_created', 'description'];
const TRUST_COLUMNS = ['id', 'issuer', 'subject', 'allow_any_subject', 'expires_at'];
const EVENT_COLUMNS = ['time', 'type', 'actor', 'client_id', 'request_id'];

/** The version in the package.json next to the sources or the build (dist/src/cli). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'registrar' && pkg.version) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Names of the migrations recorded as applied; none on a database never migrated. */
async function appliedMigrations(database: Database): Promise<string[]> {
  const [{ t }] = await database.dataSource.query<Array<{ t: string | null }>>(`SELECT to_regclass('registrar_migrations')::text AS t`);
  if (!t) return [];
  const rows: Array<{ name: string }> = await database.dataSource.query('SELECT name FROM registrar_migrations ORDER BY id');
  return rows.map((r) => r.name);
}

export async function main(argv: string[], io: CliIo = { env: process.env, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  // Known before parsing, so that even a usage error is reported as JSON under --json.
  const operands = argv.slice(2);
  const jsonRequested = operands.slice(0, operands.includes('--') ? operands.indexOf('--') : undefined).includes('--json');

  const program = new Command('registrar')
    .description('Operate a Registrar server')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addOption(new Option('--url <url>', 'Registrar base URL').env('REGISTRAR_URL').default('http://127.0.0.1:4444'))
    .option('--json', 'print JSON; errors as JSON on stderr', false)
    .exitOverride()
    // A usage error is one line, `registrar: ...`, like every other error (or JSON under --json).
    .configureOutput({
      writeOut: io.out,
      writeErr: (t) => (jsonRequested ? undefined : io.err(t)),
      outputError: (t, write) => write(`registrar: ${t.replace(/^error: /, '')}`),
    });

  const globals = (): Globals => program.opts<Globals>();

  async function request(method: string, path: string, body?: unknown): Promise<{ data: unknown; next?: string }> {
    const key = io.env.REGISTRAR_ADMIN_KEY;
    if (!key) throw usageError('no admin API key: set REGISTRAR_ADMIN_KEY to one of the server\'s ADMIN_API_KEYS');
    let res: Response;
    try {
      res = await fetch(`${globals().url.replace(/\/+$/, '')}${path}`, {
        method,
        headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw localError(`cannot reach ${globals().url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      if (res.ok) throw localError(`${res.status}: the server's answer is not JSON`);
    }
    if (!res.ok) {
      // Every Registrar error is `{error, error_description}` (README "HTTP API").
      const e = (parsed && typeof parsed === 'object' ? parsed : {}) as { error?: unknown; error_description?: unknown };
      const error = typeof e.error === 'string' ? e.error : 'server_error';
      const description = typeof e.error_description === 'string' ? e.error_description : '';
      throw new CliError(1, error, description, typeof e.error === 'string' ? (e as Record<string, unknown>) : undefined, res.status);
    }
    return { data: parsed, next: /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] };
  }

  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => (await request(method, path, body)).data;

  const print = (value: unknown, columns: string[] = []): void => {
    io.out((globals().json ? JSON.stringify(value ?? null, null, 2) : render(value, columns)) + '\n');
  };

  /** A JSON document from a file, or from standard input for `-`. */
  async function readJson(path: string): Promise<unknown> {
    const source = path === '-' ? 'standard input' : path;
    let text: string;
    try {
      text = path === '-' ? await (io.stdin ?? readStdin)() : readFileSync(path, 'utf8');
    } catch (err) {
      throw localError(`cannot read ${source}: ${(err as Error).message}`);
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw localError(`cannot read ${source}: ${(err as Error).message}`);
    }
  }

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
        const before = await appliedMigrations(database);
        if (opts.revert) await database.dataSource.undoLastMigration({ transaction: 'each' });
        else await database.migrate();
        const after = await appliedMigrations(database);
        if (opts.revert) {
          const reverted = before.filter((name) => !after.includes(name));
          if (globals().json) print({ reverted });
          else io.out(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
        } else {
          const applied = after.filter((name) => !before.includes(name));
          if (globals().json) print({ applied });
          else io.out(applied.length ? `applied:\n${applied.map((n) => `  ${n}`).join('\n')}\n` : 'nothing to apply\n');
        }
      } finally {
        await database.close();
      }
    });

  program
    .command('health')
    .description('ask the server whether it is ready (/health/ready) or alive (--alive); exit 0 when it is, 1 otherwise (a container health check)')
    .option('--alive', 'ask liveness instead of readiness')
    .option('--timeout <seconds>', 'give up after this many seconds', positiveInteger, 5)
    .action(async (opts: { alive?: boolean; timeout: number }) => {
      const url = `${healthBase()}/health/${opts.alive ? 'alive' : 'ready'}`;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(opts.timeout * 1000) });
      } catch (err) {
        throw localError(`cannot reach ${url}: ${(err as Error).message}`);
      }
      const body = (await res.json().catch(() => ({}))) as { error?: string; error_description?: string };
      if (!res.ok) throw new CliError(1, body.error ?? 'unhealthy', body.error_description ?? '', undefined, res.status);
      print({ status: 'ok', url });
    });

  /**
   * Where `health` asks: --url or REGISTRAR_URL when given, otherwise this machine
   * on the configured public port (the container image runs it beside the server).
   */
  function healthBase(): string {
    if (program.getOptionValueSource('url') !== 'default') return globals().url.replace(/\/+$/, '');
    const { values } = loadConfig(io.env);
    const host = values['serve.public.host'];
    const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `http://${local}:${values['serve.public.port']}`;
  }

  /** The client fields that `clients create` and `clients update` take as options. */
  const clientOptions = (command: Command): Command =>
    command
      .option('--name <name>', 'client_name')
      .option('--grant-types <list>', 'comma-separated grant_types', list)
      .option('--scope <scope>', 'space-separated scope')
      .option('--redirect-uris <list>', 'comma-separated redirect_uris', list)
      .option('--owner <owner>', 'owner')
      .option('--access-token-strategy <strategy>', 'jwt or opaque');
  const clientBody = async (o: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const body = (o.file ? await readJson(o.file as string) : {}) as Record<string, unknown>;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw localError(`${o.file as string}: expected a JSON object of client fields`);
    const fromOptions = {
      client_name: o.name,
      grant_types: o.grantTypes,
      scope: o.scope,
      redirect_uris: o.redirectUris,
      owner: o.owner,
      access_token_strategy: o.accessTokenStrategy,
    };
    for (const [k, v] of Object.entries(fromOptions)) if (v !== undefined) body[k] = v;
    return body;
  };

  const clients = program.command('clients').description('OAuth clients');
  clientOptions(
    clients
      .command('create')
      .description('create a client from a JSON file (or - for standard input) of Hydra client fields, or from options')
      .option('-f, --file <file>', 'JSON file with the client metadata, - for standard input'),
  ).action(async (o: Record<string, unknown>) => print(await api('POST', '/admin/clients', await clientBody(o))));
  clientOptions(
    clients
      .command('update <id>')
      .description('replace a client (PUT) with the fields of a JSON file (or - for standard input); options override the file')
      .requiredOption('-f, --file <file>', 'JSON file with the client metadata, - for standard input'),
  ).action(async (id: string, o: Record<string, unknown>) => print(await api('PUT', `/admin/clients/${encodeURIComponent(id)}`, await clientBody(o))));
  /** The list's filters (README "Operating a fleet of dynamic clients") as options: option -> query parameter. */
  const FILTER_OPTIONS: Array<[string, string, string]> = [
    ['owner', '--owner <owner>', 'owner'],
    ['name', '--name <client_name>', 'client_name'],
    ['iat', '--iat <id>', 'initial_access_token_id'],
    ['policy', '--policy <name>', 'policy'],
    ['softwareId', '--software-id <id>', 'software_id'],
    ['statementIssuer', '--statement-issuer <issuer>', 'software_statement_issuer'],
    ['createdVia', '--created-via <how>', 'created_via'],
    ['lastUsedBefore', '--last-used-before <time>', 'last_used_before'],
    ['lastUsedAfter', '--last-used-after <time>', 'last_used_after'],
    ['suspended', '--suspended <bool>', 'suspended'],
  ];
  const filterOptions = (cmd: Command): Command => {
    for (const [, flags, param] of FILTER_OPTIONS) {
      const option = new Option(flags, `only clients with this ${param}`);
      if (param === 'created_via') option.choices(['admin', 'dcr']);
      if (param === 'suspended') option.choices(['true', 'false']);
      if (param.startsWith('last_used')) option.description = `only clients last used ${param.slice(10)} this RFC 3339 time`;
      cmd.addOption(option);
    }
    return cmd;
  };
  const filterFrom = (o: Record<string, unknown>): Record<string, string> =>
    Object.fromEntries(FILTER_OPTIONS.filter(([key]) => typeof o[key] === 'string').map(([key, , param]) => [param, o[key] as string]));
  filterOptions(clients.command('list')).action(async (o: Record<string, unknown>) => {
    const q = new URLSearchParams({ page_size: '500', ...filterFrom(o) });
    print(await all(`/admin/clients?${q.toString()}`), CLIENT_COLUMNS);
  });
  clients
    .command('suspend <id>')
    .description('suspend a client: no tokens, its tokens inactive, until it is resumed')
    .option('--reason <text>', 'why; recorded on the client and shown to its registrant')
    .action(async (id: string, o: { reason?: string }) => {
      print(await api('POST', `/admin/clients/${encodeURIComponent(id)}/suspend`, o.reason === undefined ? {} : { reason: o.reason }));
    });
  clients
    .command('resume <id>')
    .description('resume a suspended client')
    .action(async (id: string) => print(await api('POST', `/admin/clients/${encodeURIComponent(id)}/resume`, {})));
  filterOptions(
    clients
      .command('bulk')
      .description('apply an action to every client the filters match; --dry-run only counts them')
      .addOption(new Option('--action <action>', 'what to do').choices(['suspend', 'resume', 'delete', 'revoke_tokens']).makeOptionMandatory())
      .option('--dry-run', 'count the matching clients (and show the first ids), change nothing')
      .option('--reason <text>', 'with --action suspend: the reason recorded on each client')
      .option('--all', 'act on every client: required when no filter is given'),
  ).action(async (o: Record<string, unknown>) => {
    const body: Record<string, unknown> = { action: o.action, filter: filterFrom(o), dry_run: o.dryRun === true };
    if (o.reason !== undefined) body.reason = o.reason;
    if (o.all === true) body.all = true;
    print(await api('POST', '/admin/bulk/clients', body));
  });
  clients.command('get <id>').action(async (id: string) => print(await api('GET', `/admin/clients/${encodeURIComponent(id)}`)));
  clients
    .command('rotate-secret <id>')
    .description('issue a new client secret (shown once); the previous one keeps working for the overlap')
    .option('--overlap <duration>', 'how long the previous secret keeps working, e.g. 3600, 1h or 0; default: the server\'s oauth2.client_secret.rotation_overlap', overlap)
    .action(async (id: string, o: { overlap?: number | string }) => {
      const body = o.overlap === undefined ? {} : { previous_secret_expires_in: o.overlap };
      print(await api('POST', `/admin/clients/${encodeURIComponent(id)}/secrets/rotate`, body));
    });
  clients.command('delete <id>').action(async (id: string) => {
    await api('DELETE', `/admin/clients/${encodeURIComponent(id)}`);
    print({ deleted: id });
  });

  const iat = program.command('iat').description('initial access tokens');
  iat
    .command('mint')
    .option('--max-uses <n>', 'clients the token may register', positiveInteger)
    .option('--expires-in <duration>', 'lifetime, e.g. 3600, 12h or 7d', lifetime)
    .option('--policy <name...>', 'policies to apply, in order')
    .option('--description <text>')
    .action(async (o: { maxUses?: number; expiresIn?: number | string; policy?: string[]; description?: string }) => {
      const body: Record<string, unknown> = {};
      if (o.maxUses !== undefined) body.max_uses = o.maxUses;
      if (o.expiresIn !== undefined) body.expires_in = o.expiresIn;
      if (o.policy) body.policies = o.policy;
      if (o.description !== undefined) body.description = o.description;
      print(await api('POST', '/admin/initial-access-tokens', body));
    });
  iat.command('list').action(async () => print(await all('/admin/initial-access-tokens?page_size=500'), IAT_COLUMNS));
  iat.command('get <id>').action(async (id: string) => print(await api('GET', `/admin/initial-access-tokens/${encodeURIComponent(id)}`)));
  iat.command('revoke <id>').action(async (id: string) => {
    await api('DELETE', `/admin/initial-access-tokens/${encodeURIComponent(id)}`);
    print({ revoked: id });
  });

  const keys = program.command('keys').description('signing keys');
  keys.command('list').action(async () => print(await api('GET', '/admin/keys'), ['kid', 'alg', 'state', 'created_at', 'retired_at']));
  keys.command('rotate').action(async () => print(await api('POST', '/admin/keys/rotate')));

  const events = program.command('events').description('audit events (README "Audit events")');
  events
    .command('list')
    .description('the newest audit events first; --json prints them whole')
    .option('--type <types>', 'only these event types (comma-separated; the option may be repeated)', (v: string, prev: string[] = []) => [...prev, ...list(v)])
    .option('--client <client_id>', 'only events about this client')
    .option('--actor-type <type>', 'only events caused by admin, iat, rat, client or anonymous callers')
    .option('--since <time>', 'only events at or after this RFC 3339 time')
    .option('--until <time>', 'only events before this RFC 3339 time')
    .option('--limit <n>', 'at most this many events', positiveInteger, 100)
    .action(async (o: { type?: string[]; client?: string; actorType?: string; since?: string; until?: string; limit: number }) => {
      const q = new URLSearchParams({ page_size: String(Math.min(o.limit, 500)) });
      for (const t of o.type ?? []) q.append('type', t);
      const filters = { client_id: o.client, actor_type: o.actorType, since: o.since, until: o.until };
      for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, v);
      const found: Array<Record<string, unknown>> = [];
      let next: string | undefined = `/admin/events?${q.toString()}`;
      while (next && found.length < o.limit) {
        const page = await request('GET', next);
        found.push(...(page.data as Array<Record<string, unknown>>));
        next = page.next;
      }
      const shown = found.slice(0, o.limit);
      if (globals().json) return print(shown);
      // In the table, the actor is one cell: its type and the id it is known by.
      const actorCell = (a: Record<string, unknown>) => [a.type, a.key_id ?? a.id ?? a.client_id].filter((x) => x !== undefined).join(':');
      print(
        shown.map((e) => ({ ...e, actor: actorCell(e.actor as Record<string, unknown>) })),
        EVENT_COLUMNS,
      );
    });

  const trust = program.command('trust').description('issuers trusted for the JWT bearer grant (RFC 7523)');
  const trustPath = '/admin/trust/grants/jwt-bearer/issuers';
  trust
    .command('create')
    .description('trust an issuer\'s public key (a JSON file with issuer, subject or allow_any_subject, scope, jwk, expires_at; - for standard input)')
    .requiredOption('-f, --file <file>', 'JSON file')
    .action(async (o: { file: string }) => print(await api('POST', trustPath, await readJson(o.file))));
  trust
    .command('list')
    .option('--issuer <issuer>', 'only this issuer\'s trust relationships')
    .action(async (o: { issuer?: string }) => {
      const q = new URLSearchParams({ page_size: '500', ...(o.issuer !== undefined ? { issuer: o.issuer } : {}) });
      print(await all(`${trustPath}?${q.toString()}`), TRUST_COLUMNS);
    });
  trust.command('get <id>').action(async (id: string) => print(await api('GET', `${trustPath}/${encodeURIComponent(id)}`)));
  trust.command('delete <id>').action(async (id: string) => {
    await api('DELETE', `${trustPath}/${encodeURIComponent(id)}`);
    print({ deleted: id });
  });

  const policies = program.command('policies').description('registration policies');
  policies.command('list').action(async () => print(await all('/admin/policies?page_size=500'), POLICY_COLUMNS));
  policies.command('get <name>').action(async (name: string) => print(await api('GET', `/admin/policies/${encodeURIComponent(name)}`)));
  policies.command('delete <name>').action(async (name: string) => {
    await api('DELETE', `/admin/policies/${encodeURIComponent(name)}`);
    print({ deleted: name });
  });
  policies
    .command('apply')
    .description('create or replace the policies in a JSON file (one policy object or an array; - for standard input)')
    .requiredOption('-f, --file <file>', 'JSON file')
    .action(async (o: { file: string }) => {
      const parsed = await readJson(o.file);
      const applied: unknown[] = [];
      for (const policy of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ name?: string }>) {
        if (typeof policy?.name !== 'string') throw localError(`${o.file}: every policy needs a "name"`);
        const path = `/admin/policies/${encodeURIComponent(policy.name)}`;
        const exists = await api('GET', path).then(
          () => true,
          (err: unknown) => {
            if (err instanceof CliError && err.status === 404) return false;
            throw err;
          },
        );
        applied.push(await api(exists ? 'PUT' : 'POST', exists ? path : '/admin/policies', policy));
      }
      print(applied, POLICY_COLUMNS);
    });

  const report = (err: CliError): number => {
    io.err(jsonRequested || globals().json ? `${JSON.stringify(err.json())}\n` : `registrar: ${err.line()}\n`);
    return err.exitCode;
  };

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      // Commander has already printed the readable form (and the help) unless --json.
      if (jsonRequested) return report(usageError(err.message.replace(/^error: /, '')));
      return 2;
    }
    if (err instanceof CliError) return report(err);
    if (err instanceof ConfigError) return report(localError(err.message));
    return report(localError((err as Error).message));
  }
}
