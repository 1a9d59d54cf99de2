"""Reads a curl command, as API docs print them, into a chrono's request fields.

Tokenizing is shlex's job; this module only knows curl's options. (uncurl, the
library for this, exits the process on options it does not know, such as -L,
and has not been updated since 2021.)
"""
import base64
import json
import math
import shlex

from flask_babel import gettext as _

# Options whose value is the next token, and what they mean to us.
DATA = {"-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--data-urlencode"}
VALUE_OPTIONS = DATA | {
    "-X", "--request", "-H", "--header", "-u", "--user", "-A", "--user-agent", "-e", "--referer",
    "-b", "--cookie", "--url", "--json", "-m", "--max-time",
    # understood but of no use to a chrono
    "-o", "--output", "--connect-timeout", "--retry", "-w", "--write-out", "-x", "--proxy",
    "--cacert", "--cert", "--key", "-c", "--cookie-jar", "-T", "--upload-file", "-F", "--form",
    "--resolve", "--limit-rate", "-r", "--range", "-z", "--time-cond",
}


class CurlError(ValueError):
    pass


def parse_curl(command):
    """{"method", "url", "headers", "payload", "timeout_ms"?} from a curl command line."""
    text = command.replace("\\\r\n", " ").replace("\\\n", " ").strip()
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise CurlError(_("The command has an unclosed quote.")) from None
    if tokens and tokens[0] == "curl":
        tokens = tokens[1:]
    if not tokens:
        raise CurlError(_("Paste a command that starts with curl."))

    method, url, headers, data, result = None, None, {}, [], {}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        option, inline = (token.split("=", 1) + [None])[:2] if token.startswith("--") else (token, None)
        if option in VALUE_OPTIONS:
            if inline is None:
                position += 1
                if position == len(tokens):
                    raise CurlError(_("%(option)s needs a value.", option=option))
                value = tokens[position]
            else:
                value = inline
            if option in ("-X", "--request"):
                method = value.upper()
            elif option in ("-H", "--header"):
                name, _sep, header_value = value.partition(":")
                if name.strip():
                    headers[name.strip()] = header_value.strip()
            elif option in DATA:
                data.append(value)
            elif option == "--json":
                data.append(value)
                headers.setdefault("Content-Type", "application/json")
                headers.setdefault("Accept", "application/json")
            elif option in ("-u", "--user"):
                headers["Authorization"] = "Basic " + base64.b64encode(value.encode()).decode()
            elif option in ("-A", "--user-agent"):
                headers["User-Agent"] = value
            elif option in ("-e", "--referer"):
                headers["Referer"] = value
            elif option in ("-b", "--cookie"):
                headers["Cookie"] = value
            elif option == "--url":
                url = value
            elif option in ("-m", "--max-time"):
                try:
                    seconds = float(value)
                except ValueError:
                    seconds = math.nan
                if 0 < seconds < 10**6:  # 1e400 is inf, "nan" is a float: neither is a timeout
                    result["timeout_ms"] = int(seconds * 1000)
        elif token.startswith("-") and len(token) > 1:
            pass  # a flag such as -L, -s, -k, --compressed: nothing to keep
        elif url is None:
            url = token
        position += 1

    if url is None:
        raise CurlError(_("The command has no URL."))
    if "://" not in url:
        url = "http://" + url  # as curl itself assumes
    body = "&".join(data) if data else None
    result.update(method=method or ("POST" if body is not None else "GET"), url=url, headers=headers,
                  payload=_payload(body))
    return result


def _payload(body):
    if body is None:
        return None
    if body.startswith("@"):
        raise CurlError(_("The body is read from a file (%(file)s): paste the body itself instead.", file=body))
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or too deep, or a number past 4300 digits)
        return body
