// Country facts from the `world-countries` package, flattened to one record per country with
// only the relations the corpus talks about.
import { createRequire } from 'node:module';

export interface CountryFacts {
  code: string;
  name: string;
  capitals: string[];
  region: string;
  subregion: string;
  languages: string[];
  currencies: { name: string; symbol?: string }[];
  neighbours: string[];
}

interface RawCountry {
  cca3: string;
  name: { common: string };
  capital?: string[];
  region: string;
  subregion?: string;
  languages?: Record<string, string>;
  currencies?: Record<string, { name: string; symbol?: string }>;
  borders?: string[];
}

export function readCountries(): CountryFacts[] {
  const require = createRequire(import.meta.url);
  const raw = require('world-countries/countries.json') as RawCountry[];
  const nameByCode = new Map(raw.map((c) => [c.cca3, c.name.common]));
  return raw
    .map((c) => ({
      code: c.cca3,
      name: c.name.common,
      capitals: c.capital ?? [],
      region: c.region,
      subregion: c.subregion ?? '',
      languages: Object.values(c.languages ?? {}),
      currencies: Object.values(c.currencies ?? {}),
      neighbours: (c.borders ?? []).map((b) => nameByCode.get(b)).filter((n): n is string => Boolean(n)),
    }))
    .sort((a, b) => a.code.localeCompare(b.code));
}

/** "A", "A and B", "A, B and C". */
export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
