#!/usr/bin/env python3
"""Generate src/targets/aws/data/services.json and reads.json from the installed botocore data.

Run once when botocore is upgraded: `python3 scripts/gen-aws-services.py`. The output is kept in
the tree so the broker never reads botocore at run time (the table is the broker's own, SPEC §2.1).

services.json, per SigV4 signing name (the scope's service, SPEC §2.1):
  model, protocols (the ones the broker reads, in botocore's priority order), targetPrefix and
  jsonVersion (json), apiVersion, endpointPrefix, global, operations (names only), actionMember
  (json operations whose input has a top-level `Action` member), hostPrefix (json operations with
  an `endpoint.hostPrefix`: operation -> literal prefix, e.g. Step Functions' `sync-`).
  Served: every model whose protocols include query, ec2, json or smithy-rpc-v2-cbor (targetPrefix
  is its path's service name); the two rest models the broker
  reads with their own readers (lambda: rest-json, lambda.ts; s3: rest-xml, s3.ts); and every
  other rest-json or rest-xml model, routed by rest-router.ts from rest-routes.json.
  Where several models share a signing name, one is the signing name's own (PREFER, else a non-rest
  model, else the model named like the signing name, else the newest API) and keeps its place under
  services; the others are served beside it under models (same fields, always regional), picked per
  request the way the service does (json: X-Amz-Target prefix, query: Version, rest: the path). A
  model is listed under notServed instead when a request could not tell it from another: a query
  model with another's API version (docdb and neptune are the RDS API at RDS's endpoint).

rest-routes.json, per signing name with a generically routed rest model: one row per operation,
  [operation, method, requestUri, query-bound names, host prefix or "", model] (names as sent on the
  wire, the model's locationName), the rows of every rest model of that signing name together.
  rest-router.ts compiles the rows into a trie by path segment. Where two models of one signing
  name have an operation of one name whose pinned parts (SPEC §2.1: operation, path labels, query
  literals) are the same, a certificate could not tell which model it means. Every row is kept
  when the readings agree on everything the broker binds and forwards (reading_of: the host, the
  region, the query names, the idempotency tokens, the read class, and the IAM resource where the
  path is it), since then the certificate means one thing whichever model the request is for
  (sesv2 beside pinpoint-email, opensearch beside es). Otherwise only the signing name's own
  model keeps the row (none does if neither is its own); dropped rows are counted.
  Rows of one operation name and one wire shape at one host are one request (greengrass and
  greengrassv2 name a label `ThingName` and `thingName`): one row is kept, the own model's.
  unread: per signing name, the rows dropped above (same columns), so that a request only they
  match is refused with the true reason (models behind one signing name it cannot tell apart).
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
import re
import sys

import botocore

DATA = os.path.join(os.path.dirname(botocore.__file__), 'data')
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'targets', 'aws', 'data')

READ_PROTOCOLS = ('json', 'smithy-rpc-v2-cbor', 'query', 'ec2')  # botocore PRIORITY_ORDERED_SUPPORTED_PROTOCOLS order
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


def routes_of(model, name):
    """[operation, method, requestUri, query-bound names, host prefix, model] per operation of a
    rest model, sorted by operation name."""
    rows = []
    for op_name, op in sorted(model['operations'].items()):
        query = []
        if 'input' in op:
            for member, ref in model['shapes'][op['input']['shape']].get('members', {}).items():
                if ref.get('location') == 'querystring':
                    # A map bound to the query string takes every name: kept as the empty name.
                    query.append('' if model['shapes'][ref['shape']]['type'] == 'map' else ref.get('locationName', member))
        http = op['http']
        rows.append([op_name, http['method'], http['requestUri'], sorted(query), host_prefix(model, op), name])
    return rows


def host_prefix(model, op):
    """The operation's `endpoint.hostPrefix` with each `{Member}` replaced by where the request
    carries it: `{header:<name>}` for a header-bound member (a semantic header the certificate
    pins), else `{body:<Member>}`, which the broker refuses (it would have to read the body)."""
    prefix = op.get('endpoint', {}).get('hostPrefix', '')
    members = model['shapes'][op['input']['shape']].get('members', {}) if 'input' in op else {}

    def where(match):
        ref = members.get(match.group(1), {})
        if ref.get('location') == 'header':
            return '{header:' + ref.get('locationName', match.group(1)).lower() + '}'
        return '{body:' + match.group(1) + '}'
    return re.sub(r'\{([^{}]+)\}', where, prefix)


# Signing names whose IAM resource is the request path (catalog-rest.ts: API Gateway's actions are
# the HTTP verb on the path as an ARN): two of their rows at two paths never scope alike.
PATH_SCOPED = ('apigateway',)


def idempotency_members(model, operation):
    """Where the operation's idempotency-token members go on the wire (capture marks them, SPEC §2.2)."""
    op = model['operations'][operation]
    members = model['shapes'][op['input']['shape']].get('members', {}) if 'input' in op else {}
    return tuple(sorted((ref.get('location', 'body'), ref.get('locationName', name))
                        for name, ref in members.items() if ref.get('idempotencyToken')))


