import { adminExec } from './global-setup.js';

export default async function globalTeardown() {
  if (process.env.REGISTRAR_TEST_DATABASE) await adminExec(`DROP DATABASE IF EXISTS ${process.env.REGISTRAR_TEST_DATABASE} WITH (FORCE)`);
}
