"""Where ChronoFlow may send a request: the outbound (SSRF) policy.

A scheduler that calls URLs for its users must not become a way into its own
network. Cloud metadata services and link-local addresses are refused always;
loopback, private, unique-local, CGNAT, unspecified and other non-global
addresses are refused unless OUTBOUND_ALLOWED_NETWORKS lists them (a network
in CIDR notation or a host name).

`check_host` is used when a chrono is saved; `connect` when a request is sent:
it resolves the host once, checks each address and connects to the address it
checked (the technique of the `advocate` library), so DNS cannot answer one
thing to the check and another to the connection.
"""
import contextvars
import ipaddress
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

# Never reachable, whatever the operator allows: instance credentials live there.
ALWAYS_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "100.100.100.200/32", "fd00:ec2::254/128", "0.0.0.0/32", "::/128")
)
ALWAYS_BLOCKED_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)


class Blocked(Exception):
    """The destination is not allowed. `reason` is a stable code, `address` what it resolved to."""

    def __init__(self, host, address, reason):
        self.host, self.address, self.reason = host, address, reason
        shown = host if address is None or address == host else f"{host} ({address})"
        super().__init__(f"{shown} is {DESCRIPTIONS[reason]}; refused by the outbound request policy")


DESCRIPTIONS = {
    "metadata": "a cloud metadata address",
    "link_local": "a link-local address",
    "loopback": "a loopback address",
    "private": "a private network address",
    "unspecified": "an unspecified address",
    "reserved": "not a public internet address",
}


@dataclass(frozen=True)
class Policy:
    networks: tuple = ()  # ip_network objects the operator allows
    hosts: frozenset = frozenset()  # lower-case host names the operator allows

    def allows_host(self, host):
        return host.lower().rstrip(".") in self.hosts

    def check_address(self, host, address):
        """Raise Blocked unless `address` (a string) may be connected to for `host`."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip in ipaddress.ip_network("100.100.100.200/32") or ip in ipaddress.ip_network("fd00:ec2::254/128"):
            raise Blocked(host, address, "metadata")
        if ip.is_link_local:
            raise Blocked(host, address, "metadata" if str(ip) == "169.254.169.254" else "link_local")
        if ip.is_unspecified:
            raise Blocked(host, address, "unspecified")
        if self.allows_host(host) or any(ip.version == n.version and ip in n for n in self.networks):
            return
        if ip.is_loopback:
            raise Blocked(host, address, "loopback")
        if ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"):
            raise Blocked(host, address, "private")
        if not ip.is_global or ip.is_multicast:
            raise Blocked(host, address, "reserved")

    def check_address_cached(self, host, address):
        """check_address, remembered: a burst asks it about the same few peers thousands of times."""
        refusal = _refusal(self, host, address)
        if refusal is not None:
            raise refusal

    def check_name(self, host):
        if host.lower().rstrip(".") in ALWAYS_BLOCKED_HOSTS:
            raise Blocked(host, None, "metadata")


@lru_cache(maxsize=4096)
def _refusal(rules, host, address):
    try:
        rules.check_address(host, address)
    except Blocked as exc:
        return exc
    return None


@lru_cache(maxsize=64)
def policy(allowed=()):
    """The Policy for OUTBOUND_ALLOWED_NETWORKS' parsed value (a tuple of strings)."""
    networks, hosts = [], set()
    for entry in allowed or ():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return Policy(tuple(networks), frozenset(hosts))


def resolve(host, port):
    """getaddrinfo, with literal addresses (and [::1]) passed through."""
    return socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)


_remembered = contextvars.ContextVar("outbound_remembered", default=None)


@contextmanager
def remembering():
    """Inside: check_host resolves and checks each host once. An import of thousands
    of chronos names a few hosts; the check at send time still resolves each call."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def check_host(host, port, allowed=()):
    """Raise Blocked if `host` is or resolves to an address the policy refuses.

    A name that does not resolve now passes: the check at send time decides.
    """
    memo = _remembered.get()
    if memo is None:
        return _check_host(host, port, allowed)
    key = (host, port, tuple(allowed or ()))
    if key not in memo:
        try:
            _check_host(host, port, allowed)
        except Blocked as exc:
            memo[key] = exc
        else:
            memo[key] = None
    refusal = memo[key]
    if refusal is not None:
        raise Blocked(refusal.host, refusal.address, refusal.reason)


def _check_host(host, port, allowed=()):
    rules = policy(tuple(allowed or ()))
    rules.check_name(host)
    try:
        infos = resolve(host, port)
    except (socket.gaierror, UnicodeError, OSError):
        return
    for *_, sockaddr in infos:
        rules.check_address(host, sockaddr[0])


def connect(host, port, allowed, timeout, source_address=None, socket_options=None):
    """A socket connected to an address of `host` that the policy allows.

    Resolves once; every address is checked before any connection, and the
    socket connects to the checked address (no second resolution).
    """
    rules = policy(tuple(allowed or ()))
    rules.check_name(host)
    infos = resolve(host, port)
    for *_, sockaddr in infos:
        rules.check_address(host, sockaddr[0])
    error = None
    for family, socktype, proto, _canon, sockaddr in infos:
        sock = None
        try:
            sock = socket.socket(family, socktype, proto)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error or OSError(f"getaddrinfo returned nothing for {host}")