def reading_of(entry, signing, own, reads):
    """What the broker binds and forwards for a routed row of `entry`'s model beyond its pinned
    parts: the upstream host (host prefix and endpoint prefix), whether the region is pinned, the
    query names the operation takes, its idempotency-token members, its read class (only the own
    model's operations are reads), and the path where the path is the IAM resource. The operation
    name, hence the IAM action and credential-vending class, is the row's pinned key already."""
    def reading(row):
        read = row[5] == own and row[0] in reads.get(signing, ())
        return (row[4] + entry['endpointPrefix'], entry['global'], tuple(row[3]),
                idempotency_members(entry['_model'], row[0]), read,
                row[2] if signing in PATH_SCOPED else None)
    return reading


def pinned_key(row):
    """What a certificate pins of a rest operation besides its body and headers (SPEC §2.1): the
    operation, the path label names (params) and the query literals (params)."""
    uri = row[2]
    path, _, literals = uri.partition('?')
    labels = sorted(seg.strip('{}+') for seg in path.split('/') if seg.startswith('{'))
    return (row[0], tuple(labels), tuple(sorted(literals.split('&'))) if literals else ())


def merged_routes(entries, own, readings):
    """The rows of every rest model in `entries`, without the rows a certificate could not tell
    from another model's (see the module comment); `readings` maps a model to its reading_of.
    Returns (rows, dropped, unread): unread are the dropped and clashing rows, for the router to
    refuse their requests with the true reason."""
    by_key, host = {}, {e['model']: e['endpointPrefix'] for e in entries}
    for e in entries:
        for row in routes_of(e['_model'], e['model']):
            by_key.setdefault(pinned_key(row), []).append(row)
    rows, gone, dropped = [], [], 0
    for same in by_key.values():
        # One request to one host (sms-voice and pinpoint-sms-voice are one API twice): one row.
        if len({(r[1], r[2], r[4] + host[r[5]]) for r in same}) == 1:
            rows.append(next((r for r in same if r[5] == own), same[0]))
            dropped += len(same) - 1
            continue
        # Readings that agree on all the broker binds and forwards are one reading: the request's
        # path picks the model, and a certificate for either admits only what it would for the other.
        if len({readings[r[5]](r) for r in same}) == 1:
            rows.extend(same)
            continue
        kept = [r for r in same if r[5] == own]
        rows.extend(kept)
        gone.extend(r for r in same if r not in kept)
        dropped += len(same) - len(kept)
    # One operation of one wire shape at one host is one request whatever its labels are called
    # (greengrass `{ThingName}` beside greengrassv2 `{thingName}`): one row, the own model's.
    one = {}
    for r in rows:
        one.setdefault((r[0], wire_shape(r), host[r[5]]), []).append(r)
    rows = [next((r for r in same if r[5] == own), same[0]) for same in one.values()]
    dropped += sum(len(same) - 1 for same in one.values())
    # A dropped row's requests must not read as another operation that kept the same method and
    # path (lex-models StartImport and lexv2-models ListImports are both POST /imports/): that
    # path is refused, never read as the operation the client did not mean.
    shadowed = {wire_shape(r) for r in gone}
    clash = [r for r in rows if wire_shape(r) in shadowed and all(g[0] != r[0] for g in gone if wire_shape(g) == wire_shape(r))]
    rows = [r for r in rows if r not in clash]
    unread = sorted(gone + clash, key=lambda r: (r[5], r[0]))
    return sorted(rows, key=lambda r: (r[5], r[0])), dropped + len(clash), unread


