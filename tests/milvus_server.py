"""A Milvus-protocol server for tests: Milvus Lite's gRPC servicer in a child process, on 127.0.0.1 only.

``python tests/milvus_server.py DATA_DIR SOCKET CERT KEY`` serves one Milvus Lite database on a plain TCP port, a
unix socket and a TLS port, prints ``{"tcp": port, "tls": port}`` on one line once it listens, and stops when its
standard input closes (so it never outlives the test that started it).
"""

import json
import sys
from concurrent import futures


def main(data_dir, socket_path, cert_path, key_path):
    import grpc
    from milvus_lite.adapter.grpc.servicer import MilvusServicer
    from milvus_lite.db import MilvusLite
    from pymilvus.grpc_gen import milvus_pb2_grpc

    db = MilvusLite(data_dir)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    tcp = server.add_insecure_port("127.0.0.1:0")
    server.add_insecure_port(f"unix:{socket_path}")
    with open(cert_path, "rb") as cert, open(key_path, "rb") as key:
        tls = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key.read(), cert.read())]))
    server.start()
    print(json.dumps({"tcp": tcp, "tls": tls}), flush=True)
    sys.stdin.read()
    server.stop(grace=1)
    db.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
