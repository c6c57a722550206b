import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")

application = get_wsgi_application()

from finops.startup import start_up_objects_freeze  # noqa: E402 (needs the settings above)

start_up_objects_freeze()
