// Config overrides as the loop keeps them: partial JSON objects laid over one another (schedule,
// then request) and checked by the owning module's schema, so a bad field is a 400 naming it.
import { z } from 'zod';

export type Overrides = Record<string, unknown>;
export interface OverrideIssue {
  path: PropertyKey[];
  message: string;
}

/** A zod error as override issues; an unknown field is named by its own path, so the 400 points at it. */
export const overrideIssues = (error: z.ZodError): OverrideIssue[] =>
  error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((key) => ({ path: [...i.path, key], message: 'is not a known setting' }))
      : [{ path: i.path, message: i.message }],
  );

const isPlainObject = (v: unknown): v is Overrides =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Overrides laid over a base: nested objects merge, arrays and values replace. */
export function mergeOverrides(base: Overrides, overrides: Overrides | undefined): Overrides {
  const out: Overrides = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeOverrides(current, value) : value;
  }
  return out;
}

/** A request body field holding overrides, refused with `issues`' paths when they are not valid. */
export function checkedOverrides(issues: (overrides: Overrides) => OverrideIssue[]) {
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    for (const issue of issues(value))
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });
}
