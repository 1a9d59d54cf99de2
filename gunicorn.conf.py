"""gunicorn reads this from the working directory, whoever starts it (scripts/run,
docker compose, the tests); command-line flags still win."""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
accesslog = "-"
# gunicorn's control socket has one default path per user: several servers on a
# machine (a deploy and its tests, say) would take it from each other.
control_socket_disable = True
