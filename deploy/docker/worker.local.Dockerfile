# Scaleboard worker, assembled from files built on this machine: what `cargo xtask images` builds
# when no base image can be pulled. worker.Dockerfile stays the recipe for registries
# (`docker build`, `az acr build`); this one gives the same container: user, entrypoint, ports,
# environment, labels and paths (xtask's tests compare the two).
#
# The build context is a folder xtask fills (<target>/images/worker):
#   scaleboard-worker       the worker, static (x86_64-unknown-linux-musl, cargo profile `image`)
#   ca-certificates.crt     Debian's CA bundle (package ca-certificates)
# The static binary needs no libc, so the image starts from scratch; the CA bundle sits where
# distroless keeps its own and where rustls finds it without a setting.

FROM scratch
LABEL org.opencontainers.image.title="scaleboard-worker" \
      org.opencontainers.image.description="Scaleboard queue worker" \
      org.opencontainers.image.licenses="MIT"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY scaleboard-worker /app/scaleboard-worker
ENV SCALEBOARD_WORKER_HEALTH_ADDR=0.0.0.0:8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app/scaleboard-worker"]
