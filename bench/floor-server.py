"""The floor for a scrape's latency on this machine: the least any HTTP server can do, a blocking loop that answers
every request on a keep-alive connection with a fixed three-line page. Polled beside the worker while the worker's
streams decode, it shows what a request waits for a CPU here, whoever serves it.
    python3 bench/floor-server.py PORT
"""
import socket
import sys

body = b"vllm:num_requests_waiting 0\nvllm:num_requests_running 8\nvllm:kv_cache_usage_perc 0.1\n"
response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = b""
    while chunk := connection.recv(65536):
        pending += chunk
        while b"\r\n\r\n" in pending:
            _, pending = pending.split(b"\r\n\r\n", 1)
            connection.sendall(response)
    connection.close()
