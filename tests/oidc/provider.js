// A real OpenID Connect provider (the npm package oidc-provider) for the st.login browser tests.
//
// One confidential client redirecting to the app's /oauth2callback (after sign-in and after sign-out); any login name at its development login form
// is an account (`<name>@example.test`). Its groups are read from GROUPS_FILE each time a token is issued, so a
// test that rewrites the file between two sign-ins changes what the next ID token says, as a directory would.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const { OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_GROUPS_FILE } = process.env;
const issuer = `http://127.0.0.1:${OIDC_PORT}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: OIDC_CLIENT_ID,
    client_secret: OIDC_CLIENT_SECRET,
    redirect_uris: [OIDC_REDIRECT_URI],
    post_logout_redirect_uris: [OIDC_REDIRECT_URI], // st.logout ends the provider's session too, then comes back
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  // Scope-requested claims go into the ID token itself, where st.user reads them (not only /me).
  conformIdTokenClaims: false,
  cookies: { keys: ['test-only-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        const groups = JSON.parse(readFileSync(OIDC_GROUPS_FILE, 'utf8'))[id] ?? [];
        return { sub: id, email: `${id}@example.test`, email_verified: true, groups };
      },
    };
  },
});

provider.listen(Number(OIDC_PORT), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
