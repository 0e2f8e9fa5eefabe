#!/usr/bin/env python3
"""Generate src/targets/aws/data/services.json and reads.json from the installed botocore data.

Run once when botocore is upgraded: `python3 scripts/gen-aws-services.py`. The output is kept in
the tree so the broker never reads botocore at run time (the table is the broker's own, SPEC §2.1).

services.json, per SigV4 signing name (the scope's service, SPEC §2.1):
  model, protocols (the ones the broker reads, in botocore's priority order), targetPrefix and
  jsonVersion (json), apiVersion, endpointPrefix, global, operations (names only), actionMember
  (json operations whose input has a top-level `Action` member).
  Served: every model whose protocols include query, ec2 or json; the two rest models the broker
  reads with their own readers (lambda: rest-json, lambda.ts; s3: rest-xml, s3.ts); and every
  other rest-json or rest-xml model, routed by rest-router.ts from rest-routes.json. Models that
  speak only smithy-rpc-v2-cbor are not served.
  Where several models share a signing name, one is served (PREFER, else a non-rest model, else the
  model named like the signing name, else the newest API); the others are listed under notServed.

rest-routes.json, per signing name of a generically routed rest model: one row per operation,
  [operation, method, requestUri, query-bound names, host prefix or ""] (names as sent on the wire,
  the model's locationName). rest-router.ts compiles the rows into a trie by path segment.
globalEndpoints: per signing name, per partition, [host, signing region] for services whose
  endpoint is not regionalised (botocore endpoints.json `isRegionalized: false`).
partitions: id, region regex and DNS suffix, for regional host names outside `aws`.

reads.json: the read allow-list (SPEC §7): operations of the modeled services whose names start
with a read prefix, minus READ_EXCLUDED (credentials, secrets, or side effects), minus every
operation whose answer can hold a secret (SPEC §7): a member the model marks `sensitive` anywhere
in the output shape graph, or a member SECRET_OUTPUTS names (presigned URLs, tokens, user data the
model does not mark). Those are listed under `secretOutputs` with the paths that hold the secret,
for review. One exception keeps a read exact without rewriting a body: when every such member is
a top-level response header (S3's KMS key id), the operation stays a read and `redactHeaders`
names the headers the broker drops from a read's answer.
"""
import gzip
import json
import os
import sys

import botocore

DATA = os.path.join(os.path.dirname(botocore.__file__), 'data')
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'targets', 'aws', 'data')

READ_PROTOCOLS = ('json', 'query', 'ec2')  # botocore PRIORITY_ORDERED_SUPPORTED_PROTOCOLS order
REST_MODELED = {'lambda': 'rest-json', 's3': 'rest-xml'}
REST_ROUTED = ('rest-json', 'rest-xml')
PREFER = {'elasticloadbalancing': 'elbv2', 'cassandra': 'keyspaces', 'kinesisanalytics': 'kinesisanalyticsv2', 'cloudhsm': 'cloudhsmv2'}
PARTITIONS = ('aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b')

READ_SERVICES = ('ec2', 'iam', 'sts', 'dynamodb', 'lambda', 'secretsmanager', 'ssm', 'kms', 'sqs',
                 'sns', 'logs', 'monitoring', 's3')
READ_PREFIXES = ('Describe', 'Get', 'List', 'Head', 'BatchGet', 'Query', 'Scan', 'Search', 'Lookup')
READ_EXTRA = {'logs': ['FilterLogEvents']}
# Name-prefix reads that return credentials, secrets or tokens, or that change state.
READ_EXCLUDED = {
    'sts': ['GetSessionToken', 'GetFederationToken', 'GetDelegatedAccessToken', 'GetWebIdentityToken'],
    'secretsmanager': ['GetSecretValue', 'BatchGetSecretValue', 'GetRandomPassword'],
    'ssm': ['GetParameter', 'GetParameters', 'GetParametersByPath', 'GetParameterHistory', 'GetAccessToken'],
    'kms': ['GetParametersForImport'],
    'ec2': ['GetPasswordData', 'GetLaunchTemplateData'],
}
# Output members that carry a secret although the model does not mark them `sensitive`, as
# `service: {operation: path}` (paths as secret_paths prints them).
SECRET_OUTPUTS = {
    'ec2': {'DescribeInstanceAttribute': '.UserData',
            'DescribeIpamExternalResourceVerificationTokens': '.IpamExternalResourceVerificationTokens[].TokenValue'},
    'lambda': {'GetFunction': '.Code.Location', 'GetLayerVersion': '.Content.Location',
               'GetLayerVersionByArn': '.Content.Location'},
    'ssm': {'GetDeployablePatchSnapshotForInstance': '.SnapshotDownloadUrl',
            'GetDocument': '.AttachmentsContent[].Url'},
}


