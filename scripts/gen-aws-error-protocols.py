"""Generate src/targets/aws/data/error-protocols.json from the installed botocore data.

Run when botocore is upgraded: `python3 scripts/gen-aws-error-protocols.py`. For each signing name,
the wire protocol each of its models' clients speak (botocore's own choice: the first of the
model's `protocols` in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS), so a denial of a request the broker
could not read is still written in the format that client parses (src/targets/aws/native-denial.ts).
S3 style and Route 53 style rest-xml differ, so `s3Style` lists the signing names whose clients
read a bare `<Error>` root.
"""
import json
import os

import botocore
from botocore.loaders import Loader
from botocore.utils import PRIORITY_ORDERED_SUPPORTED_PROTOCOLS

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'targets', 'aws', 'data', 'error-protocols.json')
# The S3 family answers `<Error>` at the root; every other rest-xml service wraps it in `<ErrorResponse>`.
S3_STYLE = ('s3', 's3-outposts', 's3express')


def main():
    by_signing = {}
    loader = Loader()
    for service in sorted(loader.list_available_services('service-2')):
        md = loader.load_service_model(service, 'service-2')['metadata']
        offered = md.get('protocols') or [md['protocol']]
        chosen = next((p for p in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS if p in offered), offered[0])
        signing = md.get('signingName') or md['endpointPrefix']
        protocols = by_signing.setdefault(signing, [])
        if chosen not in protocols:
            protocols.append(chosen)
    table = {
        'generatedFrom': f'botocore {botocore.__version__}',
        'generator': 'scripts/gen-aws-error-protocols.py',
        'counts': {p: sum(1 for v in by_signing.values() if p in v) for p in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS},
        's3Style': [s for s in S3_STYLE if s in by_signing],
        'signingNames': {k: sorted(v) for k, v in sorted(by_signing.items())},
    }
    with open(OUT, 'w') as f:
        # One signing name a line keeps a regenerated table's diff readable.
        f.write(json.dumps(table, separators=(',', ':')).replace('],"', '],\n"') + '\n')


if __name__ == '__main__':
    main()
