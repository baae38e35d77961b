import autocannon from 'autocannon';
const url = process.argv[2]; const K = 'bench-admin-key-0123456789abcdef0123456789';
const c = await (await fetch(url + '/admin/clients', { method: 'POST', headers: { Authorization: 'Bearer ' + K, 'content-type': 'application/json' }, body: JSON.stringify({ grant_types: ['client_credentials'], access_token_strategy: 'opaque' }) })).json();
const auth = 'Basic ' + Buffer.from(c.client_id + ':' + c.client_secret).toString('base64');
autocannon({ url: url + '/oauth2/token', method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials', connections: 32, duration: 8 }, (e, r) => console.log('opaque', Math.round(r.requests.average)));
