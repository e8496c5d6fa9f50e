# Scaleboard server: the `scaleboard` binary and its static site (wasm, JS glue, CSS).
#
# The build context is the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t scaleboard-server:0.1.0 .
#   az acr build -r REGISTRY -f deploy/docker/server.Dockerfile -t scaleboard-server:0.1.0 .
# Both use server.Dockerfile.dockerignore beside this file as the context filter, which keeps
# target/ and node_modules/ out of the upload. (An older client that reads only a root-level
# .dockerignore needs the same lines there.)
#
# `cargo xtask build --release` builds the server and the wasm bundle without cargo-leptos. It
# needs the wasm32-unknown-unknown target and `wasm-opt` from npm's binaryen: Debian's binaryen
# (version 108) emits wasm that fails in the browser, and Debian's node is too old, so node and
# npm come from the official node image.
#
# No BuildKit-only syntax, because ACR Tasks builds with the classic builder: the dependency cache
# comes from layer order (see recipe.sh), not from cache mounts.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
# glibc + libgcc + CA certificates, no shell, user 65532.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARYEN_VERSION=132

FROM ${NODE_IMAGE} AS node

# The workspace's manifests with stub crate roots: unchanged while only sources change.
FROM ${RUST_IMAGE} AS recipe
WORKDIR /src
COPY . .
RUN sh deploy/docker/recipe.sh /recipe

# Rust with the wasm target, node 20, npm and wasm-opt.
FROM ${RUST_IMAGE} AS toolchain
ARG BINARYEN_VERSION
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && npm install --global --no-audit --no-fund "binaryen@${BINARYEN_VERSION}" \
 && node --version && wasm-opt --version \
 && rustup target add wasm32-unknown-unknown

FROM toolchain AS builder
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never
WORKDIR /build

# Dependencies only (cached until a manifest or Cargo.lock changes): the xtask itself, the
# server (`ssr`) and the browser bundle (`hydrate`, wasm-release profile), as xtask builds them.
COPY --from=recipe /recipe/ ./
RUN cargo build --locked --package xtask \
 && cargo build --release --locked --package server \
 && cargo build --locked --profile wasm-release --target wasm32-unknown-unknown \
      --package app --lib --no-default-features --features hydrate

# The real sources. COPY keeps their modification times, which may be older than the stubs'
# build: touch them so cargo rebuilds the workspace crates instead of keeping the stubs.
COPY . .
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
 && cargo xtask build --release \
 && test -d target/site/pkg \
 && install -D -m 0755 target/release/scaleboard /out/scaleboard \
 && cp -R target/site /out/site

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="scaleboard-server" \
      org.opencontainers.image.description="Scaleboard dashboard server" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
COPY --from=builder /out/ /app/
# LEPTOS_* describe the site for Leptos' own configuration reader; the server reads
# LEPTOS_SITE_ROOT to serve /pkg.
ENV SCALEBOARD_ADDR=0.0.0.0:3000 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_OUTPUT_NAME=scaleboard \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_ENV=PROD
USER 65532:65532
EXPOSE 3000
ENTRYPOINT ["/app/scaleboard"]
