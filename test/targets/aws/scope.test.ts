import t from 'tap';
import { code } from '../../helpers/reason.js';
import { credentialScope } from '../../../src/targets/aws/scope.js';

const SIG = 'ab'.repeat(32);
const auth = (credential: string, rest = `SignedHeaders=host;x-amz-date, Signature=${SIG}`) =>
  `AWS4-HMAC-SHA256 Credential=${credential}, ${rest}`;
const scope = (authorization: string | undefined, query = '') => {
  const headers: Record<string, string> = Object.create(null);
  if (authorization !== undefined) headers['authorization'] = authorization;
  return credentialScope({ method: 'POST', path: '/', query, headers });
};
t.test('reads service and region from the credential scope', async (t) => {
  t.same(scope(auth('AKIDEXAMPLE/20261126/us-east-1/dynamodb/aws4_request')), { service: 'dynamodb', region: 'us-east-1' });
  t.same(scope(auth('AKID/20261126/us-gov-west-1/iam/aws4_request')), { service: 'iam', region: 'us-gov-west-1' });
  t.same(scope(auth('AKID/20261126/us-isob-east-1/ec2/aws4_request')), { service: 'ec2', region: 'us-isob-east-1' });
  // The JS SDK and botocore both write `, ` between parts; a bare `,` is the same grammar.
  t.same(scope(`AWS4-HMAC-SHA256 Credential=AKID/20261126/eu-west-1/s3/aws4_request,SignedHeaders=host,Signature=${SIG}`), { service: 's3', region: 'eu-west-1' });
  t.same(scope(auth('AKID/20261126/eu-west-1/lambda/aws4_request'), 'Qualifier=1'), { service: 'lambda', region: 'eu-west-1' });
  // The one signing name with capitals (IoT Secure Tunneling).
  t.same(scope(auth('AKID/20261126/us-east-1/IoTSecuredTunneling/aws4_request')), { service: 'IoTSecuredTunneling', region: 'us-east-1' });
});

t.test('refusals', async (t) => {
  const cases: [string, () => unknown][] = [
    ['no Authorization', () => scope(undefined)],
    ['SigV2 header', () => scope('AWS AKID:c2lnbmF0dXJl')],
    ['SigV4a', () => scope(`AWS4-ECDSA-P256-SHA256 Credential=AKID/20261126/s3/aws4_request, SignedHeaders=host, Signature=${SIG}`)],
    ['lower-case algorithm', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request').toLowerCase())],
    ['scope with four parts', () => scope(auth('AKID/20261126/us-east-1/aws4_request'))],
    ['scope with six parts', () => scope(auth('AKID/20261126/us-east-1/s3/x/aws4_request'))],
    ['bad terminator', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_requesT'))],
    ['bad date', () => scope(auth('AKID/2026-11-26/us-east-1/s3/aws4_request'))],
    ['region that is a host name', () => scope(auth('AKID/20261126/evil.example.com/s3/aws4_request'))],
    ['region with a dot', () => scope(auth('AKID/20261126/us-east-1.x/s3/aws4_request'))],
    ['region with a port', () => scope(auth('AKID/20261126/us-east-1:80/s3/aws4_request'))],
    ['upper-case region', () => scope(auth('AKID/20261126/US-EAST-1/s3/aws4_request'))],
    ['empty service', () => scope(auth('AKID/20261126/us-east-1//aws4_request'))],
    ['service with a dot', () => scope(auth('AKID/20261126/us-east-1/s3.x/aws4_request'))],
    ['service with an underscore', () => scope(auth('AKID/20261126/us-east-1/s3_x/aws4_request'))],
    ['two Credential parts', () => scope(`${auth('AKID/20261126/us-east-1/s3/aws4_request')}, Credential=AKID/20261126/us-east-1/iam/aws4_request`)],
    ['missing Signature', () => scope(`AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/s3/aws4_request, SignedHeaders=host`)],
    ['unknown part', () => scope(`${auth('AKID/20261126/us-east-1/s3/aws4_request')}, Extra=1`)],
    ['short signature', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request', 'SignedHeaders=host, Signature=abc'))],
    ['presigned V4', () => scope(undefined, 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab')],
    ['presigned V4 with Authorization too', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request'), 'x-amz-signature=ab')],
    ['presigned name in another case', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request'), 'X-AMZ-CREDENTIAL=a')],
    ['presigned name percent-encoded', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request'), 'X-Amz-%53ignature=a')],
    ['security token in the query', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request'), 'X-Amz-Security-Token=t')],
    ['presigned V2', () => scope(undefined, 'AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc')],
    ['V2 Signature alone', () => scope(auth('AKID/20261126/us-east-1/s3/aws4_request'), 'Signature=abc')],
  ];
  for (const [name, fn] of cases) t.equal(code(fn), 'unparseable_request', name);
});