def wire_shape(row):
    """Method, path with every label as `{}`, and query literals: what tells requests apart."""
    path, _, literals = row[2].partition('?')
    return (row[1], re.sub(r'\{[^{}]+\}', '{}', path), literals)


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
        if 'json' in served or 'smithy-rpc-v2-cbor' in served:
            # rpc-v2-cbor paths name the service by it: /service/<targetPrefix>/operation/<name>.
            entry['targetPrefix'] = md['targetPrefix']
        if 'json' in served:
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
            prefixes = {o: op['endpoint']['hostPrefix'] for o, op in sorted(model['operations'].items())
                        if op.get('endpoint', {}).get('hostPrefix')}
            if any('{' in v for v in prefixes.values()):
                sys.exit(f'{name}: a json host prefix with a label is not served: {prefixes}')
            if prefixes:
                entry['hostPrefix'] = prefixes
        candidates.setdefault(signing, []).append(entry)

    services, models, not_served = {}, {}, {}
    for signing, entries in sorted(candidates.items()):
        # A rest model never displaces a model the broker already served for this signing name.
        pool = [e for e in entries if not e['_routed']] or entries
        chosen = next((e for e in pool if e['model'] == PREFER.get(signing)), None) \
            or next((e for e in pool if e['model'] == signing), None) \
            or max(pool, key=lambda e: e['apiVersion'])
        services[signing] = chosen
        for e in entries:
            if e is chosen:
                continue
            # The same query API at the same endpoint (docdb, neptune beside rds): Version cannot
            # tell the models apart, and the signing name's own model reads the request.
            same_api = any(o is not e and o['protocols'] == e['protocols'] == ['query'] and o['apiVersion'] == e['apiVersion']
                           for o in entries if o is chosen or o['model'] < e['model'])
            if same_api:
                not_served.setdefault(signing, []).append(e['model'])
            else:
                models.setdefault(signing, []).append(e)

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
    for signing, extra in models.items():
        for e in extra:
            # A second model is addressed at its own regional host (endpoints.json has no global
            # endpoint for any of them); a global one would need its own row in globalEndpoints.
            if any(svc.get(e['endpointPrefix'], {}).get('isRegionalized') is False
                   for svc in (p['services'] for p in endpoints['partitions'])):
                sys.exit(f'{e["model"]} beside {signing} has a global endpoint')
            e['global'] = False

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
    rest_routes, unread_routes, dropped = {}, {}, 0
    for signing, e in services.items():
        rest = [m for m in [e, *models.get(signing, [])] if m['_routed']]
        if rest:
            readings = {m['model']: reading_of(m, signing, e['model'], reads) for m in rest}
            rest_routes[signing], n, unread = merged_routes(rest, e['model'], readings)
            dropped += n
            if unread:
                unread_routes[signing] = unread
    for e in [*services.values(), *(m for extra in models.values() for m in extra)]:
        del e['_model']
        del e['_routed']

    header = {'generatedFrom': f'botocore {botocore.__version__}', 'generator': 'scripts/gen-aws-services.py'}
    with open(os.path.join(OUT, 'services.json'), 'w') as f:
        json.dump({**header, 'services': services, 'globalEndpoints': global_endpoints,
                   'partitions': partitions, 'models': models, 'notServed': not_served}, f, separators=(',', ':'))
        f.write('\n')
    with open(os.path.join(OUT, 'rest-routes.json'), 'w') as f:
        json.dump({**header, 'routes': rest_routes, 'unread': unread_routes}, f, separators=(',', ':'))
        f.write('\n')
    with open(os.path.join(OUT, 'reads.json'), 'w') as f:
        json.dump({**header, 'reads': reads, 'redactHeaders': redact_headers, 'secretOutputs': secret_outputs}, f, indent=1)
        f.write('\n')
    print(f'{len(services)} services, {sum(len(v) for v in models.values())} models beside them, '
          f'{dropped} rest operations a certificate could not tell from another model\'s, '
          f'{sum(len(v) for v in reads.values())} reads, '
          f'{sum(len(v) for v in secret_outputs.values())} not reads for their secret outputs', file=sys.stderr)


if __name__ == '__main__':
    main()
