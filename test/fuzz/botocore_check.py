"""Second implementation of SigV4 for test/fuzz/sigv4-botocore.test.ts: botocore's own signer.

Reads one request the broker signed per line on stdin (JSON: method, url, headers, body_b64,
access_key, secret_key, token, region, service, s3) and writes one JSON line per request:
{"ok": bool, "expected": <botocore's Authorization>, "got": <the broker's>}.

The request is read the way an AWS endpoint reads it: the query is taken from the URL and decoded,
and only the headers the broker's Authorization names in SignedHeaders are signed (a server signs
exactly those). Then botocore's SigV4Auth (S3SigV4Auth for s3) computes the canonical request,
string to sign and signature for the same date, and its Authorization header is compared.
"""

import base64
import json
import re
import sys
from urllib.parse import unquote_to_bytes, urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGNED = re.compile(r"SignedHeaders=([^,]*)")


def decode(component):
    # Strict UTF-8, as AWS reads a percent-decoded query; the broker has refused anything else.
    return unquote_to_bytes(component).decode("utf-8")


def query_params(query):
    pairs = []
    if query == "":
        return pairs
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        pairs.append((decode(name), decode(value)))
    return pairs


def check(case):
    parts = urlsplit(case["url"])
    authorization = case["headers"]["authorization"]
    match = SIGNED.search(authorization)
    signed = set(match.group(1).split(";")) if match else set()
    headers = {name: value for name, value in case["headers"].items() if name in signed}
    request = AWSRequest(
        method=case["method"],
        url=f"{parts.scheme}://{parts.netloc}{parts.path}",
        headers=headers,
        data=base64.b64decode(case["body_b64"]),
        params=query_params(parts.query),
    )
    request.context["timestamp"] = case["headers"]["x-amz-date"]
    credentials = Credentials(case["access_key"], case["secret_key"], case["token"])
    signer_class = S3SigV4Auth if case["s3"] else SigV4Auth
    signer = signer_class(credentials, case["service"], case["region"])
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    signature = signer.signature(string_to_sign, request)
    signer._inject_signature_to_request(request, signature)
    expected = request.headers["Authorization"]
    return {"ok": expected == authorization, "expected": expected, "got": authorization, "canonical": canonical}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            answer = check(json.loads(line))
        except Exception as err:  # a request botocore cannot even read is a failure, reported as such
            answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
