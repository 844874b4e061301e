import { playgroundCsp } from 'src/playground/playground.controller';

describe('playground Content-Security-Policy', () => {
  it('allows only this origin, and no inline script or style', () => {
    const csp = playgroundCsp();
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).toContain("img-src 'self' blob:;");
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
  });

  it('counts PUBLIC_BASE_URL as this origin for images and API calls only', () => {
    const csp = playgroundCsp('https://chat.example.com');
    expect(csp).toContain("img-src 'self' https://chat.example.com blob:;");
    expect(csp).toContain("connect-src 'self' https://chat.example.com;");
    expect(csp).toContain("script-src 'self';");
  });
});
