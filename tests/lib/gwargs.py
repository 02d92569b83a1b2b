"""The command line every gateway client of the scenarios takes: where the
gateway listens and the credentials to send (flood.py, inflight.py)."""
import argparse


def gateway_parser(description=None):
    """An ArgumentParser with --host, --port, --key and --secret; the caller
    adds its own options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    return p
