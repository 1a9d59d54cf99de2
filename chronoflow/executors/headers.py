"""Which request headers a chrono may set, and the headers a call really sends.

Header names are case-insensitive (RFC 9110), so every rule here compares them
lower-cased. Headers that frame or route a message (Content-Length,
Transfer-Encoding, Host, the hop-by-hop ones) belong to the HTTP client: set by
a person, they would let one chrono write a second request into a kept-alive
connection that another chrono then reads the answer of. ChronoFlow's own
X-ChronoFlow-* headers are a receiver's proof of who called: nobody may forge them.
"""

# RFC 9110 §7.6.1 (Connection and the headers it names), RFC 9112 (framing), and
# the proxy-era ones clients and servers still honour.
FRAMING = frozenset({
    "connection", "content-length", "expect", "host", "keep-alive", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
OWN_PREFIX = "x-chronoflow-"


def refused(name):
    """Why a person may not set header `name`: "framing", "own", or None when they may."""
    lowered = name.lower()
    if lowered in FRAMING:
        return "framing"
    if lowered.startswith(OWN_PREFIX):
        return "own"
    return None


def outgoing(headers, *, defaults=None, own=None):
    """The headers to send: `defaults` unless `headers` name them (in any case),
    then `headers` without the ones nobody may set, then `own`, which always win.

    `headers` are a person's (or, for a call ChronoFlow makes itself, already
    built by this function: its X-ChronoFlow-* headers pass through `own`).
    """
    result = {}
    for name, value in (defaults or {}).items():
        result[name.lower()] = (name, value)
    for name, value in (headers or {}).items():
        if name.lower() not in FRAMING:
            result[name.lower()] = (name, value)
    for name, value in (own or {}).items():
        result[name.lower()] = (name, value)
    return dict(result.values())


def from_person(headers):
    """A chrono's headers as they may go out: without framing and X-ChronoFlow-* ones.
    (Saving refuses them; chronos saved before that rule still have them.)"""
    return {name: value for name, value in (headers or {}).items() if refused(name) is None}
