# Scaleboard worker: the queue consumer `scaleboard-worker`, one process per pod.
#
# The build context is the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t scaleboard-worker:0.1.0 .
#   az acr build -r REGISTRY -f deploy/docker/worker.Dockerfile -t scaleboard-worker:0.1.0 .
# Both use worker.Dockerfile.dockerignore beside this file as the context filter, which keeps
# target/ and node_modules/ out of the upload. (An older client that reads only a root-level
# .dockerignore needs the same lines there.)
#
# No BuildKit-only syntax, because ACR Tasks builds with the classic builder: the dependency cache
# comes from layer order (see recipe.sh), not from cache mounts.

ARG RUST_IMAGE=rust:1.95-bookworm
# glibc + libgcc + CA certificates, no shell, user 65532.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# The workspace's manifests with stub crate roots: unchanged while only sources change.
FROM ${RUST_IMAGE} AS recipe
WORKDIR /src
COPY . .
RUN sh deploy/docker/recipe.sh /recipe

FROM ${RUST_IMAGE} AS builder
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never
WORKDIR /build

# Dependencies only (cached until a manifest or Cargo.lock changes).
COPY --from=recipe /recipe/ ./
RUN cargo build --release --locked --package worker --bin scaleboard-worker

# The real sources. COPY keeps their modification times, which may be older than the stubs'
# build: touch them so cargo rebuilds the workspace crates instead of keeping the stubs.
COPY . .
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --package worker --bin scaleboard-worker \
 && install -D -m 0755 target/release/scaleboard-worker /out/scaleboard-worker

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="scaleboard-worker" \
      org.opencontainers.image.description="Scaleboard queue worker" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder /out/scaleboard-worker /app/scaleboard-worker
ENV SCALEBOARD_WORKER_HEALTH_ADDR=0.0.0.0:8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app/scaleboard-worker"]
