# Scaleboard server, assembled from files built on this machine: what `cargo xtask images` builds
# when no base image can be pulled. server.Dockerfile stays the recipe for registries
# (`docker build`, `az acr build`); this one gives the same container: user, entrypoint, ports,
# environment, labels and paths (xtask's tests compare the two).
#
# The build context is a folder xtask fills (<target>/images/server):
#   scaleboard              the server, static (x86_64-unknown-linux-musl, cargo profile `image`)
#   site/                   the hydrated site (wasm, JavaScript glue, CSS, icons)
#   ca-certificates.crt     Debian's CA bundle (package ca-certificates)
# The static binary needs no libc, so the image starts from scratch; the CA bundle sits where
# distroless keeps its own and where rustls finds it without a setting.

FROM scratch
LABEL org.opencontainers.image.title="scaleboard-server" \
      org.opencontainers.image.description="Scaleboard dashboard server" \
      org.opencontainers.image.licenses="MIT"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
WORKDIR /app
COPY scaleboard /app/scaleboard
COPY site /app/site
ENV SCALEBOARD_ADDR=0.0.0.0:3000 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_OUTPUT_NAME=scaleboard \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_ENV=PROD
USER 65532:65532
EXPOSE 3000
ENTRYPOINT ["/app/scaleboard"]
