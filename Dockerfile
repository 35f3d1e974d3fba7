# syntax=docker/dockerfile:1
# crisis-triage: the triage service and dashboard, with the bundled model, as a non-root user.
# Build: docker build -t crisis-triage .        Run with PostgreSQL: docker compose up (compose.yaml)
# No secret is baked in: CRISIS_TRIAGE_SECRET_KEY, the encryption keys and the database URL come
# from the environment or mounted secret files at run time (README, "Container").

# An exact Python release, not a moving tag; pin the digest too where your registry policy asks
# for it (docker buildx imagetools inspect python:3.11.11-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Sources only (.dockerignore keeps out the venv, databases, key files and local data).
COPY pyproject.toml README.md ./
COPY src ./src
# A non-editable install: the bundled model (detector/bundled/default.skops and its card) and
# the migrations are package data inside the virtual environment.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install ".[service]" \
    && /opt/venv/bin/python -c "from crisis_triage.detector import load_model; load_model()"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid triage --home-dir /var/lib/crisis-triage \
       --create-home --shell /usr/sbin/nologin triage
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_DATA_HOME=/var/lib/crisis-triage \
    CRISIS_TRIAGE_ENVIRONMENT=production \
    CRISIS_TRIAGE_HOST=0.0.0.0 \
    CRISIS_TRIAGE_PORT=8000 \
    CRISIS_TRIAGE_LOG_FORMAT=json
WORKDIR /var/lib/crisis-triage
USER 10001:10001
EXPOSE 8000
# Ready = the database answers at the packaged schema and the model is loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CRISIS_TRIAGE_PORT', '8000') + '/readyz', timeout=4)"]
ENTRYPOINT ["crisis-triage"]
CMD ["serve"]
