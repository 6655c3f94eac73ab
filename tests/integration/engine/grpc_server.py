"""A real gRPC server (grpcio) for the grpc probe tests, run inside a test netns via nsenter.

`python -m tests.integration.engine.grpc_server PORT MODE`: MODE `health` serves
grpc.health.v1.Health with "" SERVING and "down" NOT_SERVING; MODE `bare` serves no
service at all (Unimplemented). Prints "ready" once listening; exits when stdin closes.
"""

from __future__ import annotations

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    if mode == "health":
        servicer = health.HealthServicer()
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"0.0.0.0:{port}")
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
