# Shopfloor: one process (webhooks, engine, runner pool). Build: docker build -t shopfloor .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# git for mirrors and worktrees, bubblewrap to sandbox agent commands, ripgrep for the search tool.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git bubblewrap ripgrep ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json app.yml ./
COPY agents ./agents
RUN useradd --create-home --uid 10001 shopfloor \
 && mkdir -p /var/lib/shopfloor/state /var/lib/shopfloor/work \
 && chown -R shopfloor:shopfloor /var/lib/shopfloor
USER shopfloor
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    SHOPFLOOR_STATE_DIR=/var/lib/shopfloor/state \
    SHOPFLOOR_WORK_DIR=/var/lib/shopfloor/work
VOLUME ["/var/lib/shopfloor"]
EXPOSE 3000
# bubblewrap needs unprivileged user namespaces: run with `--security-opt seccomp=unconfined`
# (or a profile allowing clone/unshare) so agent commands stay sandboxed.
CMD ["node", "dist/cli.js", "serve"]
