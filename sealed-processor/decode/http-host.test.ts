import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractHttpHost, startsWithHttpMethod } from './http-host.ts';
import { text } from './testing/packet-builders.ts';

const host = (s: string) => {
  const b = text(s);
  return extractHttpHost(b, 0, b.length);
};

test('Host header of HTTP/1.x requests, lowercased, port stripped', () => {
  assert.equal(host('GET / HTTP/1.1\r\nHost: WWW.Example.com\r\nAccept: */*\r\n\r\n'), 'www.example.com');
  assert.equal(host('POST /x HTTP/1.1\r\nUser-Agent: t\r\nhOsT:example.org:8080 \r\n\r\nbody'), 'example.org');
  assert.equal(host('CONNECT a.b:443 HTTP/1.1\r\nHost:\ta.b:443\r\n\r\n'), 'a.b');
  assert.equal(host('GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n'), '[2001:db8::1]');
  assert.equal(host('GET / HTTP/1.0\nHost: lf-only.example\n\n'), 'lf-only.example');
});

test('no method, no Host, Host after the header block, truncated or invalid values give null', () => {
  assert.equal(host('HTTP/1.1 200 OK\r\nHost: x\r\n\r\n'), null);
  assert.equal(host('get / HTTP/1.1\r\nHost: x\r\n\r\n'), null);
  assert.equal(host('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), null);
  assert.equal(host('GET / HTTP/1.1\r\nAccept: */*\r\n\r\nHost: body.example\r\n'), null);
  assert.equal(host('GET / HTTP/1.1\r\nHost: cut.exam'), null);
  assert.equal(host('GET / HTTP/1.1\r\nHost: a b\r\n\r\n'), null);
  assert.equal(host('GET / HTTP/1.1\r\nHost: a.b:8x\r\n\r\n'), null);
  assert.equal(host('GET / HTTP/1.1\r\nHost: \r\n\r\n'), null);
  assert.equal(host('GET / HTTP/1.1\r\nX-Host: no\r\n\r\n'), null);
  assert.equal(startsWithHttpMethod(text('GETX'), 0, 4), false);
  assert.equal(startsWithHttpMethod(text('OPTIONS *'), 0, 9), true);
});
