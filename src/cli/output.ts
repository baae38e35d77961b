// How the operator CLI prints results and errors (README "Operator CLI"):
// JSON under --json, otherwise tables with a header row and `key: value` lines.

/** An error with an OAuth-style code, printed as `{error, error_description}` under --json. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    readonly error: string,
    readonly description: string,
    /** The server's error body (RFC 7591 §3.2.2 shape), printed unchanged under --json. */
    readonly body?: Record<string, unknown>,
    /** The HTTP status, shown in the one-line form. */
    readonly status?: number,
  ) {
    super(description);
  }

  /** The one readable line printed without --json. */
  line(): string {
    if (this.status !== undefined) return `${this.status} ${this.error}${this.description ? `: ${this.description}` : ''}`;
    return this.description;
  }

  json(): Record<string, unknown> {
    return this.body ?? { error: this.error, error_description: this.description };
  }
}

/** A mistake in the command line itself: exit code 2, before any request is sent. */
export const usageError = (description: string): CliError => new CliError(2, 'usage_error', description);

/** A local failure that is not a usage mistake (unreadable file, unreachable server): exit code 1. */
export const localError = (description: string): CliError => new CliError(1, 'cli_error', description);

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A table: a header row of the column names, then one aligned row per item. */
export function table(items: Array<Record<string, unknown>>, columns: string[]): string {
  if (items.length === 0) return '(none)';
  const rows = [columns, ...items.map((item) => columns.map((c) => cell(item[c])))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]))).join('  ')).join('\n');
}

/** Human output: a table for a list, `key: value` lines for an object. */
export function render(value: unknown, columns: string[]): string {
  if (Array.isArray(value)) return table(value as Array<Record<string, unknown>>, columns);
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${cell(v)}`)
      .join('\n');
  }
  return cell(value);
}
