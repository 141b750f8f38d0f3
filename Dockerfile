# syntax=docker/dockerfile:1
# The kilo-rs image for Docker and BuildKit users:
#
#   docker build -t localhost/kilo-rs:0.1.0 --build-arg KILO_GIT_REVISION="$(git rev-parse --short=12 HEAD)" .
#
# The same contents as e2e/image/build.sh (which needs no registry and no engine, and is what CI
# runs): Debian bookworm with e2e/image/packages, kg, kgctl, a static kilo-cni, static loopback
# and portmap built from the Debian source of the reference CNI plugins, and iptables-wrapper.

FROM rust:1.95-bookworm AS rust
ARG KILO_GIT_REVISION=unknown
ENV KILO_GIT_REVISION=${KILO_GIT_REVISION}
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p kg -p kgctl \
 && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked --release -p kilo-cni --target x86_64-unknown-linux-gnu \
 && mkdir -p /out \
 && cp target/release/kg target/release/kgctl target/x86_64-unknown-linux-gnu/release/kilo-cni /out/

FROM debian:bookworm AS cni-plugins
COPY e2e/image/cni-plugins.sh /cni-plugins.sh
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates xz-utils \
 && KILO_IMAGE_CACHE=/tmp/cache bash /cni-plugins.sh /out

FROM debian:bookworm-slim
COPY e2e/image/packages /tmp/packages
RUN apt-get update -qq \
 && grep -v '^#' /tmp/packages | xargs apt-get install -y -qq --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/packages
COPY --from=rust /out/kg /out/kgctl /out/kilo-cni /usr/local/bin/
COPY --from=cni-plugins /out/loopback /out/portmap /usr/local/lib/kilo-rs/cni/
COPY e2e/image/iptables-wrapper /usr/sbin/iptables-wrapper
RUN for b in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do \
      ln -sf iptables-wrapper "/usr/sbin/$b"; \
    done
LABEL org.opencontainers.image.title=kilo-rs org.opencontainers.image.licenses=Apache-2.0
CMD ["/usr/local/bin/kg"]
