#!/usr/bin/env python3
"""Generate src/targets/aws/data/idempotency-tokens.json from the installed botocore data.

SPEC §2.2: `seb op capture` marks a run-time value only where it knows one. The SDKs fill a member
the service model marks `idempotencyToken` with a fresh UUID v4 when the caller gives none (the
aws CLI's `run-instances` without `--client-token`), so capture marks those members, and no other,
as `idempotency_token`.

For each service the broker serves (the model services.json names for its signing name, and the
models it lists beside that signing name) and each
operation whose input has such a top-level member, the location the member takes on the wire, in
the location syntax of docs/run-time-values.md:
  query / ec2 protocols: `form:NAME` (ec2: queryName, else locationName or the member name with
  its first letter upper-cased; query: locationName or the member name);
  json: `/NAME` (a JSON pointer into the body);
  rest-json / rest-xml: `header:name` or `query:NAME` by the member's location, else `/NAME`
  (rest-json body) — rest-xml body members are left out (no such member is modelled today).
Run after gen-aws-services.py: `python3 scripts/gen-idempotency-tokens.py`.
"""
import json
import os

import botocore
from botocore.loaders import Loader

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
DATA = os.path.join(ROOT, 'src', 'targets', 'aws', 'data')


def location(protocol, name, member):
    loc = member.get('location')
    wire = member.get('locationName', name)
    if protocol == 'ec2':
        return 'form:' + member.get('queryName', wire[0].upper() + wire[1:])
    if protocol == 'query':
        return 'form:' + wire
    if loc == 'header':
        return 'header:' + wire.lower()
    if loc == 'querystring':
        return 'query:' + wire
    if loc is not None:
        return None
    if protocol in ('json', 'rest-json'):
        return '/' + wire.replace('~', '~0').replace('/', '~1')
    return None


def tokens_of(loader, name, api_version, protocols, only=None):
    """{operation: [location]} for one model; `only` limits it to the operations served."""
    model = loader.load_service_model(name, 'service-2', api_version)
    protocol = protocols[0] if protocols else model['metadata']['protocol']
    shapes = model['shapes']
    ops = {}
    for op_name, op in sorted(model['operations'].items()):
        shape = op.get('input', {}).get('shape')
        if not shape or (only is not None and op_name not in only):
            continue
        for member_name, member in shapes[shape].get('members', {}).items():
            if member.get('idempotencyToken'):
                at = location(protocol, member_name, member)
                if at is not None:
                    ops.setdefault(op_name, []).append(at)
    return ops


def main():
    data = json.load(open(os.path.join(DATA, 'services.json')))
    loader = Loader()
    out = {}
    for signing, info in sorted(data['services'].items()):
        ops = tokens_of(loader, info['model'], info['apiVersion'], info.get('protocols'))
        # The models beside a signing name (DynamoDB Streams beside DynamoDB...) add the operations
        # they serve; an operation name both models have keeps the signing name's own tokens.
        for beside in data.get('models', {}).get(signing, []):
            more = tokens_of(loader, beside['model'], beside['apiVersion'], beside.get('protocols'), set(beside['operations']))
            for op_name, at in more.items():
                ops.setdefault(op_name, at)
        if ops:
            out[signing] = ops
    doc = {'generatedFrom': 'botocore ' + botocore.__version__, 'generator': 'scripts/gen-idempotency-tokens.py', 'services': out}
    with open(os.path.join(DATA, 'idempotency-tokens.json'), 'w') as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write('\n')


main()
