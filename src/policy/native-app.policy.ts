import { clientMetadataError } from '../common/oauth-error.js';
import type { RegistrationPolicy } from './policies.service.js';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * `native-app`: for open registration of public native and CLI clients
 * (RFC 8252). Forces application_type native and token_endpoint_auth_method
 * none, allows only the authorization_code and refresh_token grants and the
 * code response type, and only loopback or reverse-DNS private-use redirects.
 */
export class NativeAppPolicy implements RegistrationPolicy {
  readonly name = 'native-app';

  apply(input: Record<string, unknown>): Record<string, unknown> {
    const violation = (rule: string, message: string): never => {
      throw clientMetadataError(`policy "${this.name}" rule ${rule}: ${message}`);
    };
    const out: Record<string, unknown> = { ...input, application_type: 'native', token_endpoint_auth_method: 'none' };
    out.grant_types ??= ['authorization_code', 'refresh_token'];
    out.response_types ??= ['code'];
    const grants = Array.isArray(out.grant_types) ? out.grant_types : [];
    const refused = grants.filter((g) => g !== 'authorization_code' && g !== 'refresh_token');
    if (refused.length > 0) violation('grant_types', `${refused.join(', ')} is not allowed for public native clients`);
    const responses = Array.isArray(out.response_types) ? out.response_types : [];
    if (responses.some((r) => r !== 'code')) violation('response_types', 'only code is allowed');
    for (const uri of Array.isArray(out.redirect_uris) ? out.redirect_uris : []) {
      let url: URL;
      try {
        url = new URL(String(uri));
      } catch {
        continue; // the validator reports malformed URIs
      }
      const loopbackHttp = url.protocol === 'http:' && LOOPBACK.has(url.hostname);
      const reverseDns = url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol.slice(0, -1).includes('.');
      if (!loopbackHttp && !reverseDns) {
        violation('redirect_uris', `${String(uri)} must be a loopback http URI or a reverse-DNS private-use scheme (RFC 8252 §7)`);
      }
    }
    return out;
  }
}
