// Which folder may import which: the tree reads as the loop, and no step reaches a later one.
// `npm run lint:deps` checks it (CI runs it with the lint). Shared libraries (llm, stats, suites,
// contract) import only each other; the platform is the frame every step may use; each step imports
// the steps before it. The composition roots (app factory, API server, entry points) wire
// everything together and are exempt.
const SHARED = ['llm', 'stats', 'suites', 'contract', 'generated'];
// Import order, earliest first. Serving writes each exchange through feedback's conversation store,
// so feedback comes before serving in import order (the data still flows serving -> feedback).
const ORDER = ['platform', 'feedback', 'serving', 'datasets', 'training', 'evaluation', 'promotion', 'loop'];
const ALLOWED_SHARED = {
  generated: ['generated'],
  stats: ['stats'],
  llm: ['llm'],
  contract: ['contract', 'generated'],
  suites: ['suites', 'llm', 'stats'],
};
const COMPOSITION_ROOTS = '^src/(main\\.ts|platform/(app|server)\\.ts)$';
const folder = (name) => `^src/${name}/`;
const alternation = (names) => `^src/(${names.join('|')})/`;

const forbidden = [];
for (const [name, allowed] of Object.entries(ALLOWED_SHARED)) {
  const others = [...SHARED, ...ORDER].filter((n) => !allowed.includes(n));
  forbidden.push({
    name: `shared-${name}`,
    comment: `src/${name} is a shared library: it may import only ${allowed.join(', ')}`,
    severity: 'error',
    from: { path: folder(name) },
    to: { path: alternation(others) },
  });
}
ORDER.forEach((name, index) => {
  const later = ORDER.slice(index + 1);
  if (later.length === 0) return;
  forbidden.push({
    name: `no-later-step-from-${name}`,
    comment: `src/${name} may not import a later step (${later.join(', ')})`,
    severity: 'error',
    from: { path: folder(name), pathNot: COMPOSITION_ROOTS },
    to: { path: alternation(later) },
  });
});
forbidden.push(
  {
    name: 'workers-not-api',
    comment: 'the worker process builds its workers from the job catalog and imports no API server code',
    severity: 'error',
    from: { path: '^workers/' },
    to: { path: '^src/(main\\.ts|platform/(app|server)\\.ts|.*routes\\.ts$)' },
  },
  {
    name: 'web-only-contract',
    comment: 'the web UI imports from the server only its wire contract',
    severity: 'error',
    from: { path: '^web/src/' },
    to: { path: '^src/', pathNot: '^src/(contract|generated/prisma/enums\\.ts)' },
  },
  {
    name: 'no-circular',
    comment: 'no import cycles between modules',
    severity: 'error',
    from: { path: '^(src|workers)/', pathNot: '^src/generated/' },
    to: { circular: true },
  },
);

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|web/dist|models|data)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs'] },
  },
};
