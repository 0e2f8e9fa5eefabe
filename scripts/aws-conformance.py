#!/usr/bin/env python3
"""Every operation of every AWS service, as botocore itself puts it on the wire (issue 13's proof).

For each operation of each service model botocore carries, builds a minimal valid input from the
input shape (required members, values that satisfy min/max/enum/pattern where it can, URI labels
that need escaping where the pattern allows), sends it through a real botocore client (its own
serializer, handlers and SigV4 signer; fake credentials; endpoint a fixed loopback URL;
inject_host_prefix off) and, instead of sending, writes the prepared request as one JSON line:

  {"service", "signingName", "endpointPrefix", "protocol", "operation", "auth", "valid",
   "labels", "hostPrefix", "method", "path", "query", "headers", "body"}    (body is base64)

or {"service", "operation", "protocol", "error"} when botocore itself cannot build the request.

  python3 scripts/aws-conformance.py                 every operation (about 18,000)
  python3 scripts/aws-conformance.py --sample 50     a fixed sample: the first 50 operations of
                                                     each protocol, ordered by sha256(service.op)
  python3 scripts/aws-conformance.py --services s3,sns
"""

import argparse
import base64
import datetime
import hashlib
import json
import re
import sys
from urllib.parse import urlsplit

import botocore
import botocore.serialize
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

