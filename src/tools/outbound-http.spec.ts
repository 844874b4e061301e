import { isPrivateAddress, outboundRequest } from 'src/tools/outbound-http';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-address',
  ])('refuses %s', (address) => expect(isPrivateAddress(address)).toBe(true));

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111'])('allows %s', (address) =>
    expect(isPrivateAddress(address)).toBe(false),
  );
});

describe('outboundRequest', () => {
  const base = { method: 'GET', timeoutMs: 1000, maxResponseBytes: 100 };

  it('refuses a private literal address before connecting', async () => {
    await expect(outboundRequest({ ...base, url: 'http://[::1]:9/x' })).rejects.toMatchObject({
      failure: 'refused',
    });
    await expect(outboundRequest({ ...base, url: 'http://10.0.0.1/x' })).rejects.toMatchObject({
      failure: 'refused',
    });
  });

  it('refuses loopback written in other notations (the URL parser normalises them)', async () => {
    for (const url of [
      'http://2130706433/x',
      'http://0x7f.1/x',
      'http://127.1/x',
      'http://[::ffff:7f00:1]/x',
    ])
      await expect(outboundRequest({ ...base, url })).rejects.toMatchObject({ failure: 'refused' });
  });

  it('refuses a name that resolves to a private address', async () => {
    await expect(outboundRequest({ ...base, url: 'http://localhost:9/x' })).rejects.toMatchObject({
      failure: 'refused',
      message: expect.stringContaining('localhost'),
    });
  });

  it('refuses other schemes', async () => {
    await expect(outboundRequest({ ...base, url: 'file:///etc/passwd' })).rejects.toMatchObject({
      failure: 'refused',
    });
  });
});
