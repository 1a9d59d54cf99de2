"""A test's Flask app served over real HTTP on 127.0.0.1, in a thread: for peers
that call ChronoFlow back (the fake WAHA's webhooks), while the test keeps
driving the same app and database directly.

    with serving(app) as base:      # http://127.0.0.1:PORT
        ...
"""
import contextlib
import threading

from werkzeug.serving import make_server


@contextlib.contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # server_close() then waits for requests in flight (a webhook the fake WAHA sent
    # a moment ago): none may hold a lock when the test's database is emptied.
    server.daemon_threads = False
    server.block_on_close = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
