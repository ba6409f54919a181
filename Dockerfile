# Cairn itself. Build context: the repository root.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production CAIRN_HOST=0.0.0.0 CAIRN_DATA_DIR=/var/lib/cairn
COPY --from=build /app /app
RUN mkdir -p /var/lib/cairn && chown node:node /var/lib/cairn
USER node
EXPOSE 6432 8080
CMD ["node", "cli/dist/bin.js", "start"]
