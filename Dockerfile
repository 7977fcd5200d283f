# socmint-bot: a small image that runs as an unprivileged user. See README, "Operating".
#   docker build -t socmint-bot .        docker compose up      (the bot with PostgreSQL: docker-compose.yml)

# Build stage: the package, its C scan compiled, and every dependency (with the PostgreSQL driver) in a venv.
FROM python:3.12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY config config
COPY handlers handlers
COPY storage storage
RUN python -m venv /opt/socmint \
 && /opt/socmint/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/socmint/bin/pip install --no-cache-dir '.[postgres]' \
 && cd / && /opt/socmint/bin/python -c "import handlers.monitor._scan"

# Run stage: the venv only (no compiler), as user socmint, data in /data.
FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin socmint \
 && mkdir -p /data && chown socmint /data
COPY --from=build /opt/socmint /opt/socmint
ENV PATH=/opt/socmint/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SOCMINT_DATA_DIR=/data \
    SOCMINT_OPS__LISTEN=0.0.0.0 \
    SOCMINT_OPS__PORT=9464
USER socmint
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["socmint", "health"]
ENTRYPOINT ["socmint"]
CMD ["run"]
