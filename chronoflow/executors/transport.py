"""The wire under executors/http.py: libcurl (pycurl), its multi interface driven
by a thread of the process.

Why libcurl: a burst is thousands of calls, and the client's CPU per call is
what bounds it. Measured on loopback (one process, 5,000 POSTs, 64 at a time):
pycurl ~0.03 ms of CPU a call, aiohttp ~0.16 ms, urllib3 on threads ~0.27 ms.
Connections are kept alive and reused (per process, in the multi handle), with
one thing libcurl would do that we must not: when a kept-alive connection dies
after the request was sent and before any answer, libcurl sends the request
again on a new connection, and an attempt must never reach a target twice.
PREREQFUNCTION runs before every send: the second send of one call is refused
(the attempt fails as a connection error, as it would with any other client),
and the peer's address is checked again, since a reused connection opens no
socket to check.

The outbound policy is enforced where the socket is made: libcurl hands every
address it is about to connect to (resolved, or a literal) to OPENSOCKETFUNCTION,
which refuses any the policy forbids. Nothing else connects: no proxies from the
environment, no redirects, no protocol but http and https.
"""
import http
import logging
import os
import queue
import socket
import threading
from dataclasses import dataclass

import certifi
import pycurl

from . import outbound

log = logging.getLogger(__name__)

PROTOCOLS = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS
# How many idle easy handles a process keeps for reuse.
SPARE_HANDLES = 512


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    content_type: str | None
    retry_after_s: float | None
    body: bytes
    seconds: float


class Failed(Exception):
    """The call did not get an answer. `code`: blocked | timeout | connection | request;
    `params`: what words for it need (a connection's `reason`: NETWORK_REASONS)."""

    def __init__(self, code, message, seconds, **params):
        super().__init__(message)
        self.code, self.seconds, self.params = code, seconds, params


# libcurl's errors that say the request itself cannot be made (not worth retrying).
_REQUEST_ERRORS = {pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_BAD_FUNCTION_ARGUMENT}


# Why a connection failed, as a person can act on it (chronoflow/outcomes.py words each).
NETWORK_REASONS = {
    pycurl.E_COULDNT_RESOLVE_HOST: "dns",
    pycurl.E_COULDNT_CONNECT: "refused",
    pycurl.E_SSL_CONNECT_ERROR: "tls",
    pycurl.E_PEER_FAILED_VERIFICATION: "tls",
    pycurl.E_SSL_CERTPROBLEM: "tls",
    pycurl.E_GOT_NOTHING: "empty",
    pycurl.E_SEND_ERROR: "reset",
    pycurl.E_RECV_ERROR: "reset",
    pycurl.E_PARTIAL_FILE: "reset",
}

_RESENT = object()  # what a guard notes when libcurl wanted to send a call a second time


class _Body:
    """The answer's first `limit` bytes; past them the transfer is cut (its
    connection closed, never back in the pool half read)."""

    __slots__ = ("chunks", "size", "limit")

    def __init__(self, limit):
        self.chunks, self.size, self.limit = [], 0, limit

    def write(self, data):
        room = self.limit - self.size
        if len(data) <= room:
            self.chunks.append(data)
            self.size += len(data)
            return None
        if room > 0:
            self.chunks.append(data[:room])
            self.size = self.limit
        return 0  # anything but len(data): libcurl stops the transfer


class _Guard:
    """OPENSOCKETFUNCTION: a socket only for an address the policy allows.
    PREREQFUNCTION (`before_send`): one send a call, to an allowed peer."""

    __slots__ = ("rules", "host", "blocked", "sent")

    def __init__(self, rules, host):
        self.rules, self.host, self.blocked, self.sent = rules, host, None, False

    def before_send(self, primary_ip, local_ip, primary_port, local_port):
        if self.sent:
            self.blocked = _RESENT
            return pycurl.PREREQFUNC_ABORT
        try:
            self.rules.check_address_cached(self.host, primary_ip)
        except outbound.Blocked as exc:
            self.blocked = exc
            return pycurl.PREREQFUNC_ABORT
        self.sent = True
        return pycurl.PREREQFUNC_OK

    def __call__(self, purpose, address):
        family, socktype, protocol, sockaddr = address
        try:
            self.rules.check_address(self.host, sockaddr[0])
        except outbound.Blocked as exc:
            self.blocked = exc
            return pycurl.SOCKET_BAD  # libcurl connects to nothing
        return _Socket(socket.socket(family, socktype, protocol).detach())


class _Socket:
    """What OPENSOCKETFUNCTION returns: pycurl dup()s its fileno() for libcurl,
    then drops it, and the original descriptor is closed with it."""

    __slots__ = ("fd",)

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def __del__(self):
        os.close(self.fd)


