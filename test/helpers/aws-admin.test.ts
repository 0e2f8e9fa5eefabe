import t from 'tap';
import { startAwsAdmin } from './aws-admin.js';

// No endpoint answers here: these commands end before any request.
const admin = startAwsAdmin('http://127.0.0.1:9', { accessKeyId: 'AKIDADMIN', secretAccessKey: 'secret' });
t.teardown(() => admin.close());

t.test('commands sent together answer in order, each with its own exit code and output', async (t) => {
  const [version, unknown, help] = await Promise.all([
    admin.run(['--version']),
    admin.run(['s3', 'ls', '--no-such-option']),
    admin.run(['dynamodb', 'list-tables', '--generate-cli-skeleton']),
  ]);
  t.equal(version.code, 0);
  t.match(version.stdout + version.stderr, /^aws-cli\/1\./);
  t.equal(unknown.code, 255);
  t.match(unknown.stderr, 'Unknown options: --no-such-option');
  t.equal(help.code, 0, help.stderr);
  t.match(JSON.parse(help.stdout), { ExclusiveStartTableName: '' });
});

t.test('a closed admin answers with a failure, never hangs', async (t) => {
  await admin.close();
  t.equal((await admin.run(['--version'])).code, 1);
});
