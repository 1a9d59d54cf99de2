# Pinned: the same base on every build until someone decides to move it.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TZ=UTC FLASK_APP=app HOST=0.0.0.0 PORT=8000
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

# What runs, nothing else (.dockerignore keeps tests, benchmarks and docs out).
COPY . .
# The translations are compiled here: the app runs as a user who cannot write
# /app, and pt-BR users would get English.
RUN pybabel compile --statistics -d chronoflow/translations \
 && useradd --create-home --uid 10001 chronoflow && mkdir -p instance && chown chronoflow instance
USER chronoflow

EXPOSE 8000
# WEB_WORKERS (default 2, gunicorn.conf.py) web processes.
CMD ["gunicorn", "app:app"]
