"""What Django's error reports (the DEBUG page, the e-mail to ADMINS) may show.

Django hides settings and request.META entries whose *name* says secret (SECRET_KEY,
EMAIL_HOST_PASSWORD, AWS_SECRET_ACCESS_KEY). The URLs this project is configured with carry
their password inside the value under an innocent name (DATABASE_URL, REDIS_URL,
CELERY_BROKER_URL, EMAIL_URL), and a development server copies the whole environment into
request.META; so the password part of any URL is hidden too."""

import re

from django.views.debug import SafeExceptionReporterFilter

URL_PASSWORD = re.compile(r"(?P<before>[a-z][a-z0-9+.-]*://[^/@\s:]*:)[^/\s]+@", re.IGNORECASE)


class CredentialsHidingFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):  # str() too: lazy strings (django-axes settings) pass isinstance
            return URL_PASSWORD.sub(rf"\g<before>{self.cleansed_substitute}@", str(cleansed))
        return cleansed
