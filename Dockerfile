FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TZ=UTC FLASK_APP=app HOST=0.0.0.0 PORT=8000 WEB_WORKERS=4
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home chronoflow && mkdir -p instance && chown chronoflow instance
USER chronoflow

EXPOSE 8000
CMD ["gunicorn", "app:app"]
