# route53-discovery: multi-stage build.
#
# No image registry is assumed: the base images are build arguments, so a build can use local images (the tests
# make them offline with `docker import`). Defaults are the usual public ones.
#   docker build --build-arg BUILDER_IMAGE=rust:1.95-bookworm --build-arg RUNTIME_IMAGE=debian:bookworm-slim .
#
# The agent runs as root inside its container: it must read the Docker socket, which is root-owned on the ECS
# AMI (root:docker 660), and the docker group id differs between hosts. It only reads from Docker (events, list,
# inspect) and never starts, stops or changes containers.
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY actors ./actors
COPY src ./src
COPY config ./config
COPY tests ./tests
RUN cargo build --release --locked --bin route53-discovery

FROM ${RUNTIME_IMAGE}
COPY --from=build /src/target/release/route53-discovery /usr/local/bin/route53-discovery
COPY config /etc/route53-discovery
ENV R53D__LOG__FORMAT=json
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/route53-discovery", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/route53-discovery"]
CMD ["run"]
