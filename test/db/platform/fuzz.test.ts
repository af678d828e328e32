// Property-based fuzzing of every route in the app's OpenAPI document: path parameters, query
// strings and bodies generated from each route's schemas (valid, slightly wrong, and hostile: NUL
// bytes, lone surrogates, deep nesting, huge strings), sent as each role. Pass: no 5xx, and every
// 4xx in the documented error shape. The seed is fixed and logged; FUZZ_SEED=<n> replays another,
// FUZZ_RUNS=<n> sets the runs per route.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeUser, startTestApp, type TestApp } from '../../helpers/app.ts';
import type { Role } from '../../../src/platform/auth/principal.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 24);
const ROLES = ['anonymous', 'user', 'moderator', 'ops', 'admin'] as const;
type Caller = (typeof ROLES)[number];

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  additionalProperties?: boolean | JsonSchema;
}

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: JsonSchema;
}

interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: JsonSchema;
}

const NUL = 'a\u0000b';
const LONE = 'x\ud800y';
const hostileString = fc.constantFrom(
  NUL,
  LONE,
  '\udc00',
  'x'.repeat(200_000),
  '',
  ' ',
  '%00',
  '../..',
  '💥',
);
const deep = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(deep(70), deep(500), null, -1, 1e308, Number.MAX_SAFE_INTEGER, true, [], {}),
  fc.anything({ maxDepth: 3, withObjectString: true }),
);

/** Values that (mostly) satisfy `schema`; `depth` bounds recursion. */
function valid(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => valid(s, depth + 1)));
  if (schema.allOf?.length) return valid(schema.allOf[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string':
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      return fc.string({
        minLength: schema.minLength ?? 0,
        maxLength: Math.min(schema.maxLength ?? 40, 40),
      });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(schema.items, depth + 1), { maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object': {
      const properties = schema.properties ?? {};
      const model = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, valid(s, depth + 1)]));
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in properties) });
    }
    default:
      return fc.anything({ maxDepth: 2 });
  }
}

/** A value for `schema`: valid, valid with one field made hostile, or hostile outright. */
function fuzzed(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const base = valid(schema);
  const mutated = fc.tuple(base, hostile, fc.string({ maxLength: 8 })).map(([value, bad, extraKey]) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const key = keys.length ? keys[bad === null ? 0 : keys.length - 1]! : extraKey;
      return { ...value, [key]: bad };
    }
    return bad;
  });
  return fc.oneof(
    { arbitrary: base, weight: 3 },
    { arbitrary: mutated, weight: 3 },
    { arbitrary: hostile, weight: 1 },
  );
}

function operations(doc: { paths: Record<string, Record<string, unknown>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      const op = raw as {
        parameters?: Parameter[];
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
      };
      out.push({
        method: method.toUpperCase(),
        path,
        parameters: op.parameters ?? [],
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return out;
}

/** Percent-encodes like a careless client: a lone surrogate goes out as its (invalid) UTF-8 bytes. */
const encodePathPart = (text: string): string =>
  [...text]
    .map((ch) => {
      try {
        return encodeURIComponent(ch);
      } catch {
        return '%ED%B0%80';
      }
    })
    .join('');

const asText = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);

let t: TestApp;
const auth = new Map<Caller, string | undefined>();

before(async () => {
  t = await startTestApp();
  auth.set('anonymous', undefined);
  for (const role of ROLES.filter((r): r is Exclude<Caller, 'anonymous'> => r !== 'anonymous')) {
    auth.set(role, (await makeUser(t.app, role as Role)).auth);
  }
});
after(() => t.close());

test('every documented route answers fuzzed requests without a 5xx, and 4xx in the error shape', async (ctx) => {
  const doc = t.app.swagger() as unknown as { paths: Record<string, Record<string, unknown>> };
  const ops = operations(doc);
  assert.ok(ops.length > 40, `the OpenAPI document lists the routes (${ops.length})`);
  ctx.diagnostic(
    `fuzz: seed ${SEED}, ${RUNS_PER_ROUTE} runs per route, ${ops.length} routes (FUZZ_SEED to replay)`,
  );
  const statuses = new Map<number, number>();

  for (const [index, op] of ops.entries()) {
    const pathParams = op.parameters.filter((p) => p.in === 'path');
    const queryParams = op.parameters.filter((p) => p.in === 'query');
    const request = fc.record({
      caller: fc.constantFrom(...ROLES),
      path: fc.tuple(...pathParams.map((p) => fc.oneof(valid(p.schema), hostileString))),
      query: fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(...queryParams.map((p) => p.name), 'unknown'),
            fc.string({ maxLength: 5 }),
          ),
          fc.oneof(
            fc.string({ maxLength: 20 }),
            hostileString.filter((s) => s.length < 1000),
            fc.integer().map(String),
          ),
        ),
        { maxLength: 3 },
      ),
      body: op.body ? fuzzed(op.body) : fc.constant(undefined),
      rawBody: fc.option(
        fc.constantFrom(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, '{"a":', '\u0000', 'null'),
      ),
    });

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let url = op.path;
        pathParams.forEach((p, i) => {
          url = url.replace(`{${p.name}}`, encodePathPart(asText(r.path[i]) || 'x'));
        });
        const search = new URLSearchParams(r.query.map(([k, v]) => [k, v])).toString();
        if (search) url += `?${search}`;
        const headers: Record<string, string> = {};
        const token = auth.get(r.caller);
        if (token) headers.authorization = token;
        let payload: string | undefined;
        if (op.method !== 'GET' && op.method !== 'DELETE') {
          payload = r.rawBody ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
          if (payload !== undefined) headers['content-type'] = 'application/json';
        }
        const res = await t.app.inject({ method: op.method as 'GET', url, headers, payload });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const where = `${op.method} ${url.slice(0, 200)} as ${r.caller} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
        assert.ok(res.statusCode < 500, where);
        if (res.statusCode >= 400) {
          const body = res.json() as { error?: { code?: unknown; message?: unknown } };
          assert.equal(typeof body.error?.code, 'string', where);
          assert.equal(typeof body.error?.message, 'string', where);
        }
      }),
      { seed: SEED + index, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
    );
  }
  ctx.diagnostic(
    `fuzz: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
  );
});
