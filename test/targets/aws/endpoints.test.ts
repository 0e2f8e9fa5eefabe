import t from 'tap';
import { resolveEndpoint } from '../../../src/targets/aws/endpoints.js';

t.test('the real AWS table', async (t) => {
  const cases: [string, string | null, string, string][] = [
    ['iam', null, 'https://iam.amazonaws.com', 'us-east-1'],
    ['iam', 'us-gov-west-1', 'https://iam.us-gov.amazonaws.com', 'us-gov-west-1'],
    ['iam', 'cn-north-1', 'https://iam.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['route53', null, 'https://route53.amazonaws.com', 'us-east-1'],
    ['cloudfront', null, 'https://cloudfront.amazonaws.com', 'us-east-1'],
    ['sts', 'eu-west-1', 'https://sts.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['s3', 'us-east-1', 'https://s3.us-east-1.amazonaws.com', 'us-east-1'],
    ['s3', 'eu-central-1', 'https://s3.eu-central-1.amazonaws.com', 'eu-central-1'],
    ['dynamodb', 'ap-south-1', 'https://dynamodb.ap-south-1.amazonaws.com', 'ap-south-1'],
    ['dynamodb', 'cn-northwest-1', 'https://dynamodb.cn-northwest-1.amazonaws.com.cn', 'cn-northwest-1'],
    ['monitoring', 'us-west-2', 'https://monitoring.us-west-2.amazonaws.com', 'us-west-2'],
    // Signing name and endpoint prefix differ: the host uses the prefix.
    ['execute-api', 'us-east-1', 'https://execute-api.us-east-1.amazonaws.com', 'us-east-1'],
    ['cognito-identity', 'eu-west-1', 'https://cognito-identity.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['sagemaker', 'us-east-1', 'https://api.sagemaker.us-east-1.amazonaws.com', 'us-east-1'],
    ['lambda', 'us-east-1', 'https://lambda.us-east-1.amazonaws.com', 'us-east-1'],
  ];
  for (const [service, region, origin, signingRegion] of cases) {
    t.same(resolveEndpoint(service, region, {}), { origin, signingRegion, signingService: service }, `${service} ${region}`);
  }
});

t.test('overrides win, per service or default', async (t) => {
  const overrides = { s3: 'http://127.0.0.1:5000', default: 'http://127.0.0.1:5001' };
  t.same(resolveEndpoint('s3', 'eu-west-1', overrides), { origin: 'http://127.0.0.1:5000', signingRegion: 'eu-west-1', signingService: 's3' });
  t.same(resolveEndpoint('iam', null, overrides), { origin: 'http://127.0.0.1:5001', signingRegion: 'us-east-1', signingService: 'iam' });
  t.same(resolveEndpoint('iam', null, {}), { origin: 'https://iam.amazonaws.com', signingRegion: 'us-east-1', signingService: 'iam' }, 'no stale cache across override tables');
  t.equal(resolveEndpoint('s3', 'eu-west-1', overrides), resolveEndpoint('s3', 'eu-west-1', overrides), 'cached');
});

t.test('a regional service without a region is a programming error', async (t) => {
  t.throws(() => resolveEndpoint('dynamodb', null, {}), TypeError);
});
