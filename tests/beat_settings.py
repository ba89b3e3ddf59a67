"""A minimal Django settings module for django-celery-beat as the warehouse runs it, for the tests
that compare the app's beat arithmetic with beat's own (``tests/support/beat_oracle.py``).

Only the tests import Django; the app never does. The database is made per test run, so
``DATABASES["default"]`` is filled at runtime (``beat_oracle.configure``) before ``django.setup()``.
The search path puts ``django`` first, as the warehouse's Django does, so beat's migrations create
its tables in schema ``django`` (off the app role's search path).
"""

SECRET_KEY = "sync-monitor-tests-beat-oracle"  # a test-only settings module
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
# django-timezone-field (the crontab's ``timezone`` column) is a field only, with no app to install
INSTALLED_APPS = ["django_celery_beat"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "",  # filled at runtime
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {"options": "-c search_path=django,orchestration,public"},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DJANGO_CELERY_BEAT_TZ_AWARE = True  # beat's default, spelled out: crontabs in their own zone
