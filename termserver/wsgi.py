"""The gunicorn target: ``gunicorn termserver.wsgi:app``."""
from termserver import create_app

app = create_app()
