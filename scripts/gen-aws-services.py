#!/usr/bin/env python3
"""Generate src/targets/aws/data/services.json and reads.json from the installed botocore data.

Run once when botocore is upgraded: `python3 scripts/gen-aws-services.py`. The output is kept in
the tree so the broker never reads botocore at run time (the table is the broker's own, SPEC §2.1).

services.json, per SigV4 signing name (the scope's service, SPEC §2.1):
  model, protocols (the ones the broker reads, in botocore's priority order), targetPrefix and
  jsonVersion (json), apiVersion, endpointPrefix, global, operations (names only), actionMember
  (json operations whose input has a top-level `Action` member).
  Served: every model whose protocols include query, ec2 or json; plus the two rest models the
  broker reads itself (lambda: rest-json, routes in lambda.ts; s3: rest-xml, s3.ts). Models that
  speak only smithy-rpc-v2-cbor or another rest protocol are not served.
  Where several models share a signing name, one is served (PREFER, else the model named like the
  signing name, else the newest API); the others are listed under notServed.
globalEndpoints: per signing name, per partition, [host, signing region] for services whose
  endpoint is not regionalised (botocore endpoints.json `isRegionalized: false`).
partitions: id, region regex and DNS suffix, for regional host names outside `aws`.

reads.json: the read allow-list (SPEC §7): operations of the modeled services whose names start
with a read prefix, minus READ_EXCLUDED (credentials, secrets, or side effects).
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
        if not served:
            continue
        signing = md.get('signingName') or md['endpointPrefix']
        entry = {'model': name, 'protocols': served}
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
        chosen = next((e for e in entries if e['model'] == PREFER.get(signing)), None) \
            or next((e for e in entries if e['model'] == signing), None) \
            or max(entries, key=lambda e: e['apiVersion'])
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

    reads = {}
    for svc in READ_SERVICES:
        ops = services[svc]['operations']
        names = [o for o in ops if o.startswith(READ_PREFIXES)] + READ_EXTRA.get(svc, [])
        excluded = set(READ_EXCLUDED.get(svc, []))
        missing = excluded - set(ops)
        if missing:
            sys.exit(f'READ_EXCLUDED names unknown operations of {svc}: {sorted(missing)}')
        reads[svc] = sorted(n for n in names if n not in excluded)

    header = {'generatedFrom': f'botocore {botocore.__version__}', 'generator': 'scripts/gen-aws-services.py'}
    with open(os.path.join(OUT, 'services.json'), 'w') as f:
        json.dump({**header, 'services': services, 'globalEndpoints': global_endpoints,
                   'partitions': partitions, 'notServed': not_served}, f, separators=(',', ':'))
        f.write('\n')
    with open(os.path.join(OUT, 'reads.json'), 'w') as f:
        json.dump({**header, 'reads': reads}, f, indent=1)
        f.write('\n')
    print(f'{len(services)} services, {sum(len(v) for v in reads.values())} reads', file=sys.stderr)


if __name__ == '__main__':
    main()
