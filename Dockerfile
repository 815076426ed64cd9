# syntax=docker/dockerfile:1
# session-push-relay: multi-stage build. The builder compiles the release binary (libsodium and
# libzmq are built from source by build.rs and linked statically); the runtime stage is Debian slim
# with only CA certificates (provider TLS) and curl (HEALTHCHECK). --no-default-features leaves the
# simulated network (the `devnet` sub-command, crates/devnet) out of the production binary.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target/ between builds without putting them in a layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features \
    && install -m 0755 target/release/session-push-relay /usr/local/bin/session-push-relay

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid relay --home-dir /data --no-create-home \
         --shell /usr/sbin/nologin relay \
    && install -d -o relay -g relay -m 0700 /data
COPY --from=builder /usr/local/bin/session-push-relay /usr/local/bin/session-push-relay
COPY deploy/docker/relay.toml /etc/session-push-relay/relay.toml

# Working directory "/" makes the DESIGN defaults land in the volume: data/keys -> /data/keys,
# sqlite://data/relay.db -> /data/relay.db. Mount a volume there: it holds the relay's keys.
WORKDIR /
VOLUME ["/data"]
# In a container the listeners must not be bound to loopback only (the defaults are 127.0.0.1).
ENV SPR_API__LISTEN=0.0.0.0:8080 \
    SPR_ADMIN__LISTEN=0.0.0.0:9090
# 8080: public API (subscribe, unsubscribe, onion). 9090: admin (metrics, health, stats): do not
# publish it beyond your monitoring network.
EXPOSE 8080 9090
USER 10001:10001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "http://127.0.0.1:9090/health/live"]
ENTRYPOINT ["/usr/local/bin/session-push-relay"]
CMD ["serve", "--config", "/etc/session-push-relay/relay.toml"]
