import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { formatListenAddress, parseListenAddress, parsePort } from './listen-address.ts';

test('listen addresses: IPv4:port and [IPv6]:port, port 0 allowed', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:2055'), { family: 4, host: '127.0.0.1', port: 2055 });
  assert.deepEqual(parseListenAddress('0.0.0.0:0'), { family: 4, host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:4739'), { family: 6, host: '::1', port: 4739 });
  assert.deepEqual(parseListenAddress('[::]:65535'), { family: 6, host: '::', port: 65535 });
  assert.equal(formatListenAddress(parseListenAddress('[2001:db8::1]:9995')), '[2001:db8::1]:9995');
});

test('each malformed address gets the code for what is wrong', () => {
  const code = (text: string) => {
    try {
      parseListenAddress(text);
    } catch (e) {
      assert.ok(e instanceof AppError);
      return e.code;
    }
    return 'parsed';
  };
  for (const bad of ['', 'localhost:2055', '1.2.3:1', '256.0.0.1:1', '01.2.3.4:1', '::1:2055', '[::1]', '[::1', '[::1]2055', '[fe80::1%eth0]:1', '[1.2.3.4]:1', '1.2.3.4']) {
    assert.equal(code(bad), ErrorCode.ListenAddressInvalid, bad);
  }
  for (const bad of ['1.2.3.4:', '1.2.3.4:65536', '1.2.3.4:-1', '1.2.3.4:2e3', '[::1]:99999', '1.2.3.4: 1']) assert.equal(code(bad), ErrorCode.PortInvalid, bad);
  assert.throws(() => parsePort('0', '--port', false), (e: unknown) => e instanceof AppError && e.code === ErrorCode.PortInvalid && /from 1 to 65535/.test(e.message));
  assert.equal(parsePort('65535', '--port', false), 65535);
});
