from django.apps import AppConfig


class FinopsConfig(AppConfig):
    name = "finops"
    verbose_name = "FinOps"
    default_auto_field = "django.db.models.BigAutoField"
