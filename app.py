"""Entry point for `flask --app app`, gunicorn (`app:app`) and the worker."""
from chronoflow import create_app

app = create_app()
