"""The sign-in limit: failed attempts per client address, counted by `limits`
in Redis when there is one (every web process shares the count), in this
process's memory on the embedded default."""
import logging
import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


class LoginThrottle:
    def __init__(self, config):
        storage = storage_from_string(config["REDIS_URL"] or "memory://")
        self.limiter = MovingWindowRateLimiter(storage)
        self.limits = parse_many(config["LOGIN_RATE_LIMIT"])
        self.namespace = f"{config['QUEUE_NAME']}-sign-in"  # one per ChronoFlow sharing a Redis

    def wait_seconds(self, address):
        """0 when `address` may try to sign in; otherwise how long until it may."""
        try:
            for limit in self.limits:
                if not self.limiter.test(limit, self.namespace, address):
                    stats = self.limiter.get_window_stats(limit, self.namespace, address)
                    return max(1, int(stats.reset_time - time.time()) + 1)
        except Exception:  # Redis down: signing in must keep working, unlimited for now
            log.warning("sign-in limit not checked: its storage failed", exc_info=True)
        return 0

    def failed(self, address):
        try:
            for limit in self.limits:
                self.limiter.hit(limit, self.namespace, address)
        except Exception:
            log.warning("failed sign-in not counted: its storage failed", exc_info=True)
