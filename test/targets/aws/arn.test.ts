import t from 'tap';
import { accountOfRoleArn, arnPartition, iamLiteral, resolveArn } from '../../../src/targets/aws/arn.js';

t.test('resolveArn fills only an exact {account} account field', async (t) => {
  const cases: [string, string][] = [
    ['arn:aws:dynamodb:us-east-1:{account}:table/orders', 'arn:aws:dynamodb:us-east-1:123456789012:table/orders'],
    ['arn:aws:iam::{account}:role/svc/app', 'arn:aws:iam::123456789012:role/svc/app'],
    ['arn:aws:lambda:us-east-1:{account}:function:fn:prod', 'arn:aws:lambda:us-east-1:123456789012:function:fn:prod'],
    ['arn:aws:ec2:us-east-1::image/ami-0abcdef1234567890', 'arn:aws:ec2:us-east-1::image/ami-0abcdef1234567890'],
    ['arn:aws:s3:::bucket/{account}', 'arn:aws:s3:::bucket/{account}'],
    ['arn:aws:dynamodb:us-east-1:999999999999:table/{account}', 'arn:aws:dynamodb:us-east-1:999999999999:table/{account}'],
    ['arn:aws:dynamodb:{account}:x:table/t', 'arn:aws:dynamodb:{account}:x:table/t'],
    ['arn:aws:dynamodb:us-east-1:{account}x:table/t', 'arn:aws:dynamodb:us-east-1:{account}x:table/t'],
    ['*', '*'],
  ];
  for (const [template, want] of cases) t.equal(resolveArn(template, '123456789012'), want, template);
});

t.test('accountOfRoleArn', async (t) => {
  t.equal(accountOfRoleArn('arn:aws:iam::123456789012:role/seb-exec-s3'), '123456789012');
  t.equal(accountOfRoleArn('arn:aws-us-gov:iam::210987654321:role/path/x'), '210987654321');
  for (const bad of ['arn:aws:iam::123:role/x', 'arn:aws:iam::123456789012:user/x', 'arn:aws:sts::123456789012:role/x', '']) {
    t.throws(() => accountOfRoleArn(bad), TypeError, bad);
  }
});

t.test('arnPartition', async (t) => {
  t.equal(arnPartition('us-east-1'), 'aws');
  t.equal(arnPartition('cn-north-1'), 'aws-cn');
  t.equal(arnPartition('us-gov-west-1'), 'aws-us-gov');
  t.equal(arnPartition(null), 'aws');
});

t.test('iamLiteral escapes the characters IAM reads as wildcards or variables', async (t) => {
  const table: [string, string][] = [
    ['*', '${*}'],
    ['a?c', 'a${?}c'],
    ['${aws:username}', '${$}{aws:username}'],
    ['plain key', 'plain key'],
  ];
  for (const [name, expected] of table) t.equal(iamLiteral(name), expected, name);
});
