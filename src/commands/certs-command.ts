import type { Command } from 'commander';
import { DEFAULT_CLIENT_NAME, ensureDevCerts, writeDevCerts } from '../certs.js';
import { InputError } from '../util/errors.js';

interface CertsFlags {
  out: string;
  service: string;
  namespace: string;
  clientName: string;
  days: string;
  force?: boolean;
}

/**
 * `prescale certs --out DIR`: a development CA, a serving certificate for the Service and localhost, and a
 * front-proxy client certificate, for trying the external metrics API outside a real aggregation layer.
 */
export function registerCertsCommand(program: Command): void {
  program
    .command('certs')
    .description('Write a development CA, a serving certificate (<svc>.<ns>.svc, localhost, 127.0.0.1) and a front-proxy client certificate')
    .requiredOption('--out <dir>', 'directory for ca.crt, ca.key, server.crt, server.key, client.crt, client.key')
    .option('--service <name>', 'Service name the serving certificate covers', 'prescale')
    .option('--namespace <name>', 'namespace of that Service', 'prescale')
    .option('--client-name <cn>', 'CN of the client certificate (put it in allowedNames)', DEFAULT_CLIENT_NAME)
    .option('--days <n>', 'validity in days', '365')
    .option('--force', 'replace valid certificates already in the directory')
    .action(async (f: CertsFlags) => {
      const days = Number(f.days);
      if (!Number.isInteger(days) || days < 2 || days > 3650) {
        throw new InputError(`--days must be a whole number from 2 to 3650, got ${JSON.stringify(f.days)}`);
      }
      const o = { service: f.service, namespace: f.namespace, clientName: f.clientName, validDays: days };
      const r = f.force ? { ...(await writeDevCerts(f.out, o)), created: true, reason: '--force' } : await ensureDevCerts(f.out, o);
      const verb = r.created ? `wrote new certificates (${r.reason ?? ''})` : 'certificates already present and valid; reused (--force replaces them)';
      process.stdout.write(
        `${verb} in ${r.dir}\n` +
          `  CA:      ${r.caCert}\n  serving: ${r.serverCert} ${r.serverKey}\n  client:  ${r.clientCert} ${r.clientKey} (CN ${f.clientName})\n` +
          `try: curl --cacert ${r.caCert} --cert ${r.clientCert} --key ${r.clientKey} https://127.0.0.1:6443/apis/external.metrics.k8s.io/v1beta1\n`,
      );
    });
}
