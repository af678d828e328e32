// JSON columns: typed values are written as plain JSON (dates as ISO strings, undefined dropped) and
// read back through their zod schema, never through a cast.
import type { Prisma } from '../../generated/prisma/client.ts';

/** `value` as the JSON Postgres will store. */
export function toJson(value: object): Prisma.InputJsonObject {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonObject;
}

/** An array as the JSON Postgres will store. */
export function toJsonArray(value: readonly unknown[]): Prisma.InputJsonArray {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonArray;
}
