# The crimemap app (CLI and web service). Binary wheels carry GEOS/PROJ/GDAL, so no system GIS packages are needed.
# Front-end assets from the npm registry (the same lock file scripts/setup uses).
FROM node:20-slim AS assets
WORKDIR /npm
COPY api/static/package.json api/static/package-lock.json ./
RUN npm install --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY geo ./geo
COPY data ./data
COPY boundaries ./boundaries
COPY api ./api
COPY scripts/vendor-assets /tmp/vendor-assets
COPY --from=assets /npm/node_modules /tmp/node_modules
RUN rm -rf api/static/vendor && bash /tmp/vendor-assets /tmp/node_modules api/static/vendor \
    && rm -rf /tmp/node_modules /tmp/vendor-assets
RUN pip install . && useradd --create-home --uid 10001 crimemap

USER crimemap
EXPOSE 8000
CMD ["crimemap", "serve", "--host", "0.0.0.0", "--port", "8000"]
