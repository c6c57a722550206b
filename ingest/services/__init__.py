"""Ingestion services: billing exports, GPU metrics, uploads and scheduled data sources.
Commands, tasks and views call these; nothing here renders or schedules."""
