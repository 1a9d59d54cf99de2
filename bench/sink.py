"""The sink every system under test calls: an asyncio HTTP/1.1 server (keep-alive) in
its own process that answers `200 ok` and records, per request, when it arrived and
what it was for.

What a request is for: the path `/s/<chrono>` plus ChronoFlow's
`X-ChronoFlow-Scheduled-For` header, or `/s/<chrono>/<scheduled epoch second>` for the
peers (they have no such header). Parsing is left to the bench: the sink only keeps
raw bytes, so it stays cheap at tens of thousands of requests a second.
"""
import asyncio
import signal
import time

from fire_many import die_with_parent

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def _header(head, name):
    start = head.find(name)
    if start < 0:
        return None
    start += len(name)
    end = head.find(b"\r\n", start)
    return head[start:end if end >= 0 else len(head)].strip()


def sink_main(port, control):
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench stops us through `control`
    records = []  # (arrival, path, scheduled-for header or None, run id or None)
    connections = [0]

    class Hook(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.buffer = b""
            connections[0] += 1

        def data_received(self, data):
            buffer = self.buffer + data if self.buffer else data
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buffer[:end]
                lower = head.lower()
                length = _header(lower, b"\r\ncontent-length:")
                length = int(length) if length and length.isdigit() else 0
                if len(buffer) < end + 4 + length:
                    break
                buffer = buffer[end + 4 + length:]
                line_end = head.find(b"\r\n")
                path = head[:line_end if line_end >= 0 else len(head)].split(b" ")[1]
                records.append((time.time(), path, _header(lower, b"\r\nx-chronoflow-scheduled-for:"),
                                _header(lower, b"\r\nx-chronoflow-run-id:")))
                self.transport.write(RESPONSE)
                if b"\r\nconnection: close" in lower:
                    self.transport.close()
            self.buffer = buffer

    def on_control():
        try:
            command = control.recv()
        except EOFError:
            loop.stop()
            return
        if command == "dump":
            control.send({"records": list(records), "connections": connections[0]})
        elif command == "count":
            control.send(len(records))
        elif command == "reset":
            records.clear()
            connections[0] = 0
            control.send("ok")
        elif command == "stop":
            loop.stop()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(Hook, host="127.0.0.1", port=port, reuse_port=True, backlog=4096)
    )
    loop.add_reader(control.fileno(), on_control)
    control.send("ready")
    try:
        loop.run_forever()
    finally:
        server.close()
