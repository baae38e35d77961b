/** PostgreSQL's unique_violation (23505), as raised by the driver or wrapped by TypeORM. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}