ENDPOINT = "http://127.0.0.1:4566"
REGION = "us-east-1"
ACCOUNT = "123456789012"
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
# Tried in order for a string member; the first that fits length and pattern wins. A label value
# with a space (and, for a greedy label, a slash) checks that the reader decodes what botocore
# escaped; the ARN and account shapes satisfy the patterns of most identifiers.
CBOR = "smithy-rpc-v2-cbor"
# (service, operation) -> same_wire(), computed before any client exists: creating a client runs
# handlers that change the shared operation models (S3's), and this must read them as published.
SAME_WIRE = {}
PLAIN = ["seb-1", "seb1", "a", "1", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/seb", "seb@example.com", "1.0", "2026-01-02"]
LABEL = ["seb x-1", "seb x"]
GREEDY = ["seb/x y", "seb/x"]


class Captured(Exception):
    """Raised from before-send so that nothing is sent and the prepared request is kept."""

    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def fits(shape, value, whole=False):
    """Whether `value` satisfies the shape's length and pattern. botocore searches the pattern
    anywhere in the value; with `whole` the pattern must match all of it, as the services check
    it (Lambda refuses the FunctionName `seb x-1` although `x-1` matches its unanchored pattern)."""
    meta = shape.metadata
    if len(value) < meta.get("min", 0) or ("max" in meta and len(value) > meta["max"]):
        return False
    pattern = meta.get("pattern")
    if pattern is None:
        return True
    try:
        return (re.fullmatch if whole else re.search)(pattern, value) is not None
    except re.error:
        return True  # a Java-only pattern: botocore does not check it either


def string_value(shape, location, greedy, escape=True):
    if shape.enum:
        return shape.enum[0]
    spaced = (GREEDY if greedy else LABEL if location == "uri" else []) if escape else []
    # A label value with a space is used only where the service would accept it whole.
    for c in spaced:
        if fits(shape, c, whole=True):
            return c
    for c in PLAIN:
        if fits(shape, c):
            return c
    return "a" * max(1, shape.metadata.get("min", 1))


def value_for(shape, depth, location=None, escape=True):
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        return structure_value(shape, depth + 1)
    if kind == "list":
        return [value_for(shape.member, depth + 1) for _ in range(max(1, meta.get("min", 1)))]
    if kind == "map":
        return {string_value(shape.key, None, False): value_for(shape.value, depth + 1)}
    if kind == "string":
        return string_value(shape, location, False, escape)
    if kind in ("integer", "long", "short", "byte"):
        return max(1, int(meta.get("min", 1)))
    if kind in ("float", "double"):
        return float(max(1, meta.get("min", 1)))
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return WHEN
    if kind == "blob":
        return b"seb"
    return {}  # document


def structure_value(shape, depth, escape=True):
    if depth > 12:
        return {}
    members = shape.members
    if shape.metadata.get("union"):
        name = next(iter(members))
        return {name: value_for(members[name], depth)}
    out = {}
    for name, member in members.items():
        if name in shape.required_members or member.metadata.get("idempotencyToken"):
            out[name] = value_for(member, depth, member.serialization.get("location"), escape)
    return out


def label_values(op, params):
    """The URI labels' values (as given, before escaping), so the checker can find them in the reading."""
    shape = op.input_shape
    if shape is None:
        return {}
    uri = op.http.get("requestUri", "")
    out = {}
    for name, member in shape.members.items():
        if member.serialization.get("location") == "uri" and name in params:
            out[member.serialization.get("name", name)] = str(params[name])
    return out if uri else {}


def host_prefix(op, params):
    """The operation's `endpoint.hostPrefix` filled from the input (S3 Control's `{AccountId}.`):
    the prefix a client with host prefix injection on puts before the endpoint's host."""
    template = (op.endpoint or {}).get("hostPrefix", "")
    shape = op.input_shape
    if not template or shape is None:
        return template
    labels = {name: params.get(name, "") for name, m in shape.members.items() if m.serialization.get("hostLabel")}
    return template.format(**labels)


def wire_key(op):
    """Method, URI and the wire names of the required members bound outside the body."""
    shape = op.input_shape
    bound = set()
    if shape is not None:
        for name in shape.required_members:
            ser = shape.members[name].serialization
            if ser.get("location") in ("querystring", "header", "headers"):
                bound.add((ser["location"], ser.get("name", name)))
    return (op.http.get("method"), op.http.get("requestUri"), frozenset(bound))


def same_wire(model, op):
    """Other operations a minimal request of `op` is also, byte for byte (S3's deprecated
    GetBucketLifecycle beside GetBucketLifecycleConfiguration): the service cannot tell them apart."""
    if model.protocol not in ("rest-json", "rest-xml"):
        return []
    key = wire_key(op)
    return sorted(o for o in model.operation_names if o != op.name and wire_key(model.operation_model(o)) == key)


def input_for(op, escape):
    shape = op.input_shape
    if shape is None:
        return {}
    params = structure_value(shape, 0, escape)
    uri = op.http.get("requestUri", "")
    # A greedy label ({Key+}) takes a value with a slash where its pattern allows.
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        if "{" + wire + "+}" in uri and member.type_name == "string" and not member.enum:
            params[name] = string_value(member, "uri", True, escape)
    return params


def client_for(session, name, wire):
    config = Config(
        region_name=REGION,
        inject_host_prefix=False,
        retries={"max_attempts": 0, "mode": "standard"},
        parameter_validation=False,
        s3={"addressing_style": "path"},
        signature_version=None,
    )
    client = session.create_client(name, endpoint_url=ENDPOINT, aws_access_key_id="AKIDSEBCONFORMANCE", aws_secret_access_key="seb-conformance-secret", config=config)

    def stop(request, **_):
        raise Captured(request)

    client.meta.events.register_first("before-send", stop)
    if wire != client.meta.service_model.resolved_protocol:
        # botocore prefers json where a model also offers CBOR, but other SDKs (JavaScript v3,
        # for CloudWatch) send CBOR: swap in botocore's own CBOR serializer to put it on the wire.
        client._serializer = botocore.serialize.create_serializer(wire, include_validation=False)
    return client


def record(name, model, op_name, client, wire, escape=True):
    op = model.operation_model(op_name)
    base = {"service": name, "operation": op_name, "protocol": wire}
    params = input_for(op, escape)
    valid = not ParamValidator().validate(params, op.input_shape).has_errors() if op.input_shape else True
    # Before the call: botocore's s3-control handler strips `{AccountId}.` from the model it sends with.
    prefix = host_prefix(op, params)
    try:
        getattr(client, xform_name(op_name))(**params)
    except Captured as c:
        req = c.request
        url = urlsplit(req.url)
        body = req.body.read() if hasattr(req.body, "read") else req.body or b""
        body = body.encode() if isinstance(body, str) else body
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in req.headers.items()}
        return {
            **base,
            "signingName": model.signing_name,
            "endpointPrefix": model.endpoint_prefix,
            "auth": op.auth_type or (op.auth[0] if getattr(op, "auth", None) else None),
            "valid": valid,
            "labels": label_values(op, params),
            "hostPrefix": prefix,
            "sameWire": SAME_WIRE.get((name, op_name), []),
            "method": req.method,
            "path": url.path or "/",
            "query": url.query,
            "headers": headers,
            "body": base64.b64encode(body).decode(),
        }
    except ParamValidationError:
        # Client-side checks the model does not state (S3 bucket names): try once without escapes.
        if escape:
            return record(name, model, op_name, client, wire, False)
        raise
    except Exception as e:  # noqa: BLE001 -- botocore refusing its own input is data for the report
        return {**base, "error": f"{type(e).__name__}: {e}"[:300]}
    return {**base, "error": "the client returned without sending"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--services", default="")
    args = ap.parse_args()
    session = botocore.session.get_session()
    names = session.get_available_services()
    if args.services:
        names = [n for n in names if n in args.services.split(",")]
    work = []
    for name in names:
        model = session.get_service_model(name)
        # What botocore sends, and CBOR too where the model offers it (other SDKs send that).
        wires = [model.resolved_protocol]
        if CBOR in model.metadata.get("protocols", []) and CBOR not in wires:
            wires.append(CBOR)
        for op_name in model.operation_names:
            SAME_WIRE[(name, op_name)] = same_wire(model, model.operation_model(op_name))
        for wire in wires:
            for op_name in model.operation_names:
                work.append((hashlib.sha256(f"{name}.{op_name}".encode()).hexdigest(), name, model, op_name, wire))
    if args.sample:
        per = {}
        for w in sorted(work, key=lambda w: w[0]):
            per.setdefault(w[4], [])
            if len(per[w[4]]) < args.sample:
                per[w[4]].append(w)
        work = [w for ws in per.values() for w in ws]
    work.sort(key=lambda w: (w[1], w[3], w[4]))
    clients = {}
    out = sys.stdout
    for _, name, model, op_name, wire in work:
        if (name, wire) not in clients:
            clients[(name, wire)] = client_for(session, name, wire)
        out.write(json.dumps(record(name, model, op_name, clients[(name, wire)], wire), sort_keys=True) + "\n")
    out.flush()


if __name__ == "__main__":
    sys.stderr.write(f"aws-conformance: botocore {botocore.__version__}\n")
    main()
