// Prisma errors the callers act on, recognised in one place.

/** A write that broke a unique constraint or index (Prisma's P2002). */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002';
}
