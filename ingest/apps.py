from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingestion"

    def ready(self):
        from ingest.memory import arrow_jemalloc_select

        arrow_jemalloc_select()
