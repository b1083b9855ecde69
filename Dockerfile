# Build the standalone binary, then run it alone in a small image as a non-root user.
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
COPY db ./db
COPY scripts/build.ts ./scripts/build.ts
RUN bun scripts/build.ts --outfile /out/bender

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bender \
 && mkdir -p /data && chown bender /data
COPY --from=build /out/bender /usr/local/bin/bender
USER bender
WORKDIR /data
ENV BENDER_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080 9000
ENTRYPOINT ["/usr/local/bin/bender"]
CMD ["serve"]
