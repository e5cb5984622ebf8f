"""A blocking scraper that marks each scrape in the kernel's trace (trace_marker), for bench/scrape-trace.sh: polls
URL_PATH on 127.0.0.1:PORT at RATE a second for SECONDS over one keep-alive connection; prints p50/p99.
    python3 bench/trace-poller.py PORT URL_PATH RATE SECONDS
"""
import socket
import sys
import time

port, path, rate, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
marker = open("/sys/kernel/tracing/trace_marker", "w", buffering=1)
connection = socket.create_connection(("127.0.0.1", port))
connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def scrape():
    connection.sendall(request)
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, body = received.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += connection.recv(65536)


for _ in range(3):
    scrape()
latencies = []
deadline = time.monotonic() + seconds
due = time.monotonic()
while time.monotonic() < deadline:
    due += 1 / rate
    time.sleep(max(0.0, due - time.monotonic()))
    marker.write(f"SCRAPE {len(latencies)} start\n")
    started = time.perf_counter()
    scrape()
    latencies.append((time.perf_counter() - started) * 1000)
    marker.write(f"SCRAPE {len(latencies) - 1} end {latencies[-1]:.3f}\n")
latencies.sort()
print(f"scrapes: {len(latencies)}; latency p50 {latencies[len(latencies) // 2]:.2f} ms, p99 {latencies[int(len(latencies) * 0.99)]:.2f} ms")