def secret_paths(shapes, name, path, seen, out):
    """Appends to `out` the path of every `sensitive` member reachable from shape `name`, each as
    (path, response header name or None). Follows structures, lists and maps; a shape already on
    the path is not entered again (recursive shapes)."""
    shape = shapes[name]
    if shape.get('sensitive'):
        out.append((path, None))
        return
    if name in seen:
        return
    seen = seen | {name}
    kind = shape['type']
    if kind == 'structure':
        for member, ref in shape.get('members', {}).items():
            header = ref.get('locationName', member).lower() if path == '' and ref.get('location') == 'header' else None
            if ref.get('sensitive') or shapes[ref['shape']].get('sensitive'):
                out.append((f'{path}.{member}', header))
            else:
                secret_paths(shapes, ref['shape'], f'{path}.{member}', seen, out)
    elif kind == 'list':
        secret_paths(shapes, shape['member']['shape'], f'{path}[]', seen, out)
    elif kind == 'map':
        secret_paths(shapes, shape['key']['shape'], f'{path}{{key}}', seen, out)
        secret_paths(shapes, shape['value']['shape'], f'{path}{{}}', seen, out)


def output_secrets(model, service, operation):
    """[(path, header or None)] of the secrets the answer of `operation` can hold."""
    op = model['operations'][operation]
    out = []
    if 'output' in op:
        secret_paths(model['shapes'], op['output']['shape'], '', frozenset(), out)
    extra = SECRET_OUTPUTS.get(service, {}).get(operation)
    if extra:
        out.append((extra, None))
    return out


def routes_of(model):
    """[operation, method, requestUri, query-bound names, host prefix] per operation of a rest
    model, sorted by operation name."""
    rows = []
    for name, op in sorted(model['operations'].items()):
        query = []
        if 'input' in op:
            for member, ref in model['shapes'][op['input']['shape']].get('members', {}).items():
                if ref.get('location') == 'querystring':
                    # A map bound to the query string takes every name: kept as the empty name.
                    query.append('' if model['shapes'][ref['shape']]['type'] == 'map' else ref.get('locationName', member))
        http = op['http']
        rows.append([name, http['method'], http['requestUri'], sorted(query), op.get('endpoint', {}).get('hostPrefix', '')])
    return rows


def load_model(name):
    base = os.path.join(DATA, name)
    versions = sorted(v for v in os.listdir(base) if os.path.isdir(os.path.join(base, v)))
    for version in reversed(versions):
        path = os.path.join(base, version, 'service-2.json.gz')
        if os.path.exists(path):
            with gzip.open(path) as f:
                return json.load(f)
    return None


