FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are collected into the image and served by whitenoise with hashed names.
RUN SECRET_KEY=build-only STATIC_FILES_COLLECTED=true python manage.py collectstatic --noinput
ENV STATIC_FILES_COLLECTED=true
RUN useradd --create-home finops && mkdir -p /app/var && chown finops /app/var
USER finops
EXPOSE 8000
CMD ["gunicorn", "finops.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
