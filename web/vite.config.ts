// Vite build of the browser UIs into web/dist, which the API serves at `/` (src/platform/static-site.ts).
// The web code imports the wire contract as `#contract/<module>.ts` (package.json "imports": src/contract).
// `npm run dev:web` proxies the API to a server started with `npm start` on port 8080.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: { '/v1': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
