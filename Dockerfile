# Ledgerdesk's container image: one static binary, CA certificates, nothing
# else. Build it with `make docker`, which passes the version; by hand:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t ledgerdesk .
# docs/operations.md says how to run it.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG BUILT=""
# .git stays out of the build context, so the version comes in as build
# arguments; empty ones read "devel" and "unknown".
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X ledgerdesk/version.version=${VERSION} -X ledgerdesk/version.commit=${COMMIT} -X ledgerdesk/version.built=${BUILT}" \
      -o /out/ledgerdesk ./cmd/ledgerdesk \
 && mkdir -p /out/data /out/tmp && chmod 0700 /out/data && chmod 1777 /out/tmp

FROM scratch
# For TLS to PostgreSQL, the SMTP server and webhook receivers. Time zones
# are built into the binary.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/ledgerdesk /ledgerdesk
# The embedded SQLite database and secrets.json (the keys, unless they
# come from the environment) live in /data: keep it on a volume and back
# both up together.
ENV LEDGERDESK_DATA=/data \
    LISTEN=:8080 \
    LEDGERDESK_NO_DEMO_DATA=true
VOLUME /data
EXPOSE 8080
# A numeric user: scratch has no /etc/passwd to look a name up in.
USER 65532:65532
# Exec form: scratch has no shell, and the binary asks /healthz itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/ledgerdesk", "healthcheck"]
ENTRYPOINT ["/ledgerdesk"]
CMD ["serve"]
