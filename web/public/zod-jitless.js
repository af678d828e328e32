// Runs before the app's modules (a classic script): zod then never probes `new Function` to decide
// whether it may compile parsers. Under the server's Content-Security-Policy (no 'unsafe-eval') the
// probe is reported as a CSP violation even though zod catches it; parsing works the same without.
globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig || {}, { jitless: true });