def main():
    candidates = {}
    for name in sorted(os.listdir(DATA)):
        if not os.path.isdir(os.path.join(DATA, name)):
            continue
        model = load_model(name)
        if model is None:
            continue
        md = model['metadata']
        protocols = md.get('protocols') or [md['protocol']]
        served = [p for p in READ_PROTOCOLS if p in protocols]
        if name in REST_MODELED:
            served = [REST_MODELED[name]]
        routed = not served and protocols[0] in REST_ROUTED
        if routed:
            served = [protocols[0]]
        if not served:
            continue
        signing = md.get('signingName') or md['endpointPrefix']
        entry = {'model': name, 'protocols': served, '_model': model, '_routed': routed}
        if 'json' in served:
            entry['targetPrefix'] = md['targetPrefix']
            entry['jsonVersion'] = md.get('jsonVersion', '1.0')
        entry['apiVersion'] = md['apiVersion']
        entry['endpointPrefix'] = md['endpointPrefix']
        entry['operations'] = sorted(model['operations'])
        if 'json' in served:
            # A top-level `Action` in a json body contradicts X-Amz-Target (SPEC §2.1) except where
            # the operation's input really has an `Action` member.
            with_action = sorted(o for o, op in model['operations'].items() if 'input' in op and
                                 'Action' in model['shapes'][op['input']['shape']].get('members', {}))
            if with_action:
                entry['actionMember'] = with_action
        candidates.setdefault(signing, []).append(entry)

    services, not_served = {}, {}
    for signing, entries in sorted(candidates.items()):
        # A rest model never displaces a model the broker already served for this signing name.
        pool = [e for e in entries if not e['_routed']] or entries
        chosen = next((e for e in pool if e['model'] == PREFER.get(signing)), None) \
            or next((e for e in pool if e['model'] == signing), None) \
            or max(pool, key=lambda e: e['apiVersion'])
        services[signing] = chosen
        others = [e['model'] for e in entries if e is not chosen]
        if others:
            not_served[signing] = others

    with open(os.path.join(DATA, 'endpoints.json')) as f:
        endpoints = json.load(f)
    prefix_to_signing = {}
    for signing, e in services.items():
        prefix_to_signing.setdefault(e['endpointPrefix'], signing)
    global_endpoints, partitions = {}, []
    for part in endpoints['partitions']:
        if part['partition'] not in PARTITIONS:
            continue
        partitions.append({'id': part['partition'], 'regionRegex': part['regionRegex'],
                           'dnsSuffix': part['dnsSuffix']})
        for prefix, svc in part['services'].items():
            if svc.get('isRegionalized') is not False or 'partitionEndpoint' not in svc:
                continue
            ep = svc['endpoints'].get(svc['partitionEndpoint'], {})
            host, scope = ep.get('hostname'), ep.get('credentialScope', {}).get('region')
            if not host or not scope:
                continue
            signing = prefix_to_signing.get(prefix, prefix)
            global_endpoints.setdefault(signing, {})[part['partition']] = [host, scope]
    for signing, e in services.items():
        e['global'] = signing in global_endpoints

    reads, secret_outputs, redact_headers = {}, {}, {}
    for svc in READ_SERVICES:
        model = services[svc]['_model']
        ops = services[svc]['operations']
        names = [o for o in ops if o.startswith(READ_PREFIXES)] + READ_EXTRA.get(svc, [])
        excluded = set(READ_EXCLUDED.get(svc, []))
        missing = (excluded | set(SECRET_OUTPUTS.get(svc, {}))) - set(ops)
        if missing:
            sys.exit(f'READ_EXCLUDED or SECRET_OUTPUTS name unknown operations of {svc}: {sorted(missing)}')
        kept = []
        for name in sorted(n for n in names if n not in excluded):
            secrets = output_secrets(model, svc, name)
            if not secrets:
                kept.append(name)
            elif all(header for _, header in secrets):
                kept.append(name)
                redact_headers.setdefault(svc, {})[name] = sorted(header for _, header in secrets)
            else:
                secret_outputs.setdefault(svc, {})[name] = [path for path, _ in secrets]
        reads[svc] = kept
    rest_routes = {signing: routes_of(e['_model']) for signing, e in services.items() if e['_routed']}
    for e in services.values():
        del e['_model']
        del e['_routed']

    header = {'generatedFrom': f'botocore {botocore.__version__}', 'generator': 'scripts/gen-aws-services.py'}
    with open(os.path.join(OUT, 'services.json'), 'w') as f:
        json.dump({**header, 'services': services, 'globalEndpoints': global_endpoints,
                   'partitions': partitions, 'notServed': not_served}, f, separators=(',', ':'))
        f.write('\n')
    with open(os.path.join(OUT, 'rest-routes.json'), 'w') as f:
        json.dump({**header, 'routes': rest_routes}, f, separators=(',', ':'))
        f.write('\n')
    with open(os.path.join(OUT, 'reads.json'), 'w') as f:
        json.dump({**header, 'reads': reads, 'redactHeaders': redact_headers, 'secretOutputs': secret_outputs}, f, indent=1)
        f.write('\n')
    print(f'{len(services)} services, {sum(len(v) for v in reads.values())} reads, '
          f'{sum(len(v) for v in secret_outputs.values())} not reads for their secret outputs', file=sys.stderr)


if __name__ == '__main__':
    main()