class Engine:
    """One libcurl multi handle and the thread that drives it: libcurl polls its
    sockets itself (perform/select, in C), so a call costs no Python per socket
    event. Calls come in through a queue; `done` callbacks run on this thread."""

    # While calls are in flight, new ones wait at most this long for the thread to look.
    POLL_S = 0.005

    def __init__(self):
        self.multi = pycurl.CurlMulti()
        self.share = pycurl.CurlShare()
        self.share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        self.share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_DNS)
        self.spare = []
        self.active = 0
        self.incoming = queue.SimpleQueue()
        self.pid = os.getpid()
        threading.Thread(target=self._run, name="outbound-calls", daemon=True).start()

    def submit(self, calls):
        """calls: (fetch arguments, done) pairs."""
        self.incoming.put(calls)

    def _run(self):
        while True:
            self._admit(block=not self.active)
            while True:
                status, _running = self.multi.perform()
                if status != pycurl.E_CALL_MULTI_PERFORM:
                    break
            self._collect()
            if self.active:
                self.multi.select(self.POLL_S)

    def _admit(self, block):
        try:
            calls = self.incoming.get(block=block)
            while True:
                for args, done in calls:
                    self._start(*args, done)
                calls = self.incoming.get_nowait()
        except queue.Empty:
            pass

    def _start(self, method, url, host, headers, body, timeout_s, max_bytes, allowed, done):
        rules = outbound.policy(allowed)
        try:
            rules.check_name(host)
        except outbound.Blocked as exc:
            done(Failed("blocked", str(exc), 0.0, reason=exc.reason, address=exc.address))
            return
        handle = self.spare.pop() if self.spare else pycurl.Curl()
        handle.body, handle.guard, handle.done = _Body(max_bytes), _Guard(rules, host), done
        try:
            self._configure(handle, method, url, headers, body, timeout_s)
        except (pycurl.error, TypeError, ValueError, UnicodeError) as exc:
            self._release(handle)
            done(Failed("request", f"Request failed: {exc}", 0.0))
            return
        self.multi.add_handle(handle)
        self.active += 1

    def _configure(self, handle, method, url, headers, body, timeout_s):
        handle.unsetopt(pycurl.SHARE)  # pycurl refuses a new share on a handle that has one, reset or not
        handle.reset()
        handle.setopt(pycurl.SHARE, self.share)
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.PROTOCOLS, PROTOCOLS)
        handle.setopt(pycurl.REDIR_PROTOCOLS, PROTOCOLS)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.PROXY, "")  # never HTTP_PROXY & co from the environment
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.CAINFO, certifi.where())
        milliseconds = max(1, int(timeout_s * 1000))
        handle.setopt(pycurl.TIMEOUT_MS, milliseconds)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, milliseconds)
        # "Expect:" off: libcurl would otherwise wait for a 100 Continue before large bodies.
        handle.setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in headers.items()] + ["Expect:"])
        handle.setopt(pycurl.OPENSOCKETFUNCTION, handle.guard)
        handle.setopt(pycurl.PREREQFUNCTION, handle.guard.before_send)
        handle.setopt(pycurl.WRITEFUNCTION, handle.body.write)
        if method == "HEAD":
            handle.setopt(pycurl.NOBODY, 1)
        elif body is not None:
            handle.setopt(pycurl.POSTFIELDS, body)
            if method != "POST":
                handle.setopt(pycurl.CUSTOMREQUEST, method)
        elif method == "POST":
            handle.setopt(pycurl.POSTFIELDS, b"")
        elif method != "GET":
            handle.setopt(pycurl.CUSTOMREQUEST, method)

    def _collect(self):
        while True:
            queued, succeeded, failed = self.multi.info_read()
            for handle in succeeded:
                self._end(handle, None, None)
            for handle, errno, message in failed:
                self._end(handle, errno, message)
            if not queued:
                return

    def _end(self, handle, errno, message):
        self.multi.remove_handle(handle)
        self.active -= 1
        done, body, guard = handle.done, handle.body, handle.guard
        seconds = handle.getinfo(pycurl.TOTAL_TIME)
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        content_type = handle.getinfo(pycurl.CONTENT_TYPE)
        retry_after = handle.getinfo(pycurl.RETRY_AFTER)
        self._release(handle)
        if errno is None or (errno == pycurl.E_WRITE_ERROR and status):
            # A write error is ours: the body was cut at max_bytes, the answer is good.
            answer = Response(status, _reason(status), content_type, retry_after or None, b"".join(body.chunks),
                              seconds)
        elif guard.blocked is _RESENT:
            answer = Failed("connection", "Connection failed: the connection closed before an answer came", seconds,
                            reason="reset")
        elif guard.blocked is not None:
            answer = Failed("blocked", str(guard.blocked), seconds, reason=guard.blocked.reason,
                            address=guard.blocked.address)
        elif errno == pycurl.E_OPERATION_TIMEDOUT:
            answer = Failed("timeout", message, seconds)
        elif errno in _REQUEST_ERRORS:
            answer = Failed("request", f"Request failed: {message}", seconds)
        else:
            answer = Failed("connection", f"Connection failed: {message}", seconds,
                            reason=NETWORK_REASONS.get(errno, "other"))
        try:
            done(answer)
        except Exception:  # a broken callback must not stop the engine
            log.exception("a call's callback failed")

    def _release(self, handle):
        handle.body = handle.guard = handle.done = None
        if len(self.spare) < SPARE_HANDLES:
            self.spare.append(handle)
        else:
            handle.close()


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


_engine = None
_engine_lock = threading.Lock()


def fetch_all(calls):
    """(fetch arguments, done) pairs: the calls start side by side on this
    process's engine; each `done(Response or Failed)` is called on its thread."""
    global _engine
    with _engine_lock:
        if _engine is None or _engine.pid != os.getpid():  # a forked child starts its own
            _engine = Engine()
        engine = _engine
    engine.submit(calls)
