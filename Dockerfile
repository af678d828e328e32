# One image for the API and the workers (docker-compose.yml picks the command). The build stage
# compiles the TypeScript to dist/ (`npm run build`) and the UI to web/dist; the runtime stage holds
# only what runs: compiled JavaScript, production dependencies, migrations, the UI and the base model.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run generate && npm run build:web && npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 MODEL_DIR=/app/models FEEDLOOP_DATA_DIR=/app/data
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/web/dist ./web/dist
COPY --from=build /app/models ./models
# Volumes mounted on these start with the image's ownership, so the node user can write to them.
RUN mkdir -p /app/data /app/models/versions && chown -R node:node /app/data /app/models/versions
USER node
EXPOSE 8080
# The workers service runs `node dist/workers/main.js` (see docker-compose.yml).
CMD ["node", "dist/src/main.js"]
