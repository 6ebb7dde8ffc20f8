# The crimemap app (CLI and web service). Binary wheels carry GEOS/PROJ/GDAL, so no system GIS packages are needed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY geo ./geo
COPY data ./data
COPY boundaries ./boundaries
COPY api ./api
RUN pip install . && useradd --create-home --uid 10001 crimemap

USER crimemap
EXPOSE 8000
CMD ["crimemap", "serve", "--host", "0.0.0.0", "--port", "8000"]
